#include "demo/demo_config.h"

namespace ballast::demo {

std::shared_ptr<const config::Config> demo_config(const config::Endpoint& listen,
                                                  const std::vector<uint16_t>& backend_ports) {
  auto config = std::make_shared<config::Config>();
  config->source = "(built-in demo)";
  config->monitoring.logging.format = config::LogFormat::text;
  config->monitoring.logging.output = "stderr";

  config::ClusterConfig cluster;
  cluster.name = "demo";
  cluster.algorithm = balance::Algorithm::round_robin;
  // Checks, so the dashboard shows health; the demo backends answer every path with 200.
  cluster.health_check.enabled = true;
  cluster.health_check.interval_ms = 2'000;
  cluster.health_check.timeout_ms = 1'000;
  cluster.health_check.start_healthy = true;
  for (const uint16_t port : backend_ports) {
    config::ServerConfig server;
    server.host = "127.0.0.1";
    server.port = port;
    cluster.servers.push_back(server);
  }
  config->clusters.push_back(cluster);

  config::ListenerConfig listener;
  listener.name = "demo";
  listener.listen = listen;
  listener.routes.push_back(config::RouteConfig{.cluster = "demo"});
  config->listeners.push_back(listener);
  return config;
}

}  // namespace ballast::demo
