#pragma once
// Reads a cluster's health settings: active checks (`health_check:`) and passive ejection of
// servers failing real traffic (`outlier_detection:`). A block that is present turns its feature
// on unless it says `enabled: false`.
//
// Threading: start-up only.

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

HealthCheckConfig read_health_check(const Node& node);

OutlierDetectionConfig read_outlier_detection(const Node& node);

}  // namespace ballast::config
