#include "http/header_rules.h"

#include <algorithm>
#include <array>

#include "http/span_writer.h"

namespace ballast::http {
namespace {

struct NamedVariable {
  std::string_view name;
  TemplateVariable variable;
};

constexpr std::array<NamedVariable, 7> kVariables = {{
    {"client_ip", TemplateVariable::client_ip},
    {"request_id", TemplateVariable::request_id},
    {"route", TemplateVariable::route},
    {"host", TemplateVariable::host},
    {"path", TemplateVariable::path},
    {"scheme", TemplateVariable::scheme},
    {"server", TemplateVariable::server},
}};

std::string_view value_of(TemplateVariable variable, const TemplateValues& values) noexcept {
  switch (variable) {
    case TemplateVariable::client_ip:
      return values.client_ip;
    case TemplateVariable::request_id:
      return values.request_id;
    case TemplateVariable::route:
      return values.route;
    case TemplateVariable::host:
      return values.host;
    case TemplateVariable::path:
      return values.path;
    case TemplateVariable::scheme:
      return values.scheme;
    case TemplateVariable::server:
      return values.server;
  }
  return {};
}

bool allowed(TemplateVariable variable, bool response) noexcept {
  switch (variable) {
    case TemplateVariable::server:
      return response;
    case TemplateVariable::host:
    case TemplateVariable::path:
      return !response;
    default:
      return true;
  }
}

bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

}  // namespace

std::optional<ValueTemplate> ValueTemplate::parse(std::string_view text, bool response,
                                                  std::string& error) {
  if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    error = "a value may not hold CR, LF or NUL";
    return std::nullopt;
  }
  ValueTemplate result;
  while (!text.empty()) {
    const size_t open = text.find("${");
    if (open != 0) {
      result.pieces_.push_back({std::string(text.substr(0, open)), std::nullopt});
      if (open == std::string_view::npos) {
        break;
      }
      text.remove_prefix(open);
    }
    const size_t close = text.find('}');
    if (close == std::string_view::npos) {
      error = "unclosed ${ in \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    const std::string_view name = text.substr(2, close - 2);
    const auto found =
        std::find_if(kVariables.begin(), kVariables.end(),
                     [name](const NamedVariable& known) { return known.name == name; });
    if (found == kVariables.end() || !allowed(found->variable, response)) {
      error = "unknown variable ${" + std::string(name) + "}; known here: ${client_ip}, " +
              "${request_id}, ${route}, ${scheme}, " +
              (response ? "${server}" : "${host}, ${path}");
      return std::nullopt;
    }
    result.pieces_.push_back({{}, found->variable});
    text.remove_prefix(close + 1);
  }
  return result;
}

void ValueTemplate::write(const TemplateValues& values, SpanWriter& writer) const noexcept {
  for (const Piece& piece : pieces_) {
    writer.put(piece.variable ? value_of(*piece.variable, values) : piece.literal);
  }
}

void ValueTemplate::write(const TemplateValues& values, std::span<char> out) const noexcept {
  SpanWriter writer(out);
  write(values, writer);
}

size_t ValueTemplate::length(const TemplateValues& values) const noexcept {
  size_t total = 0;
  for (const Piece& piece : pieces_) {
    total += piece.variable ? value_of(*piece.variable, values).size() : piece.literal.size();
  }
  return total;
}

bool ValueTemplate::uses(TemplateVariable variable) const noexcept {
  return std::any_of(pieces_.begin(), pieces_.end(),
                     [variable](const Piece& piece) { return piece.variable == variable; });
}

bool HeaderRules::drops(std::string_view name) const noexcept {
  return std::any_of(
             remove.begin(), remove.end(),
             [name](const std::string& removed) { return equal_ignoring_case(removed, name); }) ||
         std::any_of(set.begin(), set.end(), [name](const HeaderChange& change) {
           return equal_ignoring_case(change.name, name);
         });
}

void HeaderRules::write_fields(const TemplateValues& values, SpanWriter& writer) const noexcept {
  for (const std::vector<HeaderChange>* changes : {&set, &add}) {
    for (const HeaderChange& change : *changes) {
      writer.put(change.name);
      writer.put(": ");
      change.value.write(values, writer);
      writer.put("\r\n");
    }
  }
}

size_t HeaderRules::fields_length(const TemplateValues& values) const noexcept {
  size_t total = 0;
  for (const std::vector<HeaderChange>* changes : {&set, &add}) {
    for (const HeaderChange& change : *changes) {
      total += change.name.size() + 4 + change.value.length(values);
    }
  }
  return total;
}

}  // namespace ballast::http
