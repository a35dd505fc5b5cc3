#pragma once
// JSON text, written one way everywhere: the event and access logs (escape_json into a fixed line
// buffer, no allocation), the admin API's documents and the spans' OTLP export (JsonWriter and
// append_json_string over a std::string). One escaping rule for all of them: `"` and `\` are
// backslash-escaped; control characters, DEL and every byte outside well-formed UTF-8 become
// \u00XX, so whatever a client or a server sent, the output stays valid UTF-8 and valid JSON.
//
// Threading: pure functions; a JsonWriter belongs to whoever builds one document.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::observe {

// Appends `text` to [out, end) as the inside of a JSON string and returns the new end: `"` and
// `\` are backslash-escaped; control characters, DEL and every byte that is not part of
// well-formed UTF-8 become \u00XX (so the line stays valid UTF-8 and valid JSON whatever a
// client sent); well-formed UTF-8 passes through. Stops before the first character or escape
// that does not fit, so an escape is never cut; `consumed`, when given, receives how many bytes
// of `text` went in.
char* escape_json(std::string_view text, char* out, char* end, size_t* consumed = nullptr) noexcept;

// Appends `text` to `out` as a JSON string, quotes included (escape_json's rule).
void append_json_string(std::string& out, std::string_view text);

// A minimal streaming JSON writer: commas and escaping are its business, the shape the
// caller's. Numbers that are not finite are written as 0.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) noexcept : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view name);
  void string(std::string_view value);
  void number(uint64_t value);
  void number(double value, int decimals = 3);
  void boolean(bool value);
  void null();

  // Each of these writes a key, then its value.
  void field(std::string_view name, std::string_view value) {
    key(name);
    string(value);
  }
  void field(std::string_view name, const char* value) { field(name, std::string_view(value)); }
  void field(std::string_view name, uint64_t value) {
    key(name);
    number(value);
  }
  void field(std::string_view name, uint32_t value) { field(name, static_cast<uint64_t>(value)); }
  void field(std::string_view name, double value, int decimals = 3) {
    key(name);
    number(value, decimals);
  }
  void field(std::string_view name, bool value) {
    key(name);
    boolean(value);
  }

 private:
  void open(char bracket);
  void close(char bracket);
  void separate();  // a comma before any value but a container's first, or a key's value

  std::string& out_;
  std::vector<bool> has_items_;  // per open container
  bool after_key_ = false;
};

}  // namespace ballast::observe
