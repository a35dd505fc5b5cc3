#pragma once
// The configuration `ballast demo` runs: one HTTP listener, round robin over the demo backends.

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"

namespace ballast::demo {

std::shared_ptr<const config::Config> demo_config(const config::Endpoint& listen,
                                                  const std::vector<uint16_t>& backend_ports);

}  // namespace ballast::demo
