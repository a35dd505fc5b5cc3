#pragma once
// A route's changes to the heads it passes on (nginx's proxy_set_header / add_header /
// proxy_hide_header, HAProxy's http-request / http-response set-header, del-header): fields
// removed, set (replacing any of the name) and added, with values that may name what the
// request carries — ${client_ip}, ${request_id}, ${route}, ${scheme}; in a request (and a
// redirect) also ${host} and ${path}; in a response ${server}, the server that answered.
//
// Values are parsed once, at configuration (ValueTemplate::parse); written per request straight
// into the head being serialized (no allocation). Every variable's value is already a valid
// field value (an address, a request id ballast made or checked, a configured name, a Host and a
// target the parser accepted), and literals may not hold CR, LF or NUL, so nothing written can
// split a head.
//
// Threading: immutable once configured; shared by every worker through the configuration.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::http {

class SpanWriter;

// Fields in each of a route's set, add and remove lists at most.
inline constexpr size_t kMaxRuleFields = 32;

// What the variables stand for in one request; those a context lacks are empty.
struct TemplateValues {
  std::string_view client_ip;
  std::string_view request_id;
  std::string_view route;
  std::string_view host;
  std::string_view path;  // the request target as sent on: path and query
  std::string_view scheme;
  std::string_view server;  // responses only: the server that answered ("10.0.0.7:8080")
};

enum class TemplateVariable : uint8_t { client_ip, request_id, route, host, path, scheme, server };

class ValueTemplate {
 public:
  // The text of a value with ${name} variables; nullopt and `error` set when a variable is
  // unknown or unclosed, or the text holds CR, LF or NUL. `response`: a response's value, which
  // may name ${server} but not ${host} or ${path} (the request's head is gone by then).
  static std::optional<ValueTemplate> parse(std::string_view text, bool response,
                                            std::string& error);

  // Appends the value with `values` put in.
  void write(const TemplateValues& values, SpanWriter& writer) const noexcept;
  // Writes it into `out`, which length() must fit.
  void write(const TemplateValues& values, std::span<char> out) const noexcept;
  // The value's length with `values` put in.
  size_t length(const TemplateValues& values) const noexcept;
  bool uses(TemplateVariable variable) const noexcept;

  bool operator==(const ValueTemplate&) const = default;

 private:
  struct Piece {
    std::string literal;  // when no variable
    std::optional<TemplateVariable> variable;
    bool operator==(const Piece&) const = default;
  };
  std::vector<Piece> pieces_;
};

struct HeaderChange {
  std::string name;  // as written in the configuration (its case is sent)
  ValueTemplate value;
  bool operator==(const HeaderChange&) const = default;
};

struct HeaderRules {
  std::vector<std::string> remove;  // lowercase names
  std::vector<HeaderChange> set;    // any field of the name is left out, then this one written
  std::vector<HeaderChange> add;    // written after the fields passed on

  bool empty() const noexcept { return remove.empty() && set.empty() && add.empty(); }
  // Whether a field of this name (any case) is left out of the head passed on: removed, or set.
  bool drops(std::string_view name) const noexcept;
  // Writes the set and add fields, "Name: value" CRLF each.
  void write_fields(const TemplateValues& values, SpanWriter& writer) const noexcept;
  // The bytes write_fields() writes.
  size_t fields_length(const TemplateValues& values) const noexcept;

  bool operator==(const HeaderRules&) const = default;
};

}  // namespace ballast::http
