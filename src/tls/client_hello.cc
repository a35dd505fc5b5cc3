#include "tls/client_hello.h"

#include <algorithm>
#include <cstring>

namespace ballast::tls {
namespace {

using Status = ClientHello::Status;

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHelloMessage = 1;
constexpr size_t kRecordHeaderBytes = 5;
constexpr size_t kMaxRecordBytes = 16 * 1024;  // a plaintext record's fragment (RFC 8446 §5.1)
constexpr size_t kMessageHeaderBytes = 4;      // type and a 24-bit length
constexpr uint16_t kServerNameExtension = 0;
constexpr uint8_t kHostNameType = 0;

ClientHello outcome(Status status, std::string_view reason = {}) noexcept {
  ClientHello hello;
  hello.status = status;
  hello.reason = reason;
  return hello;
}

// Big-endian integers and byte runs from a span, every read bounds-checked: a read past the end
// sets `failed` and yields zeros, so a parse checks once at each decision.
class Reader {
 public:
  Reader(const unsigned char* data, size_t size) noexcept : data_(data), left_(size) {}

  uint32_t number(size_t bytes) noexcept {
    if (!has(bytes)) {
      return 0;
    }
    uint32_t value = 0;
    for (size_t i = 0; i < bytes; ++i) {
      value = (value << 8) | data_[i];
    }
    advance(bytes);
    return value;
  }
  // The next `bytes` as a reader of their own.
  Reader sub(size_t bytes) noexcept {
    if (!has(bytes)) {
      return Reader(data_, 0);
    }
    Reader inner(data_, bytes);
    advance(bytes);
    return inner;
  }
  void skip(size_t bytes) noexcept {
    if (has(bytes)) {
      advance(bytes);
    }
  }
  const unsigned char* data() const noexcept { return data_; }
  size_t left() const noexcept { return left_; }
  bool failed() const noexcept { return failed_; }

 private:
  bool has(size_t bytes) noexcept {
    failed_ |= bytes > left_;
    return !failed_;
  }
  void advance(size_t bytes) noexcept {
    data_ += bytes;
    left_ -= bytes;
  }

  const unsigned char* data_;
  size_t left_;
  bool failed_ = false;
};

// The handshake message, gathered from the records it spans into `message` (capacity
// kMessageHeaderBytes + kMaxClientHelloBytes); its size, or 0 with `status` set when it is not
// all there or not acceptable.
size_t gather_message(std::string_view stream, unsigned char* message, Status& status,
                      std::string_view& reason) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(stream.data());
  constexpr size_t kCapacity = kMessageHeaderBytes + kMaxClientHelloBytes;
  size_t have = 0;  // message bytes gathered
  size_t need = 0;  // the message's size, once its header is in
  size_t at = 0;    // the next record's place in the stream
  for (;;) {
    if (need == 0 && have >= kMessageHeaderBytes) {
      if (message[0] != kClientHelloMessage) {
        status = Status::malformed;
        reason = "the first handshake message is not a ClientHello";
        return 0;
      }
      const size_t body = (size_t{message[1]} << 16) | (size_t{message[2]} << 8) | message[3];
      if (body > kMaxClientHelloBytes) {
        status = Status::malformed;
        reason = "ClientHello too large";
        return 0;
      }
      need = kMessageHeaderBytes + body;
    }
    if (need != 0 && have >= need) {
      return need;
    }
    if (stream.size() - at < kRecordHeaderBytes) {
      status = Status::incomplete;  // also when the last record's rest has not arrived
      return 0;
    }
    const unsigned char* header = bytes + at;
    const size_t length = (size_t{header[3]} << 8) | header[4];
    if (header[0] != kHandshakeRecord || header[1] != 3 || length == 0 ||
        length > kMaxRecordBytes) {
      status = Status::malformed;
      reason = "not a TLS handshake record";
      return 0;
    }
    at += kRecordHeaderBytes;
    const size_t available = std::min(length, stream.size() - at);
    const size_t copied = std::min(available, kCapacity - have);
    std::memcpy(message + have, bytes + at, copied);
    have += copied;
    at += available;
  }
}

bool valid_host_name(const unsigned char* name, size_t size) noexcept {
  if (size == 0 || size > kMaxServerNameBytes || name[size - 1] == '.') {
    return false;
  }
  return std::all_of(name, name + size, [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// The server_name extension's data (RFC 6066 §3): one host_name, copied lowercased.
bool read_server_name(Reader extension, ClientHello& hello) noexcept {
  Reader list = extension.sub(extension.number(2));
  if (extension.failed() || extension.left() != 0 || list.left() == 0) {
    return false;
  }
  bool seen_host_name = false;
  while (list.left() != 0) {
    const uint32_t type = list.number(1);
    Reader name = list.sub(list.number(2));
    if (list.failed()) {
      return false;
    }
    if (type != kHostNameType) {
      continue;  // a name type defined later is skipped
    }
    if (seen_host_name || !valid_host_name(name.data(), name.left())) {
      return false;
    }
    seen_host_name = true;
    for (size_t i = 0; i < name.left(); ++i) {
      const unsigned char c = name.data()[i];
      hello.name_[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    hello.name_length_ = name.left();
  }
  return seen_host_name;
}

}  // namespace

ClientHello read_client_hello(std::string_view stream) noexcept {
  if (stream.empty()) {
    return outcome(Status::incomplete);
  }
  // A TLS client's first byte is a handshake record's, and its version's major is 3.
  if (static_cast<uint8_t>(stream[0]) != kHandshakeRecord ||
      (stream.size() > 1 && stream[1] != 3)) {
    return outcome(Status::not_tls);
  }
  std::array<unsigned char, kMessageHeaderBytes + kMaxClientHelloBytes> message;
  Status status = Status::complete;
  std::string_view reason;
  const size_t size = gather_message(stream, message.data(), status, reason);
  if (size == 0) {
    return outcome(status, reason);
  }
  Reader body(message.data() + kMessageHeaderBytes, size - kMessageHeaderBytes);
  body.skip(2 + 32);                              // legacy_version, random
  body.skip(body.number(1));                      // legacy_session_id
  const uint32_t cipher_suites = body.number(2);  // two bytes each, at least one
  body.skip(cipher_suites);
  const uint32_t compression_methods = body.number(1);  // at least one
  body.skip(compression_methods);
  if (body.failed() || cipher_suites < 2 || cipher_suites % 2 != 0 || compression_methods == 0) {
    return outcome(Status::malformed, "malformed ClientHello");
  }
  ClientHello hello;
  hello.status = Status::complete;
  if (body.left() == 0) {
    return hello;  // no extensions (TLS 1.2 allows it): no server name
  }
  Reader extensions = body.sub(body.number(2));
  if (body.failed() || body.left() != 0) {
    return outcome(Status::malformed, "malformed ClientHello extensions");
  }
  bool seen_server_name = false;
  while (extensions.left() != 0) {
    const uint32_t type = extensions.number(2);
    const Reader data = extensions.sub(extensions.number(2));
    if (extensions.failed()) {
      return outcome(Status::malformed, "malformed ClientHello extensions");
    }
    if (type != kServerNameExtension) {
      continue;
    }
    if (seen_server_name || !read_server_name(data, hello)) {
      return outcome(Status::malformed, "malformed server_name extension");
    }
    seen_server_name = true;
  }
  return hello;
}

}  // namespace ballast::tls
