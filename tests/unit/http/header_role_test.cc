#include "http/header_role.h"

#include <gtest/gtest.h>

namespace ballast::http {
namespace {

TEST(HeaderRole, HopByHopFieldsInAnyCase) {
  for (const char* name : {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Upgrade",
                           "Proxy-Authenticate", "proxy-authorization"}) {
    EXPECT_EQ(header_role(name), HeaderRole::hop_by_hop) << name;
  }
}

TEST(HeaderRole, FramingFields) {
  EXPECT_EQ(header_role("Content-Length"), HeaderRole::framing);
  EXPECT_EQ(header_role("transfer-encoding"), HeaderRole::framing);
}

TEST(HeaderRole, EverythingElseIsEndToEnd) {
  for (const char* name : {"Host", "Trailer", "Expect", "X-Forwarded-For", "Content-Type", "TEX",
                           "Connectionx", "Transfer-Encodin", "", "Keep_Alive"}) {
    EXPECT_EQ(header_role(name), HeaderRole::end_to_end) << name;
  }
}

TEST(KnownField, RecognisesTheFieldsTheProxyActsOn) {
  EXPECT_EQ(known_field("HOST"), KnownField::host);
  EXPECT_EQ(known_field("Expect"), KnownField::expect);
  EXPECT_EQ(known_field("x-forwarded-for"), KnownField::x_forwarded_for);
  EXPECT_EQ(known_field("X-Real-IP"), KnownField::x_real_ip);
  EXPECT_EQ(known_field("X-Forwarded-Proto"), KnownField::x_forwarded_proto);
  EXPECT_EQ(known_field("X-Forwarded-Host"), KnownField::x_forwarded_host);
  EXPECT_EQ(known_field("x-forwarded-port"), KnownField::x_forwarded_port);
  EXPECT_EQ(known_field("Forwarded"), KnownField::forwarded);
  EXPECT_EQ(known_field("X-Request-ID"), KnownField::x_request_id);
  EXPECT_EQ(known_field("X-Forwarded-Hos"), KnownField::other);
}

}  // namespace
}  // namespace ballast::http
