#pragma once
// The YAML of one http listener, `web`, with `routes` (each a flow map, one a line from line 5):
// the start of a full-shape configuration for the config tests, which add clusters and more.

#include <string>
#include <vector>

namespace ballast::config::test_support {

inline std::string web_listener(const std::vector<std::string>& routes) {
  std::string yaml =
      "listeners:\n"
      "  - name: web\n"
      "    listen: 127.0.0.1:8080\n"
      "    routes:\n";
  for (const std::string& route : routes) {
    yaml += "      - " + route + "\n";
  }
  return yaml;
}

}  // namespace ballast::config::test_support
