#include "observe/trace_context.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace ballast::observe {
namespace {

// The spec's own example (W3C Trace Context §3.2.2.4 and Appendix).
constexpr std::string_view kTraceHex = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kParentHex = "00f067aa0ba902b7";

std::string traceparent(std::string_view version, std::string_view trace, std::string_view parent,
                        std::string_view flags) {
  return std::string(version) + "-" + std::string(trace) + "-" + std::string(parent) + "-" +
         std::string(flags);
}

TraceParentError parse(std::string_view value) {
  TraceParent out;
  return parse_traceparent(value, out);
}

std::string format(const TraceId& trace, const SpanId& span, bool sampled) {
  char buffer[kTraceParentBytes];
  const size_t written = format_traceparent(trace, span, sampled, buffer);
  return std::string(buffer, written);
}

TEST(TraceParent, ParsesTheSpecExample) {
  TraceParent parent;
  ASSERT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "01"), parent),
            TraceParentError::ok);
  EXPECT_EQ(parent.version, 0);
  EXPECT_EQ(parent.trace_id.bytes[0], 0x4b);
  EXPECT_EQ(parent.trace_id.bytes[15], 0x36);
  EXPECT_EQ(parent.parent_id.bytes[0], 0x00);
  EXPECT_EQ(parent.parent_id.bytes[1], 0xf0);
  EXPECT_EQ(parent.parent_id.bytes[7], 0xb7);
  EXPECT_EQ(parent.flags, 0x01);
  EXPECT_TRUE(parent.sampled());
}

TEST(TraceParent, FlagsOtherThanSampledAreKeptButOnlySampledCounts) {
  TraceParent parent;
  ASSERT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "00"), parent),
            TraceParentError::ok);
  EXPECT_FALSE(parent.sampled());
  ASSERT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "02"), parent),
            TraceParentError::ok);
  EXPECT_EQ(parent.flags, 0x02);
  EXPECT_FALSE(parent.sampled());
  ASSERT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "ff"), parent),
            TraceParentError::ok);
  EXPECT_TRUE(parent.sampled());
}

TEST(TraceParent, SpacesAndTabsAroundTheValueAreIgnored) {
  EXPECT_EQ(parse(" \t" + traceparent("00", kTraceHex, kParentHex, "01") + "\t "),
            TraceParentError::ok);
}

TEST(TraceParent, FormatThenParseRoundTrips) {
  core::Random random(7);
  for (int i = 0; i < 1000; ++i) {
    const TraceId trace = new_trace_id(random);
    const SpanId span = new_span_id(random);
    const bool sampled = i % 2 == 0;
    const std::string text = format(trace, span, sampled);
    ASSERT_EQ(text.size(), kTraceParentBytes);
    TraceParent parsed;
    ASSERT_EQ(parse_traceparent(text, parsed), TraceParentError::ok) << text;
    EXPECT_EQ(parsed.trace_id, trace);
    EXPECT_EQ(parsed.parent_id, span);
    EXPECT_EQ(parsed.sampled(), sampled);
    EXPECT_EQ(format(parsed.trace_id, parsed.parent_id, parsed.sampled()), text);
  }
}

TEST(TraceParent, ParseThenFormatRoundTrips) {
  for (const std::string_view flags : {"00", "01"}) {
    const std::string text = traceparent("00", kTraceHex, kParentHex, flags);
    TraceParent parsed;
    ASSERT_EQ(parse_traceparent(text, parsed), TraceParentError::ok);
    EXPECT_EQ(format(parsed.trace_id, parsed.parent_id, parsed.sampled()), text);
  }
}

TEST(TraceParent, FormatRefusesASmallBuffer) {
  char buffer[kTraceParentBytes - 1];
  EXPECT_EQ(format_traceparent(TraceId{}, SpanId{}, true, buffer), 0u);
}

TEST(TraceParent, FormatWritesTheExactLayout) {
  TraceParent parsed;
  ASSERT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "01"), parsed),
            TraceParentError::ok);
  EXPECT_EQ(format(parsed.trace_id, parsed.parent_id, false),
            traceparent("00", kTraceHex, kParentHex, "00"));
}

struct Rejection {
  std::string value;
  TraceParentError error;
};

TEST(TraceParent, RejectsEachMalformation) {
  const std::string zeros32(32, '0');
  const std::string zeros16(16, '0');
  std::string upper_trace(kTraceHex);
  upper_trace[2] = 'F';
  std::string upper_parent(kParentHex);
  upper_parent[3] = 'A';
  const std::vector<Rejection> cases = {
      {"", TraceParentError::too_short},
      {"00", TraceParentError::too_short},
      {traceparent("00", kTraceHex, kParentHex, "0"), TraceParentError::too_short},
      {traceparent("00", kTraceHex.substr(1), kParentHex, "01"), TraceParentError::too_short},
      {traceparent("00", kTraceHex, kParentHex.substr(1), "01"), TraceParentError::too_short},
      {traceparent("0g", kTraceHex, kParentHex, "01"), TraceParentError::bad_version},
      {traceparent("0A", kTraceHex, kParentHex, "01"), TraceParentError::bad_version},
      {traceparent("ff", kTraceHex, kParentHex, "01"), TraceParentError::reserved_version},
      {"ff", TraceParentError::reserved_version},
      {"00_" + std::string(kTraceHex) + "-" + std::string(kParentHex) + "-01",
       TraceParentError::bad_separator},
      {"00-" + std::string(kTraceHex) + "_" + std::string(kParentHex) + "-01",
       TraceParentError::bad_separator},
      {"00-" + std::string(kTraceHex) + "-" + std::string(kParentHex) + "_01",
       TraceParentError::bad_separator},
      // One hex digit too many in an id: the dash is not where it must be.
      {traceparent("00", std::string(kTraceHex) + "a", kParentHex, "01"),
       TraceParentError::bad_separator},
      {traceparent("00", kTraceHex, std::string(kParentHex) + "a", "01"),
       TraceParentError::bad_separator},
      {traceparent("00", upper_trace, kParentHex, "01"), TraceParentError::bad_trace_id},
      {traceparent("00", "4bf92f3577b34da6a3ce929d0e0e473z", kParentHex, "01"),
       TraceParentError::bad_trace_id},
      {traceparent("00", zeros32, kParentHex, "01"), TraceParentError::zero_trace_id},
      {traceparent("00", kTraceHex, upper_parent, "01"), TraceParentError::bad_parent_id},
      {traceparent("00", kTraceHex, "00f067aa0ba9 2b7", "01"), TraceParentError::bad_parent_id},
      {traceparent("00", kTraceHex, zeros16, "01"), TraceParentError::zero_parent_id},
      {traceparent("00", kTraceHex, kParentHex, "0x"), TraceParentError::bad_flags},
      {traceparent("00", kTraceHex, kParentHex, "0A"), TraceParentError::bad_flags},
      {traceparent("00", kTraceHex, kParentHex, "01") + "-", TraceParentError::trailing_data},
      {traceparent("00", kTraceHex, kParentHex, "01") + "-extra", TraceParentError::trailing_data},
      {traceparent("00", kTraceHex, kParentHex, "010"), TraceParentError::trailing_data},
      // A later version may go on after the flags, but only behind a dash.
      {traceparent("cc", kTraceHex, kParentHex, "01") + "x", TraceParentError::bad_separator},
      {traceparent("cc", kTraceHex, kParentHex, "01") + "0", TraceParentError::bad_separator},
      // A later version still has to get the version 00 fields right.
      {traceparent("01", zeros32, kParentHex, "01") + "-more", TraceParentError::zero_trace_id},
  };
  for (const Rejection& rejection : cases) {
    TraceParent out;
    out.flags = 0x5a;
    EXPECT_EQ(parse_traceparent(rejection.value, out), rejection.error)
        << "\"" << rejection.value << "\": " << describe(parse_traceparent(rejection.value, out));
    EXPECT_EQ(out.flags, 0x5a) << "out written on a rejection: " << rejection.value;
  }
}

TEST(TraceParent, AcceptsLaterVersionsAndIgnoresTheirExtraFields) {
  TraceParent parent;
  ASSERT_EQ(parse_traceparent(traceparent("cc", kTraceHex, kParentHex, "01"), parent),
            TraceParentError::ok);
  EXPECT_EQ(parent.version, 0xcc);
  EXPECT_TRUE(parent.sampled());
  ASSERT_EQ(parse_traceparent(
                traceparent("01", kTraceHex, kParentHex, "00") + "-what-the-future-holds", parent),
            TraceParentError::ok);
  EXPECT_EQ(parent.version, 0x01);
  EXPECT_FALSE(parent.sampled());
  EXPECT_EQ(format(parent.trace_id, parent.parent_id, parent.sampled()),
            traceparent("00", kTraceHex, kParentHex, "00"));
}

TEST(TraceParent, EveryErrorIsDescribed) {
  for (int error = 0; error <= static_cast<int>(TraceParentError::trailing_data); ++error) {
    const std::string_view text = describe(static_cast<TraceParentError>(error));
    EXPECT_FALSE(text.empty());
    EXPECT_NE(text, "unknown");
  }
}

std::string members(size_t count, size_t member_bytes) {
  std::string value;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) {
      value += ',';
    }
    std::string member = "k" + std::to_string(i) + "=";
    member.resize(member_bytes, 'v');
    value += member;
  }
  return value;
}

TEST(TraceState, PassesAShortValueOnTrimmed) {
  EXPECT_EQ(bound_tracestate("  rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\t"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(bound_tracestate(""), "");
  EXPECT_EQ(bound_tracestate(" "), "");
}

TEST(TraceState, DropsMoreThanThirtyTwoMembers) {
  EXPECT_EQ(bound_tracestate(members(32, 8)), members(32, 8));
  EXPECT_EQ(bound_tracestate(members(33, 8)), "");
  // Empty members between commas are allowed and do not count.
  const std::string with_empties = members(32, 8) + ",, ,";
  EXPECT_EQ(bound_tracestate(with_empties), with_empties);
}

TEST(TraceState, CutsALongValueAtAMemberBoundary) {
  const std::string value = members(10, 100);  // 10 * 100 + 9 commas
  const std::string_view kept = bound_tracestate(value);
  EXPECT_LE(kept.size(), kMaxTraceStateBytes);
  EXPECT_EQ(kept, members(5, 100));  // 5 * 100 + 4 = 504 bytes; a sixth would make 605
  EXPECT_EQ(kept.data(), value.data()) << "a view into the caller's buffer";
}

TEST(TraceState, ASingleMemberOverTheBoundIsDropped) {
  EXPECT_EQ(bound_tracestate(members(1, kMaxTraceStateBytes + 1)), "");
  EXPECT_EQ(bound_tracestate(members(1, kMaxTraceStateBytes)), members(1, kMaxTraceStateBytes));
}

TEST(Ids, AreUniqueAndNeverZero) {
  core::Random random(42);
  std::set<std::array<uint8_t, 16>> traces;
  std::set<std::array<uint8_t, 8>> spans;
  for (int i = 0; i < 20000; ++i) {
    const TraceId trace = new_trace_id(random);
    const SpanId span = new_span_id(random);
    ASSERT_FALSE(trace.is_zero());
    ASSERT_FALSE(span.is_zero());
    traces.insert(trace.bytes);
    spans.insert(span.bytes);
  }
  EXPECT_EQ(traces.size(), 20000u);
  EXPECT_EQ(spans.size(), 20000u);
}

TEST(Ids, DifferentSeedsGiveDifferentIds) {
  core::Random first(1);
  core::Random second(2);
  EXPECT_NE(new_trace_id(first), new_trace_id(second));
  EXPECT_NE(new_span_id(first), new_span_id(second));
}

TEST(Ids, ZeroIsZero) {
  EXPECT_TRUE(TraceId{}.is_zero());
  EXPECT_TRUE(SpanId{}.is_zero());
  SpanId one;
  one.bytes[7] = 1;
  EXPECT_FALSE(one.is_zero());
}

TEST(Hex, WritesLowercase) {
  const std::array<uint8_t, 3> bytes = {0x00, 0xab, 0xf9};
  char out[6];
  ASSERT_EQ(write_hex(bytes, out), 6u);
  EXPECT_EQ(std::string_view(out, 6), "00abf9");
}

TEST(Sampling, TheParentsFlagDecides) {
  core::Random random(3);
  TraceParent parent;
  parent.flags = kSampledFlag;
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(decide_sampled(&parent, 0.0, random));
  }
  parent.flags = 0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(decide_sampled(&parent, 1.0, random));
  }
}

TEST(Sampling, AParentDecisionDrawsNothing) {
  core::Random used(9);
  core::Random untouched(9);
  TraceParent parent;
  decide_sampled(&parent, 0.5, used);
  EXPECT_EQ(used.next(), untouched.next());
}

TEST(Sampling, RateZeroNeverAndOneAlways) {
  core::Random random(5);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_FALSE(decide_sampled(nullptr, 0.0, random));
    ASSERT_TRUE(decide_sampled(nullptr, 1.0, random));
  }
}

TEST(Sampling, FollowsTheRate) {
  // Binomial(n, p): a standard deviation of sqrt(n p (1 - p)); six of them is far outside chance
  // for any seed, yet tight enough to catch a wrong comparison or scale.
  constexpr int kDraws = 100'000;
  for (const double rate : {0.01, 0.25, 0.5, 0.9}) {
    core::Random random(11);
    int sampled = 0;
    for (int i = 0; i < kDraws; ++i) {
      sampled += decide_sampled(nullptr, rate, random) ? 1 : 0;
    }
    const double mean = kDraws * rate;
    const double bound = 6 * std::sqrt(kDraws * rate * (1 - rate));
    EXPECT_NEAR(sampled, mean, bound) << "rate " << rate;
  }
}

TEST(RequestTrace, ContinuesTheCallersTrace) {
  core::Random random(13);
  const std::string header = traceparent("00", kTraceHex, kParentHex, "01");
  const std::string state = "congo=t61rcWkgMzE";
  const RequestTrace trace = begin_request_trace(header, state, 0.0, random);
  TraceParent parent;
  ASSERT_EQ(parse_traceparent(header, parent), TraceParentError::ok);
  EXPECT_TRUE(trace.has_parent());
  EXPECT_EQ(trace.trace_id, parent.trace_id);
  EXPECT_EQ(trace.parent_span_id, parent.parent_id);
  EXPECT_FALSE(trace.span_id.is_zero());
  EXPECT_NE(trace.span_id, parent.parent_id);
  EXPECT_TRUE(trace.sampled) << "the caller sampled it, whatever our rate";
  EXPECT_EQ(trace.tracestate, state);
}

TEST(RequestTrace, HonoursAnUnsampledCaller) {
  core::Random random(13);
  const RequestTrace trace =
      begin_request_trace(traceparent("00", kTraceHex, kParentHex, "00"), "", 1.0, random);
  EXPECT_TRUE(trace.has_parent());
  EXPECT_FALSE(trace.sampled);
}

TEST(RequestTrace, StartsAFreshTraceWhenAbsentOrInvalid) {
  core::Random random(17);
  const RequestTrace absent = begin_request_trace("", "congo=x", 1.0, random);
  EXPECT_FALSE(absent.has_parent());
  EXPECT_FALSE(absent.trace_id.is_zero());
  EXPECT_FALSE(absent.span_id.is_zero());
  EXPECT_TRUE(absent.sampled);
  EXPECT_EQ(absent.tracestate, "") << "tracestate means nothing without a traceparent";

  const RequestTrace invalid =
      begin_request_trace(traceparent("ff", kTraceHex, kParentHex, "01"), "congo=x", 0.0, random);
  EXPECT_FALSE(invalid.has_parent());
  EXPECT_FALSE(invalid.sampled) << "the rate decides once the parent is refused";
  EXPECT_EQ(invalid.tracestate, "");
  TraceParent refused;
  ASSERT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "01"), refused),
            TraceParentError::ok);
  EXPECT_NE(invalid.trace_id, refused.trace_id) << "a fresh id, not the refused one's";
  EXPECT_NE(invalid.trace_id, absent.trace_id);
}

}  // namespace
}  // namespace ballast::observe
