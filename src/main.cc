// ballast: command-line flags and wiring only.

#include <CLI/CLI.hpp>
#include <iostream>

#include "demo/policy_tour.h"

int main(int argc, char** argv) {
  CLI::App app{"ballast: a load balancer and reverse proxy", "ballast"};
  app.set_version_flag("--version", std::string("ballast ") + BALLAST_VERSION);
  app.require_subcommand(1);

  CLI::App* demo =
      app.add_subcommand("demo", "Show every balancing policy at work on three servers");
  demo->callback([] { ballast::demo::run_policy_tour(std::cout); });

  CLI11_PARSE(app, argc, argv);
  return 0;
}
