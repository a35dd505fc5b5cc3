#include "discovery/server_record.h"

#include <nlohmann/json.hpp>

#include "config/scalars.h"

namespace ballast::discovery {
namespace {

using Json = nlohmann::json;

// A record is about 100 bytes; the bound keeps a hostile value (etcd takes up to 1.5 MiB) from
// costing more than a glance, whatever its nesting.
constexpr size_t kMaxRecordBytes = 64 * 1024;
constexpr uint64_t kMaxPort = 65535;

// The field's value, or nullptr when the record leaves it out.
const Json* find_field(const Json& record, const char* name) {
  const auto it = record.find(name);
  return it == record.end() ? nullptr : &*it;
}

// An integer in [min, max] (min >= 1): a JSON integer, not 8080.0 or "8080".
std::optional<uint64_t> read_integer(const Json& field, uint64_t min, uint64_t max) {
  // nlohmann stores a non-negative integer as unsigned; a negative one is never in range.
  if (!field.is_number_unsigned()) {
    return std::nullopt;
  }
  const uint64_t value = field.get<uint64_t>();
  return value >= min && value <= max ? std::optional(value) : std::nullopt;
}

std::optional<config::ServerConfig> read_record(const Json& record, std::string& error) {
  if (!record.is_object()) {
    error = "a server record must be a JSON object";
    return std::nullopt;
  }
  config::ServerConfig server;
  const Json* host = find_field(record, "host");
  // An address, not a name: a name would need a lookup when the record is applied, which could
  // block or fail there, and DNS discovery is the place for names (fleet.md).
  if (host == nullptr || !host->is_string() ||
      !config::is_ip_literal(host->get_ref<const std::string&>())) {
    error = "\"host\" must be an IP address";
    return std::nullopt;
  }
  server.host = host->get<std::string>();
  const Json* port = find_field(record, "port");
  const std::optional<uint64_t> port_number =
      port == nullptr ? std::nullopt : read_integer(*port, 1, kMaxPort);
  if (!port_number) {
    error = "\"port\" must be an integer from 1 to 65535";
    return std::nullopt;
  }
  server.port = static_cast<uint16_t>(*port_number);
  if (const Json* weight = find_field(record, "weight")) {
    const std::optional<uint64_t> value = read_integer(*weight, 1, config::kMaxWeight);
    if (!value) {
      error = "\"weight\" must be an integer from 1 to 1000000";
      return std::nullopt;
    }
    server.weight = static_cast<uint32_t>(*value);
  }
  if (const Json* region = find_field(record, "region")) {
    if (!region->is_string() || !config::is_name(region->get_ref<const std::string&>())) {
      error = "\"region\" must be a name: 1-64 letters, digits, '-' and '_'";
      return std::nullopt;
    }
    server.region = region->get<std::string>();
  }
  if (const Json* backup = find_field(record, "backup")) {
    if (!backup->is_boolean()) {
      error = "\"backup\" must be true or false";
      return std::nullopt;
    }
    server.backup = backup->get<bool>();
  }
  return server;
}

}  // namespace

std::optional<config::ServerConfig> parse_server_record(std::string_view json, std::string& error) {
  if (json.size() > kMaxRecordBytes) {
    error = "a server record is at most " + std::to_string(kMaxRecordBytes) + " bytes";
    return std::nullopt;
  }
  try {
    const Json record = Json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) {
      error = "a server record must be JSON";
      return std::nullopt;
    }
    return read_record(record, error);
  } catch (const nlohmann::json::exception& exception) {
    // Not expected (every access is type-checked first), but a record is untrusted input.
    error = std::string("a server record could not be read: ") + exception.what();
    return std::nullopt;
  }
}

std::string server_record(const config::ServerConfig& server) {
  // ordered_json: the fields in the order the documentation shows them.
  nlohmann::ordered_json record{{"host", server.host}, {"port", server.port}};
  record["weight"] = server.weight;
  if (!server.region.empty()) {
    record["region"] = server.region;
  }
  if (server.backup) {
    record["backup"] = true;
  }
  return record.dump();
}

}  // namespace ballast::discovery
