// libFuzzer target for the HTTP/1.1 parsers and serializers (src/http).
//
// Input: [mode byte][seed byte][payload]. The mode picks what the payload is fed to (a request
// head, a response head, a chunked body, an error response's message); the seed picks the limits
// and where the payload is cut into pieces. Every call gets a heap copy of exactly the bytes it
// may read, freed before the next, so AddressSanitizer catches a read past the input and a
// pointer kept from an earlier call.
//
// Invariants checked (a violation aborts, and libFuzzer saves the input):
//   - fed whole or in pieces, the same bytes give the same result;
//   - a complete head lies within the input and the limit, its views within the head, and its
//     framing agrees with its fields; an error carries a status and a reason;
//   - a serialized head fits kSerializeSlackBytes and parses back to the same message;
//   - a chunked body's consumed count never exceeds the input, its data lies within the consumed
//     bytes, and a finished body ends in CRLF.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/chunked_parser.h"
#include "http/error_response.h"
#include "http/header_role.h"
#include "http/request_parser.h"
#include "http/request_target.h"
#include "http/response_parser.h"
#include "http/serializer.h"

namespace ballast::http {
namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

// Exactly `bytes`, on the heap, so that ASan bounds every read.
class ExactCopy {
 public:
  explicit ExactCopy(std::string_view bytes)
      : data_(new char[bytes.size() + (bytes.empty() ? 1 : 0)]), size_(bytes.size()) {
    std::memcpy(data_.get(), bytes.data(), bytes.size());
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_;
};

// Up to 8 increasing cut points in (0, size], ending at size, from the seed.
std::vector<size_t> cut_points(size_t size, uint8_t seed) {
  std::vector<size_t> cuts;
  uint32_t state = seed * 2654435761u + static_cast<uint32_t>(size) + 1;
  const int pieces = 1 + seed % 8;
  for (int i = 0; i < pieces - 1 && size > 0; ++i) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    cuts.push_back(1 + state % size);
  }
  cuts.push_back(size);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  return cuts;
}

Limits limits_from(uint8_t seed) {
  Limits limits;
  if (seed & 0x40) {
    limits.max_head_bytes = 256;
  }
  if (seed & 0x80) {
    limits.max_headers = 4;
  }
  return limits;
}

bool within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

size_t offset_in(std::string_view inner, std::string_view outer) {
  return inner.empty() ? 0 : static_cast<size_t>(inner.data() - outer.data());
}

void check_error(const ParseResult& result) {
  check(result.reason.size() > 0, "error without a reason");
}

void check_fields(const HeaderFields& fields, std::string_view head, uint32_t max_headers) {
  check(fields.count <= max_headers && fields.count <= kMaxHeaders, "too many fields");
  for (const Header& field : fields.all()) {
    check(!field.name.empty() && within(field.name, head), "field name outside the head");
    check(within(field.value, head), "field value outside the head");
    const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    check(field.value.empty() || (!is_ows(field.value.front()) && !is_ows(field.value.back())),
          "untrimmed value");
  }
}

// ---- Requests ----

void check_request_head(const RequestHead& head, std::string_view buffer, const Limits& limits) {
  check(head.head_bytes <= buffer.size() && head.head_bytes <= limits.max_head_bytes,
        "head beyond the input or the limit");
  check(head.skipped_bytes + 4 <= head.head_bytes, "skipped bytes beyond the head");
  const std::string_view text =
      buffer.substr(head.skipped_bytes, head.head_bytes - head.skipped_bytes);
  check(text.ends_with("\r\n\r\n"), "head does not end in an empty line");
  check(!head.method.empty() && head.method.data() == text.data(), "method not at the start");
  check(!head.target.empty() && within(head.target, text), "target outside the head");
  check(head.version_minor <= 1, "bad version");
  check_fields(head.headers, text, std::min(limits.max_headers, kMaxHeaders));
  check(head.has_host || (head.version_minor == 0 && head.host.empty()), "missing Host on 1.1");
  check(within(head.host, text), "host outside the head");
  check(head.body_kind != BodyKind::until_close, "request read until close");
  check(head.body_kind == BodyKind::content_length || head.content_length == 0, "stray length");
  check(head.body_kind != BodyKind::chunked || head.version_minor == 1, "chunked HTTP/1.0");
  check(!head.expect_continue || head.version_minor == 1, "100-continue on HTTP/1.0");
}

// Serializes the request for upstream and parses it back.
void check_request_round_trip(const RequestHead& head) {
  const ForwardContext context{
      .client_ip = "192.0.2.1", .scheme = "http", .host_if_absent = "up", .port = "80"};
  const size_t host = head.has_host ? head.host.size() : context.host_if_absent.size();
  std::vector<char> out(head.head_bytes + kSerializeSlackBytes + 3 * context.client_ip.size() +
                        context.scheme.size() + context.port.size() + 3 * host +
                        4 * head.headers.count);
  const size_t written = write_upstream_request(head, context, out);
  check(written > 0, "upstream request did not fit the documented bound");
  std::vector<Header> expected;
  if (!head.has_host) {
    expected.push_back({"Host", context.host_if_absent});
  }
  for (uint32_t i = 0; i < head.headers.count; ++i) {
    const KnownField known = known_field(head.headers.lines[i].name);
    const bool rewritten =
        known == KnownField::x_forwarded_for || known == KnownField::x_real_ip ||
        known == KnownField::x_forwarded_proto || known == KnownField::x_forwarded_host ||
        known == KnownField::x_forwarded_port || known == KnownField::forwarded ||
        known == KnownField::x_request_id || known == KnownField::expect;
    if (head.headers.forwarded(i) && !rewritten) {
      expected.push_back(head.headers.lines[i]);
    }
  }
  if (expected.size() + 10 > kMaxHeaders) {
    return;  // the added fields would pass the field limit
  }
  const ExactCopy copy({out.data(), written});
  RequestHeadParser parser({.max_head_bytes = written, .max_headers = kMaxHeaders});
  RequestHead again;
  const ParseResult result = parser.parse(copy.view(), again);
  check(result.status == ParseResult::complete, "serialized request does not parse");
  check(again.head_bytes == written, "serialized request has trailing bytes");
  check(again.method == head.method && again.target == head.target, "request line changed");
  check(again.version_minor == 1, "not sent as HTTP/1.1");
  check(again.body_kind == head.body_kind && again.content_length == head.content_length,
        "framing changed");
  check(again.keep_alive, "upstream connection not kept alive");
  check(again.headers.count >= expected.size(), "fields lost");
  for (size_t i = 0; i < expected.size(); ++i) {
    check(again.headers.lines[i].name == expected[i].name &&
              again.headers.lines[i].value == expected[i].value,
          "forwarded field changed");
  }
}

void check_chunked_body(std::string_view body, uint8_t seed);

// The normalised target is never longer, keeps no dot-segment or empty segment in its path, and
// normalising it again changes nothing.
void check_target_normalisation(const RequestHead& head) {
  std::string target(head.target);
  RequestHead request = head;
  const TargetError error = normalize_request_target(target, request);
  if (error.status != 0) {
    check(error.status == 400 && !error.reason.empty(), "bad target error");
    return;
  }
  check(request.target.size() <= head.target.size(), "normalised target grew");
  if (request.target == "*") {
    return;
  }
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  check(path.starts_with('/'), "normalised path is not absolute");
  for (const std::string_view bad : {"//", "/./", "/../"}) {
    check(path.find(bad) == std::string_view::npos, "dot or empty segment left");
  }
  check(!path.ends_with("/.") && !path.ends_with("/.."), "trailing dot segment left");
  std::string again(request.target);
  RequestHead second = request;
  check(normalize_request_target(again, second).status == 0 && second.target == request.target,
        "normalisation is not idempotent");
}

void fuzz_request(std::string_view input, uint8_t seed) {
  const Limits limits = limits_from(seed);
  RequestHeadParser whole_parser(limits);
  RequestHead whole;
  const ExactCopy whole_copy(input);
  const ParseResult whole_result = whole_parser.parse(whole_copy.view(), whole);

  RequestHeadParser parser(limits);
  RequestHead pieces;
  ParseResult result;
  std::unique_ptr<ExactCopy> last;
  for (const size_t cut : cut_points(input.size(), seed)) {
    last = std::make_unique<ExactCopy>(input.substr(0, cut));
    result = parser.parse(last->view(), pieces);
    if (result.status != ParseResult::incomplete) {
      break;
    }
  }
  check(result.status == whole_result.status, "pieces and whole disagree on status");
  check(result.error_status == whole_result.error_status, "pieces and whole disagree on error");
  check(result.reason == whole_result.reason, "pieces and whole disagree on the reason");
  if (whole_result.status == ParseResult::error) {
    check_error(whole_result);
    const uint16_t status = whole_result.error_status;
    check(status == 400 || status == 431 || status == 501 || status == 505, "bad error status");
    return;
  }
  if (whole_result.status != ParseResult::complete) {
    return;
  }
  check_request_head(whole, whole_copy.view(), limits);
  check_request_head(pieces, last->view(), limits);
  check_target_normalisation(whole);
  check(pieces.head_bytes == whole.head_bytes && pieces.headers.count == whole.headers.count &&
            pieces.headers.not_forwarded == whole.headers.not_forwarded &&
            pieces.body_kind == whole.body_kind && pieces.keep_alive == whole.keep_alive,
        "pieces and whole disagree on the head");
  for (uint32_t i = 0; i < whole.headers.count; ++i) {
    check(offset_in(pieces.headers.lines[i].value, last->view()) ==
                  offset_in(whole.headers.lines[i].value, whole_copy.view()) &&
              pieces.headers.lines[i].value == whole.headers.lines[i].value,
          "pieces and whole disagree on a field");
  }
  check_request_round_trip(whole);
  if (whole.body_kind == BodyKind::chunked) {
    check_chunked_body(input.substr(whole.head_bytes), seed);
  }
}

// ---- Responses ----

void check_response_round_trip(const ResponseHead& head, bool request_was_head) {
  const Header extra[] = {{"Set-Cookie", "route=a1"}};
  std::vector<char> out(head.head_bytes + kSerializeSlackBytes + 32);
  const size_t written = write_client_response(head, ClientDelivery::keep_alive, extra, {}, out);
  check(written > 0, "client response did not fit the documented bound");
  uint32_t forwarded = 0;
  for (uint32_t i = 0; i < head.headers.count; ++i) {
    forwarded += head.headers.forwarded(i) ? 1 : 0;
  }
  if (forwarded + 4 > kMaxHeaders) {
    return;
  }
  const ExactCopy copy({out.data(), written});
  ResponseHeadParser parser({.max_head_bytes = written, .max_headers = kMaxHeaders});
  ResponseHead again;
  const ParseResult result = parser.parse(copy.view(), request_was_head, again);
  check(result.status == ParseResult::complete, "serialized response does not parse");
  check(again.head_bytes == written, "serialized response has trailing bytes");
  check(again.status == head.status, "status changed");
  check(head.reason.empty() || again.reason == head.reason, "reason changed");
  check(again.body_kind == head.body_kind, "body framing changed");
  if (head.status >= 200 && head.status != 204) {
    check(again.chunked == head.chunked && again.has_content_length == head.has_content_length &&
              again.content_length == head.content_length,
          "declared framing changed");
    check(again.keep_alive == (head.body_kind != BodyKind::until_close), "persistence changed");
  }
  uint32_t index = 0;
  for (uint32_t i = 0; i < head.headers.count; ++i) {
    if (head.headers.forwarded(i)) {
      check(again.headers.lines[index].name == head.headers.lines[i].name &&
                again.headers.lines[index].value == head.headers.lines[i].value,
            "forwarded field changed");
      ++index;
    }
  }
}

void fuzz_response(std::string_view input, uint8_t seed, bool request_was_head) {
  const Limits limits = limits_from(seed);
  ResponseHeadParser whole_parser(limits);
  ResponseHead whole;
  const ExactCopy whole_copy(input);
  const ParseResult whole_result = whole_parser.parse(whole_copy.view(), request_was_head, whole);

  ResponseHeadParser parser(limits);
  ResponseHead pieces;
  ParseResult result;
  std::unique_ptr<ExactCopy> last;
  for (const size_t cut : cut_points(input.size(), seed)) {
    last = std::make_unique<ExactCopy>(input.substr(0, cut));
    result = parser.parse(last->view(), request_was_head, pieces);
    if (result.status != ParseResult::incomplete) {
      break;
    }
  }
  check(result.status == whole_result.status && result.reason == whole_result.reason,
        "pieces and whole disagree");
  if (whole_result.status == ParseResult::error) {
    check_error(whole_result);
    check(whole_result.error_status == 502, "response error is not 502");
    return;
  }
  if (whole_result.status != ParseResult::complete) {
    return;
  }
  const std::string_view text = whole_copy.view().substr(0, whole.head_bytes);
  check(whole.head_bytes <= limits.max_head_bytes && text.ends_with("\r\n\r\n"), "bad head_bytes");
  check(whole.status >= 100 && whole.status <= 599, "status out of range");
  check(within(whole.reason, text), "reason outside the head");
  check_fields(whole.headers, text, std::min(limits.max_headers, kMaxHeaders));
  check(!(whole.chunked && whole.has_content_length), "two framings");
  check(whole.body_kind != BodyKind::until_close || !whole.keep_alive, "until close, kept alive");
  check(pieces.head_bytes == whole.head_bytes && pieces.status == whole.status &&
            pieces.body_kind == whole.body_kind && pieces.headers.count == whole.headers.count &&
            pieces.headers.not_forwarded == whole.headers.not_forwarded,
        "pieces and whole disagree on the head");
  check_response_round_trip(whole, request_was_head);
  if (whole.body_kind == BodyKind::chunked) {
    check_chunked_body(input.substr(whole.head_bytes), seed);
  }
}

// ---- Chunked bodies ----

struct Decoded {
  size_t consumed = 0;
  bool done = false;
  bool error = false;
  std::string_view reason;
  std::string payload;
};

// Decodes one piece, calling decode() until it is used up, done or failed.
void decode_piece(ChunkedParser& parser, std::string_view piece, Decoded& decoded) {
  while (!piece.empty() && !decoded.done && !decoded.error) {
    const ExactCopy copy(piece);
    const ChunkResult result = parser.decode(copy.view());
    check(result.consumed <= piece.size(), "consumed more than the input");
    check(result.data.size() <= result.consumed, "data beyond the consumed bytes");
    if (!result.data.empty()) {
      check(result.data.data() + result.data.size() == copy.view().data() + result.consumed,
            "data does not end at consumed");
    }
    check(!result.error || !result.reason.empty(), "chunk error without a reason");
    check(!(result.done && result.error), "done and failed");
    check(result.consumed > 0 || result.done || result.error, "no progress");
    decoded.payload.append(result.data);
    decoded.consumed += result.consumed;
    decoded.done = result.done;
    decoded.error = result.error;
    decoded.reason = result.reason;
    piece.remove_prefix(result.consumed);
  }
}

// Forwards one piece: a single consume() call takes it all unless the body ends or fails in it.
void consume_piece(ChunkedParser& parser, std::string_view piece, Decoded& forwarded) {
  const ExactCopy copy(piece);
  const ChunkResult result = parser.consume(copy.view());
  check(result.consumed <= piece.size(), "consumed more than the input");
  check(result.data.empty(), "consume() returned data");
  check(result.done || result.error || result.consumed == piece.size(), "consume() stopped short");
  forwarded.consumed += result.consumed;
  forwarded.done = result.done;
  forwarded.error = result.error;
  forwarded.reason = result.reason;
}

void check_chunked_body(std::string_view body, uint8_t seed) {
  ChunkedParser whole_parser;
  Decoded whole;
  decode_piece(whole_parser, body, whole);
  ChunkedParser decoder;
  ChunkedParser forwarder;
  Decoded decoded;
  Decoded forwarded;
  size_t from = 0;
  for (const size_t cut : cut_points(body.size(), seed)) {
    const std::string_view piece = body.substr(from, cut - from);
    decode_piece(decoder, piece, decoded);
    if (!forwarded.done && !forwarded.error) {
      consume_piece(forwarder, piece, forwarded);
    }
    from = cut;
  }
  check(decoded.consumed == whole.consumed && decoded.done == whole.done &&
            decoded.error == whole.error && decoded.reason == whole.reason &&
            decoded.payload == whole.payload,
        "chunked pieces and whole disagree");
  check(forwarded.consumed == whole.consumed && forwarded.done == whole.done &&
            forwarded.error == whole.error && forwarded.reason == whole.reason,
        "consume() and decode() disagree");
  check(whole.payload.size() <= whole.consumed, "payload larger than the body");
  if (whole.done) {
    check(body.substr(0, whole.consumed).ends_with("\r\n"), "body does not end in CRLF");
  }
}

// ---- Error responses ----

void fuzz_error_response(std::string_view message, uint8_t seed) {
  const auto status = static_cast<uint16_t>(400 + seed % 200);
  std::vector<char> out(message.size() + 256);
  const Header extra[] = {{"Retry-After", "1"}};
  const size_t written = write_error_response(status, message, extra, out);
  check(written > 0, "error response did not fit");
  const ExactCopy copy({out.data(), written});
  ResponseHeadParser parser;
  ResponseHead head;
  const ParseResult result = parser.parse(copy.view(), false, head);
  // A message is any bytes, and the body is framed by length, so the head always parses.
  check(result.status == ParseResult::complete, "error response does not parse");
  check(head.status == status && !head.keep_alive, "error response head changed");
  check(head.head_bytes + head.content_length == written, "error response length wrong");
}

}  // namespace
}  // namespace ballast::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const uint8_t mode = data[0];
  const uint8_t seed = data[1];
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (mode % 4) {
    case 0:
      ballast::http::fuzz_request(payload, seed);
      break;
    case 1:
      ballast::http::fuzz_response(payload, seed, (mode & 0x10) != 0);
      break;
    case 2:
      ballast::http::check_chunked_body(payload, seed);
      break;
    default:
      ballast::http::fuzz_error_response(payload, seed);
      break;
  }
  return 0;
}
