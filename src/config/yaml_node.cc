#include "config/yaml_node.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

#include "config/config_error.h"
#include "config/scalars.h"

namespace ballast::config {
namespace {

// yaml-cpp's tags: "?" for a plain scalar or an untagged collection, "!" for a quoted or block
// scalar. Anything else was written explicitly (`!!str`, `!custom`).
constexpr std::string_view kPlainTag = "?";
constexpr std::string_view kQuotedTag = "!";

std::string position_of(const YAML::Mark& mark) {
  return std::to_string(std::max(mark.line, 0) + 1) + ":" +
         std::to_string(std::max(mark.column, 0) + 1);
}

std::string located(const Document& document, const YAML::Mark& mark, const std::string& path,
                    const std::string& problem) {
  return located_message(document.source(), std::max(mark.line, 0) + 1,
                         std::max(mark.column, 0) + 1, path.empty() ? "(top level)" : path,
                         problem);
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// Levenshtein distance, for "did you mean". Keys are short; quadratic is fine.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(std::span<const std::string_view> names) {
  std::string joined;
  for (const std::string_view name : names) {
    joined += joined.empty() ? "" : ", ";
    joined += name;
  }
  return joined;
}

// `parent.key`; an odd key (only ever an unknown one) is shown as excerpt() shows values.
std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? excerpt(key) : parent + "." + excerpt(key);
}

// "between 1 and 65535", or "at least 1" when the maximum is only the type's (4294967295 and
// more tells nobody anything).
std::string range_text(uint64_t min, uint64_t max) {
  if (max >= std::numeric_limits<uint32_t>::max()) {
    return "at least " + std::to_string(min);
  }
  return "between " + std::to_string(min) + " and " + std::to_string(max);
}

// The shortest text that reads back as `value`: 0.5, not 0.500000.
std::string shortest(double value) {
  std::array<char, 32> text{};
  const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} ? std::string(text.data(), end) : std::to_string(value);
}

std::string unknown_key_problem(std::string_view key, std::span<const std::string_view> allowed) {
  // Keys are short; a long one is no typo of any, and is not worth a quadratic comparison.
  constexpr size_t kLongestTypo = 64;
  std::string problem = "unknown key";
  std::string_view closest;
  size_t closest_distance = 3;  // suggest only a near miss: a typo, not another word
  for (const std::string_view candidate : key.size() > kLongestTypo ? allowed.first(0) : allowed) {
    const size_t distance = edit_distance(key, candidate);
    if (distance < closest_distance) {
      closest = candidate;
      closest_distance = distance;
    }
  }
  if (!closest.empty()) {
    problem += " (did you mean " + std::string(closest) + "?)";
  }
  return problem + "; allowed here: " + join(allowed);
}

}  // namespace

void Document::charge(uint64_t count, const Node& at) {
  if (count > nodes_left_) {
    at.fail(
        "the document expands to more nodes than its size allows (aliases repeating large "
        "blocks?)");
  }
  nodes_left_ -= count;
}

Node::Node(YAML::Node yaml, std::string path, YAML::Mark key_mark, Document& document)
    : yaml_(std::move(yaml)),
      path_(std::move(path)),
      key_mark_(key_mark),
      mark_(yaml_.IsNull() || yaml_.Mark().is_null() ? key_mark : yaml_.Mark()),
      document_(&document) {}

Node Node::absent(std::string_view relative_path) const {
  return Node(YAML::Node(), join_path(path_, relative_path), key_mark_, *document_);
}

bool Node::is_integer() const {
  return yaml_.IsScalar() && yaml_.Tag() == kPlainTag && parse_decimal(yaml_.Scalar()).has_value();
}

std::string Node::position() const {
  return position_of(mark_);
}

FileRef Node::as_file() const {
  FileRef file;
  file.path = as_string();
  if (file.path.empty()) {
    fail("expected a file path");
  }
  const std::string& source = document_->source();
  const size_t slash = source.rfind('/');
  if (file.path.front() != '/' && slash != std::string::npos) {
    file.path = source.substr(0, slash + 1) + file.path;
  }
  file.where = where();
  return file;
}

std::string Node::where() const {
  std::string text = located(*document_, mark_, path_, "");
  text.resize(text.size() - 2);  // the ": " before the (empty) problem
  return text;
}

void Node::fail(const std::string& problem) const {
  throw ConfigError(located(*document_, mark_, path_, problem));
}

void Node::warn(const std::string& problem) const {
  document_->add_warning(located(*document_, mark_, path_, problem));
}

std::string Node::describe() const {
  if (yaml_.IsNull()) {
    return "null";
  }
  if (yaml_.IsMap()) {
    return "a map";
  }
  if (yaml_.IsSequence()) {
    return "a list";
  }
  if (yaml_.Tag() == kQuotedTag) {
    return "the string " + quoted_excerpt(yaml_.Scalar());
  }
  return quoted_excerpt(yaml_.Scalar());
}

const std::string& Node::scalar(std::string_view expected, bool quoted_ok) const {
  if (!yaml_.IsScalar()) {
    fail("expected " + std::string(expected) + ", got " + describe());
  }
  const std::string& tag = yaml_.Tag();
  if (tag == kQuotedTag && !quoted_ok) {
    fail("expected " + std::string(expected) + ", got " + describe() + "; remove the quotes");
  }
  if (tag != kPlainTag && tag != kQuotedTag) {
    fail("YAML tags (" + excerpt(tag) + ") are not supported");
  }
  return yaml_.Scalar();
}

std::string Node::as_string() const {
  return scalar("a string", true);
}

std::string Node::as_name(std::string_view what) const {
  std::string name = as_string();
  if (!is_name(name)) {
    fail("a " + std::string(what) + " name is 1-64 letters, digits, '-' and '_'; got " +
         describe());
  }
  return name;
}

bool Node::as_bool() const {
  const std::string& text = scalar("true or false", false);
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  fail("expected true or false, got " + describe());
}

uint64_t Node::as_uint64(uint64_t min, uint64_t max) const {
  const std::string& text = scalar("an integer", false);
  const bool negative = text.size() > 1 && text.front() == '-';
  const std::string_view digits = negative ? std::string_view(text).substr(1) : text;
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!all_digits) {
    fail("expected an integer, got " + describe());
  }
  const std::optional<uint64_t> value = negative ? std::nullopt : parse_decimal(digits);
  if (!value || *value < min || *value > max) {
    fail("must be " + range_text(min, max) + ", got " + excerpt(text));
  }
  return *value;
}

double Node::as_double(double min, double max) const {
  const std::string& text = scalar("a number", false);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::invalid_argument || end != text.data() + text.size()) {
    fail("expected a number, got " + describe());
  }
  if (error != std::errc{} || !std::isfinite(value) || value < min || value > max) {
    fail("must be between " + shortest(min) + " and " + shortest(max) + ", got " + excerpt(text));
  }
  return value;
}

uint64_t Node::as_duration_ms() const {
  const Parsed<uint64_t> parsed = parse_duration_ms(scalar("a duration", true));
  if (!parsed.value) {
    fail(parsed.error);
  }
  return *parsed.value;
}

uint64_t Node::as_positive_duration_ms() const {
  const uint64_t duration_ms = as_duration_ms();
  if (duration_ms == 0) {
    fail("must be longer than 0");
  }
  return duration_ms;
}

size_t Node::choose(std::span<const std::string_view> names, bool ignore_case) const {
  const std::string& text = scalar("one of " + join(names), true);
  for (size_t i = 0; i < names.size(); ++i) {
    if (ignore_case ? equal_ignoring_case(text, names[i]) : text == names[i]) {
      return i;
    }
  }
  fail("expected one of " + join(names) + "; got " + describe());
}

std::vector<YamlEntry> Node::entries() const {
  if (yaml_.IsNull()) {
    return {};
  }
  if (!yaml_.IsMap()) {
    fail("expected a map of settings, got " + describe());
  }
  if (yaml_.Tag() != kPlainTag) {
    fail("YAML tags (" + excerpt(yaml_.Tag()) + ") are not supported");
  }
  document_->charge(yaml_.size(), *this);
  std::vector<YamlEntry> entries;
  entries.reserve(yaml_.size());
  std::unordered_map<std::string, YAML::Mark> first_marks;
  for (const auto& pair : yaml_) {
    const YAML::Node key = pair.first;  // a copy: yaml-cpp's iterators yield temporaries
    const Node key_node(key, path_, key.Mark(), *document_);
    if (!key.IsScalar() || (key.Tag() != kPlainTag && key.Tag() != kQuotedTag)) {
      key_node.fail("a key must be plain text, not " + key_node.describe());
    }
    const auto [first, inserted] = first_marks.emplace(key.Scalar(), key.Mark());
    if (!inserted) {
      Node(key, join_path(path_, key.Scalar()), key.Mark(), *document_)
          .fail("duplicate key; first at " + position_of(first->second));
    }
    entries.push_back(YamlEntry{key, pair.second});
  }
  return entries;
}

MapView Node::as_map(std::span<const std::string_view> allowed) const {
  MapView map(*this, allowed);
  for (YamlEntry& entry : entries()) {
    const std::string& key = entry.key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Node(entry.key, join_path(path_, key), entry.key.Mark(), *document_)
          .fail(unknown_key_problem(key, allowed));
    }
    map.entries_.emplace(key, std::move(entry));
  }
  return map;
}

std::vector<std::pair<Node, Node>> Node::as_named_map() const {
  std::vector<std::pair<Node, Node>> pairs;
  for (const YamlEntry& entry : entries()) {
    const std::string path = join_path(path_, entry.key.Scalar());
    pairs.emplace_back(Node(entry.key, path, entry.key.Mark(), *document_),
                       Node(entry.value, path, entry.key.Mark(), *document_));
  }
  return pairs;
}

std::vector<Node> Node::as_list() const {
  if (!yaml_.IsSequence()) {
    fail("expected a list, got " + describe());
  }
  if (yaml_.Tag() != kPlainTag) {
    fail("YAML tags (" + excerpt(yaml_.Tag()) + ") are not supported");
  }
  document_->charge(yaml_.size(), *this);
  std::vector<Node> items;
  items.reserve(yaml_.size());
  for (const YAML::Node& item : yaml_) {
    const YAML::Mark mark = item.IsNull() ? mark_ : item.Mark();
    items.emplace_back(item, path_ + "[" + std::to_string(items.size()) + "]", mark, *document_);
  }
  return items;
}

void Node::check_count(size_t count, size_t max, std::string_view what) const {
  if (count > max) {
    fail("at most " + std::to_string(max) + " " + std::string(what) +
         " (a limit, see Limits in "
         "docs/config.md), got " +
         std::to_string(count));
  }
}

std::optional<Node> MapView::find(std::string_view key) const {
  assert(std::find(allowed_.begin(), allowed_.end(), key) != allowed_.end());
  const auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return Node(it->second.value, join_path(node_.path_, key), it->second.key.Mark(),
              *node_.document_);
}

Node MapView::get(std::string_view key) const {
  std::optional<Node> value = find(key);
  return value ? *value : node_.absent(key);
}

Node MapView::require(std::string_view key, const std::string& hint) const {
  std::optional<Node> value = find(key);
  if (!value) {
    node_.absent(key).fail("missing; " + hint);
  }
  return *value;
}

}  // namespace ballast::config
