// ballast: command-line flags and wiring only.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "admin/status_cli.h"
#include "config/loader.h"
#include "config/scalars.h"
#include "demo/demo_backends.h"
#include "demo/demo_config.h"
#include "demo/policy_tour.h"
#include "discovery/fleet_cli.h"
#include "edge/geo_locator.h"
#include "process/proxy_process.h"
#include "upstream/generation.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadConfig = 2;

int check_config(const std::string& path) {
  try {
    const ballast::config::Config config = ballast::config::load_config_file(path);
    ballast::upstream::build_listener_tls(config, nullptr);  // every certificate loads
    for (const ballast::config::ClusterConfig& cluster : config.clusters) {
      if (cluster.upstream_tls.enabled) {
        ballast::tls::ClientContext::build(cluster.upstream_tls,
                                           nullptr);  // and every CA and client key
      }
    }
    if (config.geo.enabled) {
      const ballast::edge::GeoLocator::Opened geo = ballast::edge::GeoLocator::open(config.geo);
      if (geo.locator == nullptr) {
        throw ballast::config::ConfigError(geo.error);  // and the MaxMind database
      }
    }
    for (const std::string& warning : config.warnings) {
      std::cerr << "warning: " << warning << '\n';
    }
  } catch (const ballast::config::ConfigError& error) {
    std::cerr << error.what() << '\n';
    return kExitBadConfig;
  }
  std::cout << path << ": configuration is valid\n";
  return 0;
}

int serve(ballast::process::ProxyProcess::ConfigSource source,
          ballast::process::ProxyProcess::Launch launch) {
  try {
    ballast::process::ProxyProcess process(std::move(source), BALLAST_VERSION, std::move(launch));
    return process.run();
  } catch (const ballast::config::ConfigError& error) {
    std::cerr << error.what() << '\n';
    return kExitBadConfig;
  } catch (const std::exception& error) {
    std::cerr << "ballast: " << error.what() << '\n';
    return kExitFailure;
  }
}

int show_status(std::string admin_address, const std::string& config_path) {
  if (!config_path.empty()) {
    try {
      const ballast::config::Endpoint listen =
          ballast::config::load_config_file(config_path).admin.listen;
      const bool ipv6 = listen.host.find(':') != std::string::npos;
      admin_address =
          (ipv6 ? "[" + listen.host + "]" : listen.host) + ":" + std::to_string(listen.port);
    } catch (const ballast::config::ConfigError& error) {
      std::cerr << error.what() << '\n';
      return kExitBadConfig;
    }
  }
  return ballast::admin::run_status_command(admin_address, std::cout, std::cerr);
}

int run_demo(const std::string& listen, const std::string& admin, uint16_t metrics_port,
             ballast::process::ProxyProcess::Launch launch) {
  const ballast::config::Parsed<ballast::config::Endpoint> endpoint =
      ballast::config::parse_endpoint(listen);
  if (!endpoint.value) {
    std::cerr << "ballast demo: --listen: " << endpoint.error << '\n';
    return kExitBadConfig;
  }
  const ballast::config::Parsed<ballast::config::Endpoint> admin_endpoint =
      ballast::config::parse_endpoint(admin);
  if (!admin_endpoint.value) {
    std::cerr << "ballast demo: --admin: " << admin_endpoint.error << '\n';
    return kExitBadConfig;
  }
  ballast::demo::DemoBackends backends;
  const std::vector<uint16_t> ports = backends.start(3);
  std::cerr << "ballast demo: balancing http://" << listen << "/ over 3 demo backends "
            << "(round robin). Try: curl -s http://" << listen << "/  — Ctrl-C stops.\n"
            << "ballast demo: dashboard http://" << admin
            << "/, metrics http://127.0.0.1:" << metrics_port
            << "/metrics, `ballast status --admin " << admin << "` in another terminal.\n";
  auto config = std::make_shared<ballast::config::Config>(
      *ballast::demo::demo_config(*endpoint.value, ports));
  config->admin.listen = *admin_endpoint.value;
  config->monitoring.metrics.port = metrics_port;
  return serve([config] { return config; }, std::move(launch));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ballast: a load balancer and reverse proxy", "ballast"};
  app.set_version_flag("--version", std::string("ballast ") + BALLAST_VERSION);

  std::string config_path;
  std::string check_path;
  app.add_option("-c,--config", config_path, "Run the proxy with this configuration file");
  app.add_option("--check", check_path, "Validate a configuration file and exit (0 valid, 2 not)");
  // Given by a running ballast to the successor it starts on SIGUSR2 (process/successor.h):
  // not for operators, so not in --help.
  ballast::process::ProxyProcess::Launch launch;
  launch.command = ballast::process::CommandLine::of_this_process(argc, argv);
  app.add_option("--upgrade-fd", launch.upgrade_fd)->group("");

  std::string demo_listen = "127.0.0.1:8080";
  CLI::App* demo = app.add_subcommand(
      "demo", "Run the proxy in front of three built-in demo backends (what `make run` starts)");
  demo->add_option("--listen", demo_listen, "Address the demo proxy listens on")
      ->capture_default_str();
  std::string demo_admin = "127.0.0.1:9091";
  demo->add_option("--admin", demo_admin, "Address of the admin API and dashboard")
      ->capture_default_str();
  uint16_t demo_metrics_port = 9090;
  demo->add_option("--metrics-port", demo_metrics_port, "Port of the Prometheus metrics")
      ->capture_default_str();
  CLI::App* policies =
      app.add_subcommand("policies", "Show every balancing policy at work on simulated servers");
  std::string status_admin = "127.0.0.1:9091";
  std::string status_config;
  CLI::App* status = app.add_subcommand(
      "status", "Print a running ballast's servers and their state (from its admin API)");
  status->add_option("--admin", status_admin, "The admin API's address")->capture_default_str();
  status->add_option("-c,--config", status_config,
                     "Read the admin API's address (admin.listen) from this configuration");

  std::vector<std::string> status_etcd;
  std::string status_fleet_prefix = "/ballast/";
  status->add_option("--etcd", status_etcd,
                     "List every instance registered in this etcd (host:port, repeatable), each "
                     "with its servers");
  status->add_option("--fleet-prefix", status_fleet_prefix, "The fleet's etcd.fleet_prefix")
      ->capture_default_str();

  ballast::discovery::RegisterCommand registration;
  CLI::App* register_command = app.add_subcommand(
      "register", "Keep one server registered in etcd under a lease until SIGTERM (a sidecar)");
  register_command->add_option("--etcd", registration.etcd, "etcd member, host:port (repeatable)")
      ->required();
  register_command
      ->add_option("--prefix", registration.prefix,
                   "The cluster's discovery.etcd_prefix, e.g. /services/web/")
      ->required();
  register_command->add_option("--host", registration.host, "The server's address")->required();
  register_command->add_option("--port", registration.port, "The server's port")->required();
  register_command->add_option("--weight", registration.weight, "Its weight")
      ->capture_default_str();
  register_command->add_option("--region", registration.region, "Its region");
  register_command->add_flag("--backup", registration.backup, "A backup server");
  std::string register_ttl = "10s";
  register_command
      ->add_option("--ttl", register_ttl,
                   "The lease's TTL (the server leaves this "
                   "long after the sidecar dies)")
      ->capture_default_str();

  ballast::discovery::FleetCommand fleet_command;
  CLI::App* fleet = app.add_subcommand(
      "fleet", "Drain, disable or enable a server on every instance of the fleet (via etcd)");
  fleet->add_option("action", fleet_command.action, "drain, disable or enable")
      ->required()
      ->check(CLI::IsMember({"drain", "disable", "enable"}));
  fleet->add_option("cluster", fleet_command.cluster, "The cluster")->required();
  fleet->add_option("server", fleet_command.server, "The server, host:port as /status names it")
      ->required();
  fleet->add_option("--etcd", fleet_command.etcd, "etcd member, host:port (repeatable)")
      ->required();
  fleet->add_option("--fleet-prefix", fleet_command.fleet_prefix, "The fleet's etcd.fleet_prefix")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (!check_path.empty()) {
    return check_config(check_path);
  }
  if (demo->parsed()) {
    return run_demo(demo_listen, demo_admin, demo_metrics_port, std::move(launch));
  }
  if (status->parsed()) {
    if (!status_etcd.empty()) {
      return ballast::admin::run_fleet_status_command(status_etcd, status_fleet_prefix, std::cout,
                                                      std::cerr);
    }
    return show_status(status_admin, status_config);
  }
  if (register_command->parsed()) {
    const auto ttl = ballast::config::parse_duration_ms(register_ttl);
    if (!ttl.value) {
      std::cerr << "ballast register: --ttl: " << ttl.error << '\n';
      return kExitBadConfig;
    }
    registration.ttl_ms = *ttl.value;
    return ballast::discovery::run_register_command(registration, std::cerr);
  }
  if (fleet->parsed()) {
    return ballast::discovery::run_fleet_command(fleet_command, std::cout, std::cerr);
  }
  if (policies->parsed()) {
    ballast::demo::run_policy_tour(std::cout);
    return 0;
  }
  if (!config_path.empty()) {
    return serve(
        [config_path] {
          return std::make_shared<const ballast::config::Config>(
              ballast::config::load_config_file(config_path));
        },
        std::move(launch));
  }
  std::cerr << app.help();
  return kExitBadConfig;
}
