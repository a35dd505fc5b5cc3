#include "admin/admin_host.h"

#include <gtest/gtest.h>

namespace ballast::admin {
namespace {

const config::Endpoint kLoopback{"127.0.0.1", 9091};

TEST(AdminHost, TheAdminAddressAndLoopbackNamesAreAccepted) {
  for (const char* host : {"127.0.0.1:9091", "127.0.0.1", "localhost:9091", "LOCALHOST",
                           "[::1]:9091", "127.1.2.3:9091"}) {
    EXPECT_TRUE(is_admin_host(host, kLoopback, {})) << host;
  }
}

TEST(AdminHost, ARebindingPagesNameIsRefused) {
  for (const char* host : {"evil.example:9091", "evil.example", "localhost.evil.example:9091",
                           "127.0.0.1.nip.io:9091", "", "127.0.0.1:9092", "localhost:80"}) {
    EXPECT_FALSE(is_admin_host(host, kLoopback, {})) << host;
  }
}

TEST(AdminHost, AllowedHostsAddNamesWithOrWithoutAPort) {
  const std::vector<std::string> allowed = {"ops.internal", "lb1.example:9443"};
  EXPECT_TRUE(is_admin_host("ops.internal:9091", kLoopback, allowed));
  EXPECT_TRUE(is_admin_host("OPS.internal", kLoopback, allowed));
  EXPECT_TRUE(is_admin_host("lb1.example:9443", kLoopback, allowed));
  EXPECT_FALSE(is_admin_host("lb1.example:9091", kLoopback, allowed));
  EXPECT_FALSE(is_admin_host("other.internal:9091", kLoopback, allowed));
}

TEST(AdminHost, AListenAddressBeyondLoopbackNamesItself) {
  const config::Endpoint listen{"10.0.0.5", 9091};
  EXPECT_TRUE(is_admin_host("10.0.0.5:9091", listen, {}));
  EXPECT_FALSE(is_admin_host("10.0.0.6:9091", listen, {}));
  const config::Endpoint v6{"2001:db8::5", 9091};
  EXPECT_TRUE(is_admin_host("[2001:db8::5]:9091", v6, {}));
}

}  // namespace
}  // namespace ballast::admin
