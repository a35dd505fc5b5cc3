#pragma once
// The message parse_config gives for `yaml` (source "c.yaml"), or "(loaded)" when it loads: the
// one helper the config tests compare errors with.

#include <string>

#include "config/config_error.h"
#include "config/loader.h"

namespace ballast::config::test_support {

inline std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "c.yaml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(loaded)";
}

}  // namespace ballast::config::test_support
