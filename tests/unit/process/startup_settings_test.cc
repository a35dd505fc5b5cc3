#include "process/startup_settings.h"

#include <gtest/gtest.h>

namespace ballast::process {
namespace {

using Changes = std::vector<std::string>;

TEST(StartupSettings, NoneChangedWhenOnlyReloadableSettingsDiffer) {
  config::Config running;
  config::Config next;
  next.drain_timeout_ms = 1'000;
  next.monitoring.logging.output = "/var/log/ballast/events.log";  // a reload reopens it
  next.admin.token = "secret";
  EXPECT_EQ(changed_startup_settings(running, next), Changes{});
}

TEST(StartupSettings, NamesEachStartupSettingWithItsOldAndNewValue) {
  config::Config running;
  running.workers = 2;
  config::Config next = running;
  next.workers = 4;
  next.admin.listen = {"127.0.0.1", 9191};
  next.monitoring.metrics.port = 9190;
  next.tracing.enabled = true;
  next.tracing.endpoint = "http://127.0.0.1:4318/v1/traces";
  next.io_uring = false;
  EXPECT_EQ(changed_startup_settings(running, next),
            (Changes{"workers: 2 -> 4", "io_uring: true -> false",
                     "admin.listen: 127.0.0.1:9091 -> 127.0.0.1:9191",
                     "monitoring.metrics.port: 9090 -> 9190", "tracing.enabled: false -> true",
                     "tracing.endpoint: (none) -> http://127.0.0.1:4318/v1/traces"}));
}

TEST(StartupSettings, NamesTheFleetsRegistration) {
  config::Config running;
  config::Config next;
  next.etcd.endpoints = {"127.0.0.1:2379"};
  next.etcd.instance = "edge-1";
  const Changes changes = changed_startup_settings(running, next);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0],
            "etcd.endpoints (the fleet's registration; discovery takes them now): (none) -> "
            "127.0.0.1:2379");
  EXPECT_EQ(changes[1], "etcd.instance: (none) -> edge-1");
}

}  // namespace
}  // namespace ballast::process
