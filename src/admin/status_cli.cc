#include "admin/status_cli.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

#include "admin/status_json.h"
#include "core/clock.h"
#include "core/socket.h"
#include "discovery/etcd_client.h"
#include "discovery/instance_registration.h"

namespace ballast::admin {
namespace {

constexpr uint16_t kDefaultAdminPort = 9091;
constexpr size_t kMaxResponseBytes = 64 * 1024 * 1024;

struct Target {
  std::string host;
  uint16_t port = kDefaultAdminPort;
};

std::optional<Target> parse_address(std::string_view text, std::string& error) {
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) == kScheme) {
    text.remove_prefix(kScheme.size());
  }
  while (!text.empty() && text.back() == '/') {
    text.remove_suffix(1);
  }
  Target target;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      error = "bad address: " + std::string(text);
      return std::nullopt;
    }
    target.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = "bad address: " + std::string(text);
        return std::nullopt;
      }
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = text.rfind(':');
    target.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
    }
  }
  if (target.host.empty()) {
    target.host = "127.0.0.1";
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) {
        error = "bad port in " + std::string(text);
        return std::nullopt;
      }
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) {
      error = "bad port in " + std::string(text);
      return std::nullopt;
    }
    target.port = static_cast<uint16_t>(port);
  }
  return target;
}

// Waits for `events` on fd until deadline_ns; false on timeout or error.
bool wait_for(int fd, short events, uint64_t deadline_ns) {
  while (true) {
    const uint64_t now_ns = core::monotonic_now_ns();
    if (now_ns >= deadline_ns) {
      return false;
    }
    pollfd entry{fd, events, 0};
    const int timeout_ms = static_cast<int>((deadline_ns - now_ns) / core::kNsPerMs) + 1;
    const int ready = poll(&entry, 1, timeout_ms);
    if (ready > 0) {
      return true;
    }
    if (ready < 0 && errno != EINTR) {
      return false;
    }
  }
}

// GET /status: the body of a 200, or nullopt with `error` set.
std::optional<std::string> fetch_status(const Target& target, std::string& error) {
  const std::string where = target.host + ":" + std::to_string(target.port);
  const uint64_t deadline_ns = core::monotonic_now_ns() + kStatusTimeoutMs * core::kNsPerMs;
  core::SocketAddress address;
  try {
    address = core::resolve(target.host, target.port);
  } catch (const std::exception& failure) {
    error = failure.what();
    return std::nullopt;
  }
  core::FileDescriptor fd = core::connect_to(address);
  // SO_ERROR clears as it is read: read it once.
  const int code = !fd.valid()                                 ? errno
                   : !wait_for(fd.get(), POLLOUT, deadline_ns) ? ETIMEDOUT
                                                               : core::connect_error(fd.get());
  if (code != 0) {
    error = "cannot connect to the admin API at " + where + ": " + std::strerror(code);
    return std::nullopt;
  }

  const bool ipv6 = target.host.find(':') != std::string::npos;
  const std::string request =
      "GET /status HTTP/1.1\r\nHost: " + (ipv6 ? "[" + target.host + "]" : target.host) + ":" +
      std::to_string(target.port) + "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline_ns)) {
        error = "timed out sending to " + where;
        return std::nullopt;
      }
    } else {
      error = "cannot send to " + where + ": " + std::strerror(errno);
      return std::nullopt;
    }
  }

  std::string response;
  std::array<char, 16384> buffer;
  while (true) {
    const ssize_t n = recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      response.append(buffer.data(), static_cast<size_t>(n));
      if (response.size() > kMaxResponseBytes) {
        error = "the answer from " + where + " is too large";
        return std::nullopt;
      }
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd.get(), POLLIN, deadline_ns)) {
        error = "timed out waiting for " + where;
        return std::nullopt;
      }
    } else {
      error = "cannot read from " + where + ": " + std::strerror(errno);
      return std::nullopt;
    }
  }

  const size_t head_end = response.find("\r\n\r\n");
  int status = 0;
  if (head_end == std::string::npos ||
      std::sscanf(response.c_str(), "HTTP/1.%*d %d", &status) != 1) {
    error = where + " did not answer in HTTP";
    return std::nullopt;
  }
  std::string body = response.substr(head_end + 4);
  if (status != 200) {
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
      body.pop_back();
    }
    error = where + " answered " + std::to_string(status) + ": " + body;
    return std::nullopt;
  }
  return body;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, std::isfinite(value) ? value : 0.0);
  return text;
}

std::string milliseconds(double ms) {
  return fixed(ms, ms >= 100 ? 0 : ms >= 10 ? 1 : 2) + "ms";
}

std::string duration(double seconds) {
  const auto total = static_cast<uint64_t>(std::max(seconds, 0.0));
  const uint64_t days = total / 86400;
  const uint64_t hours = total % 86400 / 3600;
  const uint64_t minutes = total % 3600 / 60;
  if (days > 0) {
    return std::to_string(days) + "d " + std::to_string(hours) + "h";
  }
  if (hours > 0) {
    return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  }
  if (minutes > 0) {
    return std::to_string(minutes) + "m " + std::to_string(total % 60) + "s";
  }
  return std::to_string(total) + "s";
}

}  // namespace

bool print_status_table(std::string_view status_json, std::ostream& out, std::string& error) {
  const std::optional<JsonValue> document = parse_json(status_json);
  const JsonValue* clusters = document ? document->find("clusters") : nullptr;
  if (clusters == nullptr || clusters->kind != JsonValue::Kind::array) {
    error = "the answer is not a /status document";
    return false;
  }

  using Row = std::array<std::string, 9>;
  std::vector<Row> rows = {
      {"CLUSTER", "SERVER", "STATE", "WEIGHT", "ACTIVE", "REQ/S", "P50", "P99", "BREAKER"}};
  std::vector<std::string> notes;
  for (const JsonValue& cluster : clusters->items) {
    const std::string cluster_name(cluster.string_or("name"));
    if (cluster.boolean_or("panic")) {
      notes.push_back(cluster_name + ": panic mode (health checks and ejections ignored)");
    }
    const std::string_view region = cluster.string_or("active_region");
    if (!region.empty()) {
      notes.push_back(cluster_name + ": active region " + std::string(region));
    }
    const JsonValue* servers = cluster.find("servers");
    if (servers == nullptr || servers->kind != JsonValue::Kind::array) {
      continue;
    }
    for (const JsonValue& server : servers->items) {
      std::string state(server.string_or("state", "?"));
      // "draining" needs no "(draining)" after it: a reason is shown only when it adds one.
      if (const JsonValue* reasons = server.find("reasons");
          reasons != nullptr && reasons->kind == JsonValue::Kind::array &&
          !reasons->items.empty() &&
          !(reasons->items.size() == 1 && reasons->items[0].string == state)) {
        state += " (";
        for (size_t i = 0; i < reasons->items.size(); ++i) {
          state += (i == 0 ? "" : ", ") + reasons->items[i].string;
        }
        state += ")";
      }
      std::string weight = fixed(server.number_or("weight"), 0);
      if (server.boolean_or("backup")) {
        weight += " backup";
      }
      const JsonValue* breaker = server.find("breaker");
      std::string breaker_state = "-";
      if (breaker != nullptr && breaker->kind == JsonValue::Kind::object) {
        breaker_state = std::string(breaker->string_or("state", "?"));
        std::replace(breaker_state.begin(), breaker_state.end(), '_', '-');
      }
      rows.push_back({cluster_name, std::string(server.string_or("name")), state, weight,
                      fixed(server.number_or("active_connections"), 0),
                      fixed(server.number_or("requests_per_second"), 1),
                      milliseconds(server.number_or("p50_ms")),
                      milliseconds(server.number_or("p99_ms")), breaker_state});
    }
  }

  if (const JsonValue* process = document->find("process")) {
    const double workers = process->number_or("workers");
    out << "generation " << fixed(process->number_or("generation"), 0) << ", " << fixed(workers, 0)
        << (workers == 1 ? " worker, up " : " workers, up ")
        << duration(process->number_or("uptime_seconds")) << "; rates and latencies over the last "
        << fixed(document->number_or("window_seconds", 10), 0) << " s\n\n";
  }
  std::array<size_t, 9> widths{};
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  // Numbers right-aligned, words left-aligned; two spaces between columns.
  constexpr std::array<bool, 9> kRight = {false, false, false, true, true, true, true, true, false};
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string padding(widths[i] - row[i].size(), ' ');
      line += kRight[i] ? padding + row[i] : row[i] + (i + 1 < row.size() ? padding : "");
      if (i + 1 < row.size()) {
        line += "  ";
      }
    }
    out << line << '\n';
  }
  if (!notes.empty()) {
    out << '\n';
    for (const std::string& note : notes) {
      out << note << '\n';
    }
  }
  return true;
}

int run_status_command(const std::string& admin_address, std::ostream& out, std::ostream& err) {
  std::string error;
  const std::optional<Target> target = parse_address(admin_address, error);
  std::optional<std::string> body;
  if (target) {
    body = fetch_status(*target, error);
  }
  if (!body || !print_status_table(*body, out, error)) {
    err << "ballast status: " << error << '\n';
    return 1;
  }
  return 0;
}

int run_status_command(const std::string& admin_address, std::ostream& out) {
  return run_status_command(admin_address, out, std::cerr);
}

int run_fleet_status_command(const std::vector<std::string>& etcd, const std::string& fleet_prefix,
                             std::ostream& out, std::ostream& err) {
  std::vector<discovery::InstanceRecord> instances;
  try {
    std::vector<discovery::EtcdEndpoint> endpoints;
    for (const std::string& text : etcd) {
      endpoints.push_back(discovery::parse_etcd_endpoint(text));
    }
    discovery::EtcdClient client(std::move(endpoints), kStatusTimeoutMs);
    instances = discovery::fleet_instances(client, fleet_prefix);
  } catch (const std::exception& error) {
    err << "ballast status: etcd: " << error.what() << '\n';
    return 1;
  }
  out << instances.size() << (instances.size() == 1 ? " instance" : " instances")
      << " registered under " << fleet_prefix << "\n";
  int result = 0;
  for (const discovery::InstanceRecord& instance : instances) {
    out << "\n== " << instance.name << "  admin " << instance.admin << "  version "
        << instance.version << "  pid " << instance.pid << "\n";
    if (run_status_command(instance.admin, out, err) != 0) {
      result = 1;
    }
  }
  return result;
}

}  // namespace ballast::admin
