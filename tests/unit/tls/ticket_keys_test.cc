#include "tls/ticket_keys.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace ballast::tls {
namespace {

constexpr uint64_t kHourNs = 3'600'000 * core::kNsPerMs;

TEST(ParseTicketKeys, TakesBase64LinesOfEightyBytesAndSkipsCommentsAndBlankLines) {
  const std::string key(108, 'A');  // 80 zero bytes, base64
  std::string error;
  const auto keys = parse_ticket_keys("# rotated daily\n" + key + "\n\n" + key + "\r\n", error);
  ASSERT_TRUE(keys) << error;
  EXPECT_EQ(keys->size(), 2u);
}

TEST(ParseTicketKeys, RefusesShortLinesAndEmptyFiles) {
  std::string error;
  EXPECT_FALSE(parse_ticket_keys(std::string(64, 'A') + "\n", error));
  EXPECT_EQ(error, "line 1: expected 80 bytes in base64 (openssl rand 80 | base64 -w0)");
  EXPECT_FALSE(parse_ticket_keys("# nothing\n", error));
  EXPECT_EQ(error, "no key in the file");
  EXPECT_FALSE(parse_ticket_keys(std::string(107, 'A') + "!\n", error));
}

TEST(TicketKeyRing, GeneratedKeysRotateAndTheLastThreeStillOpen) {
  const std::shared_ptr<TicketKeyRing> ring = TicketKeyRing::generated(3'600'000);
  const uint64_t start = core::monotonic_now_ns();
  std::vector<TicketKey> sealed;
  for (int hour = 0; hour < 4; ++hour) {
    sealed.push_back(ring->sealing_key(start + hour * kHourNs + kHourNs / 2 + 1));
  }
  // One key per hour, each new.
  for (size_t i = 1; i < sealed.size(); ++i) {
    EXPECT_NE(sealed[i].name, sealed[i - 1].name);
  }
  bool renew = true;
  ASSERT_TRUE(ring->opening_key(sealed[3].name.data(), renew));
  EXPECT_FALSE(renew);  // the sealing key itself
  ASSERT_TRUE(ring->opening_key(sealed[1].name.data(), renew));
  EXPECT_TRUE(renew);  // opens, but the client gets a ticket under the new key
  EXPECT_FALSE(ring->opening_key(sealed[0].name.data(), renew));  // three rotations ago
}

TEST(TicketKeyRing, FixedKeysSealWithTheFirstAndOpenWithAny) {
  TicketKey first;
  first.name.fill(1);
  TicketKey second;
  second.name.fill(2);
  const std::shared_ptr<TicketKeyRing> ring = TicketKeyRing::fixed({first, second});
  EXPECT_EQ(ring->sealing_key(core::monotonic_now_ns() + 1000 * kHourNs).name, first.name);
  bool renew = false;
  EXPECT_TRUE(ring->opening_key(second.name.data(), renew));
  EXPECT_TRUE(renew);
  TicketKey unknown;
  unknown.name.fill(3);
  EXPECT_FALSE(ring->opening_key(unknown.name.data(), renew));
}

}  // namespace
}  // namespace ballast::tls
