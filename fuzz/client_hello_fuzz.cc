// libFuzzer target for the ClientHello reader (src/tls/client_hello.h), which a tcp listener runs
// on the first bytes of every connection it routes by SNI. Besides ASan/UBSan's checks on every
// input, it asserts the reader's contract:
// - a complete hello's server name is at most 255 bytes of lowercase letters, digits, '-', '_'
//   and '.', not ending in '.';
// - more bytes never change a decision: a prefix of the input is incomplete or decides alike
//   (so routing cannot depend on how the bytes were split by the network).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tls/client_hello.h"

namespace {

using ballast::tls::ClientHello;
using ballast::tls::read_client_hello;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "client_hello_fuzz: %s\n", what);
    std::abort();
  }
}

bool valid_name_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

void check_name(const ClientHello& hello) {
  const std::string_view name = hello.server_name();
  check(name.size() <= ballast::tls::kMaxServerNameBytes, "server name too long");
  check(name.empty() || name.back() != '.', "server name ends in a dot");
  for (const char c : name) {
    check(valid_name_byte(c), "server name byte not allowed or not lowercase");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ClientHello whole = read_client_hello(input);
  if (whole.status == ClientHello::Status::complete) {
    check_name(whole);
  }
  if (whole.status == ClientHello::Status::malformed) {
    check(!whole.reason.empty(), "malformed without a reason");
  }
  const ClientHello prefix = read_client_hello(input.substr(0, size / 2));
  if (prefix.status != ClientHello::Status::incomplete) {
    check(prefix.status == whole.status, "a prefix decided otherwise than the whole");
    check(prefix.server_name() == whole.server_name(), "a prefix read another name");
  }
  return 0;
}
