#pragma once
// Turns one YAML file into a validated Config; the only door from YAML into ballast. Both file
// shapes (docs/config.md) load here: the short one, a `load_balancer:` block that is one
// listener and one cluster, both named "default"; and the full one, `listeners:` and
// `clusters:`. Every default is in config.h.
//
// Untrusted input: any bytes give either a Config or a ConfigError (config_error.h) saying
// `FILE:LINE:COL: key: what is wrong` — never a crash, a hang or unbounded memory. The text is
// capped at kMaxConfigBytes, yaml-cpp refuses deep nesting, and aliases cannot make the walk
// longer than the text (yaml_node.h).
//
// Threading: call from one thread at start-up or reload; no shared state.

#include <cstddef>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/config_error.h"

namespace ballast::config {

inline constexpr size_t kMaxConfigBytes = 16 * 1024 * 1024;

// Reads the file at `path`; its path is the FILE of every message.
Config load_config_file(const std::string& path);

// `source_name` is the FILE of every message.
Config parse_config(std::string_view yaml_text, const std::string& source_name);

}  // namespace ballast::config
