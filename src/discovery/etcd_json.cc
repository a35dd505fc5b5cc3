#include "discovery/etcd_json.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

namespace ballast::discovery {
namespace {

using Json = nlohmann::json;

// etcd's answers nest five deep; the bound keeps a hostile answer of a million '[' from costing
// gigabytes of DOM (nlohmann parses iteratively, so it would not overflow the stack, only eat
// memory).
constexpr int kMaxJsonDepth = 32;
constexpr size_t kMaxQuotedBodyBytes = 200;

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

[[noreturn]] void malformed(const std::string& what) {
  throw EtcdError("malformed etcd answer: " + what);
}

Json parse_json(std::string_view text) {
  const auto limit_depth = [](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth) {
      malformed("JSON nested too deeply");
    }
    return true;
  };
  Json value = Json::parse(text, limit_depth, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    malformed("not JSON");
  }
  if (!value.is_object()) {
    malformed("not a JSON object");
  }
  return value;
}

// Field readers for proto3's JSON mapping: an absent field is the zero value.
const Json* find_field(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

const Json& object_field(const Json& object, const char* name) {
  static const Json kEmpty = Json::object();
  const Json* field = find_field(object, name);
  if (field == nullptr) {
    return kEmpty;
  }
  if (!field->is_object()) {
    malformed(std::string("\"") + name + "\" is not an object");
  }
  return *field;
}

// int64 comes as a decimal string; a plain JSON integer is taken too.
int64_t int64_field(const Json& object, const char* name) {
  const Json* field = find_field(object, name);
  if (field == nullptr) {
    return 0;
  }
  if (field->is_string()) {
    const std::string& text = field->get_ref<const std::string&>();
    int64_t value = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
    if (parsed.ec == std::errc() && parsed.ptr == text.data() + text.size()) {
      return value;
    }
  } else if (field->is_number_unsigned()) {
    if (field->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return field->get<int64_t>();
    }
  } else if (field->is_number_integer()) {
    return field->get<int64_t>();
  }
  malformed(std::string("\"") + name + "\" is not a 64-bit integer");
}

std::string string_field(const Json& object, const char* name) {
  const Json* field = find_field(object, name);
  if (field == nullptr) {
    return {};
  }
  if (!field->is_string()) {
    malformed(std::string("\"") + name + "\" is not a string");
  }
  return field->get<std::string>();
}

std::string bytes_field(const Json& object, const char* name) {
  return base64_decode(string_field(object, name));
}

bool bool_field(const Json& object, const char* name) {
  const Json* field = find_field(object, name);
  if (field == nullptr) {
    return false;
  }
  if (!field->is_boolean()) {
    malformed(std::string("\"") + name + "\" is not a boolean");
  }
  return field->get<bool>();
}

EtcdKeyValue decode_key_value(const Json& kv) {
  if (!kv.is_object()) {
    malformed("a key-value is not an object");
  }
  EtcdKeyValue out;
  out.key = bytes_field(kv, "key");
  out.value = bytes_field(kv, "value");
  out.mod_revision = int64_field(kv, "mod_revision");
  out.lease = int64_field(kv, "lease");
  return out;
}

// A body quoted in an error message: cut, and only printable ASCII.
std::string quote_body(std::string_view body) {
  std::string out;
  for (const char c : body.substr(0, kMaxQuotedBodyBytes)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

// What an error answer says: {"error": "…", "message": "…"} from a unary call,
// {"error": {"message": "…", …}} from a stream; the body itself when it is not etcd's JSON (a
// proxy's page, say). Empty when it says nothing.
std::string error_detail(std::string_view body) {
  std::string detail;
  try {
    const Json answer = parse_json(body);
    const Json* error = find_field(answer, "error");
    detail = string_field(error != nullptr && error->is_object() ? *error : answer, "message");
    if (detail.empty() && error != nullptr && error->is_string()) {
      detail = error->get<std::string>();
    }
  } catch (const EtcdError&) {
    detail = std::string(body);
  }
  return quote_body(detail);
}

// A message of a streamed call: {"result": {...}}, or {"error": {...}} when the stream fails.
Json stream_result(std::string_view message) {
  Json value = parse_json(message);
  if (find_field(value, "error") != nullptr) {
    throw EtcdError("etcd ended the stream: " + error_detail(message));
  }
  const auto result = value.find("result");
  if (result == value.end() || !result->is_object()) {
    malformed("no \"result\" object in a streamed message");
  }
  return std::move(*result);
}

// An empty key means "from the first key" to etcd only as "\0" (clientv3's WithPrefix does the
// same).
std::string range_start(std::string_view prefix) {
  return prefix.empty() ? std::string(1, '\0') : std::string(prefix);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16 |
                           static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8 |
                           static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) {
      out += kBase64Alphabet[(group >> shift) & 0x3f];
    }
  }
  const size_t left = bytes.size() - i;
  if (left > 0) {
    uint32_t group = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (left == 2) {
      group |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    }
    out += kBase64Alphabet[(group >> 18) & 0x3f];
    out += kBase64Alphabet[(group >> 12) & 0x3f];
    out += left == 2 ? kBase64Alphabet[(group >> 6) & 0x3f] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    malformed("base64 of a length not a multiple of 4");
  }
  const size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t group = 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    const size_t digit = kBase64Alphabet.find(text[i]);
    if (digit == std::string_view::npos) {
      malformed("invalid base64");
    }
    group = group << 6 | static_cast<uint32_t>(digit);
    if (i % 4 == 3) {
      out += static_cast<char>(group >> 16);
      out += static_cast<char>(group >> 8 & 0xff);
      out += static_cast<char>(group & 0xff);
      group = 0;
    }
  }
  if (padding == 2) {
    out += static_cast<char>(group >> 4);
  } else if (padding == 1) {
    out += static_cast<char>(group >> 10);
    out += static_cast<char>(group >> 2 & 0xff);
  }
  return out;
}

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_prefix_request(std::string_view prefix) {
  return Json{{"key", base64_encode(range_start(prefix))},
              {"range_end", base64_encode(prefix_range_end(prefix))}}
      .dump();
}

std::string put_request(std::string_view key, std::string_view value, int64_t lease) {
  Json request{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) {
    request["lease"] = std::to_string(lease);
  }
  return request.dump();
}

std::string delete_request(std::string_view key) {
  return Json{{"key", base64_encode(key)}}.dump();
}

std::string lease_grant_request(int64_t ttl_s) {
  return Json{{"TTL", std::to_string(ttl_s)}}.dump();
}

std::string lease_request(int64_t lease) {
  return Json{{"ID", std::to_string(lease)}}.dump();
}

std::string watch_prefix_request(std::string_view prefix, int64_t start_revision) {
  return Json{{"create_request",
               {{"key", base64_encode(range_start(prefix))},
                {"range_end", base64_encode(prefix_range_end(prefix))},
                {"start_revision", std::to_string(start_revision)}}}}
      .dump();
}

EtcdRange decode_range(std::string_view body) {
  const Json answer = parse_json(body);
  EtcdRange range;
  range.revision = int64_field(object_field(answer, "header"), "revision");
  if (range.revision <= 0) {
    malformed("a range without the store's revision");
  }
  if (const Json* kvs = find_field(answer, "kvs")) {
    if (!kvs->is_array()) {
      malformed("\"kvs\" is not an array");
    }
    range.kvs.reserve(kvs->size());
    for (const Json& kv : *kvs) {
      range.kvs.push_back(decode_key_value(kv));
    }
  }
  return range;
}

int64_t decode_lease_grant(std::string_view body) {
  const Json answer = parse_json(body);
  if (const std::string error = string_field(answer, "error"); !error.empty()) {
    throw EtcdError("etcd refused the lease: " + quote_body(error));
  }
  const int64_t id = int64_field(answer, "ID");
  if (id <= 0) {
    malformed("a lease without an ID");
  }
  return id;
}

bool decode_keep_alive(std::string_view message) {
  return int64_field(stream_result(message), "TTL") > 0;
}

WatchMessage decode_watch_message(std::string_view message) {
  const Json result = stream_result(message);
  if (bool_field(result, "canceled")) {
    if (const int64_t compacted = int64_field(result, "compact_revision"); compacted > 0) {
      throw EtcdCompacted(compacted);
    }
    throw EtcdError("etcd cancelled the watch: " +
                    quote_body(string_field(result, "cancel_reason")));
  }
  WatchMessage out;
  out.revision = int64_field(object_field(result, "header"), "revision");
  if (const Json* events = find_field(result, "events")) {
    if (!events->is_array()) {
      malformed("\"events\" is not an array");
    }
    out.events.reserve(events->size());
    for (const Json& event : *events) {
      if (!event.is_object()) {
        malformed("an event is not an object");
      }
      const std::string type = string_field(event, "type");
      if (!type.empty() && type != "PUT" && type != "DELETE") {
        malformed("an event of type " + quote_body(type));
      }
      EtcdEvent& decoded = out.events.emplace_back();
      decoded.deleted = type == "DELETE";
      decoded.kv = decode_key_value(object_field(event, "kv"));
      // The header's revision is at least every event's; trusting neither costs nothing.
      out.revision = std::max(out.revision, decoded.kv.mod_revision);
    }
  }
  return out;
}

std::string describe_error_answer(int status, std::string_view body) {
  return "etcd answered " + std::to_string(status) + ": " + error_detail(body);
}

std::optional<std::string> MessageSplitter::next() {
  for (;;) {
    const size_t end = pending_.find('\n', scanned_);
    if (end == std::string::npos) {
      pending_.erase(0, start_);
      start_ = 0;
      scanned_ = pending_.size();
      if (pending_.size() > max_message_bytes_) {
        throw EtcdError("etcd sent a message of more than " + std::to_string(max_message_bytes_) +
                        " bytes");
      }
      return std::nullopt;
    }
    const std::string_view message(pending_.data() + start_, end - start_);
    start_ = end + 1;
    scanned_ = start_;
    if (message.size() > max_message_bytes_) {
      throw EtcdError("etcd sent a message of more than " + std::to_string(max_message_bytes_) +
                      " bytes");
    }
    if (message.find_first_not_of(" \t\r") != std::string_view::npos) {
      return std::string(message);
    }
  }
}

std::optional<std::string> MessageSplitter::rest() {
  std::string message = pending_.substr(start_);
  pending_.clear();
  start_ = 0;
  scanned_ = 0;
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return std::nullopt;
  }
  return message;
}

}  // namespace ballast::discovery
