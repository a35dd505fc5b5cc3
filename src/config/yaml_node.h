#pragma once
// A walk over a parsed YAML document that knows where it is. Every Node carries its dotted path
// (`clusters.api.servers[1].port`) and its place in the file, and its typed readers throw a
// located ConfigError rather than yaml-cpp's conversions, which accept too much (`yes`, `0x1F`)
// and say too little. A map is opened with the keys its block takes, so an unknown key (a typo)
// is reported first, where it is, with a suggestion and the allowed keys, rather than as the
// missing or defaulted setting it was meant to be.
//
// Untrusted input: aliases (`*name`) let a small document name one subtree many times. Every map
// entry and list item visited is charged to a budget the size of the input in bytes (plain YAML
// spends at least two bytes per entry), so a walk stays linear in the input however aliases nest.
//
// Threading: one document, one thread, one parse.

#include <yaml-cpp/yaml.h>

#include <array>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/file_ref.h"

namespace ballast::config {

class Node;

// What one parse shares: the file name for messages, the node budget, collected warnings.
class Document {
 public:
  Document(std::string source, uint64_t node_budget)
      : source_(std::move(source)), nodes_left_(node_budget) {}

  const std::string& source() const noexcept { return source_; }

  // Charges `count` visited nodes to the budget; throws at `at` once it is spent.
  void charge(uint64_t count, const Node& at);

  void add_warning(std::string message) { warnings_.push_back(std::move(message)); }
  std::vector<std::string> take_warnings() { return std::move(warnings_); }

 private:
  std::string source_;
  uint64_t nodes_left_;
  std::vector<std::string> warnings_;
};

// A name as the configuration spells it, and the value it stands for.
template <typename E>
struct Named {
  std::string_view name;
  E value;
};

class MapView;

struct YamlEntry {
  YAML::Node key;
  YAML::Node value;
};

class Node {
 public:
  // key_mark: where the key naming this node is (the node itself for list items and the root);
  // errors about a missing or null value point there.
  Node(YAML::Node yaml, std::string path, YAML::Mark key_mark, Document& document);

  const std::string& path() const noexcept { return path_; }
  // "LINE:COL", counted from 1, for messages that point at a second place.
  std::string position() const;
  // "FILE:LINE:COL: path", for an error found after loading (a file that does not open).
  std::string where() const;
  bool is_null() const { return yaml_.IsNull(); }
  // An unquoted scalar of decimal digits: what as_uint() reads when in range.
  bool is_integer() const;

  // A null Node for a key that is not written, `path.relative_path`, placed at this node's key:
  // where a default that turns out to conflict with something is reported.
  Node absent(std::string_view relative_path) const;

  [[noreturn]] void fail(const std::string& problem) const;
  // How the value reads in a message: "text", the string "text", a map, a list, null.
  std::string describe() const;
  void warn(const std::string& problem) const;

  std::string as_string() const;  // any scalar, quoted or plain; never null
  // A file's path: relative ones are taken from the configuration file's folder. Not checked
  // here; `where` (FILE:LINE:COL: key) is for the errors found when the file is loaded.
  FileRef as_file() const;
  // A name for a cluster, listener or region (see is_name()); `what` says which, for the error.
  std::string as_name(std::string_view what) const;
  bool as_bool() const;  // true or false (also True, TRUE, False, FALSE); not quoted

  // A plain decimal integer in [min, max].
  template <std::unsigned_integral T>
  T as_uint(T min = 0, T max = std::numeric_limits<T>::max()) const {
    return static_cast<T>(as_uint64(min, max));
  }
  uint32_t as_percent(uint32_t min) const { return as_uint<uint32_t>(min, 100); }
  double as_double(double min, double max) const;  // a plain number in [min, max]
  uint64_t as_duration_ms() const;                 // `250ms`, `5s`, `2m`, `1h`; 0 allowed
  uint64_t as_positive_duration_ms() const;

  // One of `names`; ignore_case compares ASCII letters without case.
  template <typename E, size_t N>
  E as_enum(const std::array<Named<E>, N>& names, bool ignore_case = false) const {
    std::array<std::string_view, N> spellings;
    for (size_t i = 0; i < N; ++i) {
      spellings[i] = names[i].name;
    }
    return names[choose(spellings, ignore_case)].value;
  }
  // The index in `names` of this node's text; fails listing every name.
  size_t choose(std::span<const std::string_view> names, bool ignore_case) const;

  // A map whose keys must be among `allowed`. Null reads as an empty map, so `health_check:`
  // alone means "on, with defaults".
  MapView as_map(std::span<const std::string_view> allowed) const;
  // A map whose keys are names (clusters, services): (key, value) pairs in document order. The
  // key's Node reads the name; both carry the path `parent.name`.
  std::vector<std::pair<Node, Node>> as_named_map() const;
  std::vector<Node> as_list() const;
  // Fails unless `count` (of this list's or map's `what`, such as "servers") is at most `max`:
  // the limits on counts that size memory (config.h, docs/config.md "Limits").
  void check_count(size_t count, size_t max, std::string_view what) const;

 private:
  friend class MapView;

  uint64_t as_uint64(uint64_t min, uint64_t max) const;
  // The pairs of a map in document order, after checking that every key is text and unique.
  std::vector<YamlEntry> entries() const;
  // Fails unless this is a scalar that is plain (unquoted) or, when quoted_ok, quoted.
  const std::string& scalar(std::string_view expected, bool quoted_ok) const;

  YAML::Node yaml_;
  std::string path_;
  YAML::Mark key_mark_;
  YAML::Mark mark_;  // the value's own position, or key_mark_ when it has none (null)
  Document* document_;
};

// The entries of one YAML map, all among the keys it was opened with.
class MapView {
 public:
  // The value under `key`, which must be one of the allowed keys.
  std::optional<Node> find(std::string_view key) const;
  // As find(), but a missing key reads as a null Node (see Node::absent()).
  Node get(std::string_view key) const;
  // As find(), but a missing key is an error; `hint` says what to write.
  Node require(std::string_view key, const std::string& hint) const;

  size_t size() const noexcept { return entries_.size(); }
  const Node& node() const noexcept { return node_; }

 private:
  friend class Node;

  MapView(Node node, std::span<const std::string_view> allowed)
      : node_(std::move(node)), allowed_(allowed) {}

  Node node_;
  std::span<const std::string_view> allowed_;
  std::unordered_map<std::string, YamlEntry> entries_;
};

}  // namespace ballast::config
