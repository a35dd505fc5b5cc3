// libFuzzer target: what an etcd member (or anything answering on its port) sends to discovery —
// range answers, watch stream messages, lease answers (discovery/etcd_json.h) and the server
// records under a prefix (discovery/server_record.h). Contract checked: every failure is an
// EtcdError (or a refused record), never a crash, another exception or an unbounded allocation;
// a record that parses names a server the configuration would accept, and writes back to itself.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "discovery/etcd_json.h"
#include "discovery/server_record.h"

namespace {

template <typename Call>
void expect_etcd_error_at_most(Call call) {
  try {
    call();
  } catch (const ballast::discovery::EtcdError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast::discovery;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  expect_etcd_error_at_most([&] { decode_range(text); });
  expect_etcd_error_at_most([&] { decode_watch_message(text); });
  expect_etcd_error_at_most([&] { decode_lease_grant(text); });
  expect_etcd_error_at_most([&] { decode_keep_alive(text); });
  expect_etcd_error_at_most([&] {
    MessageSplitter splitter(1 << 16);
    splitter.append(text);
    while (splitter.next()) {
    }
  });
  std::string error;
  if (const auto server = parse_server_record(text, error)) {
    if (server->host.empty() || server->port == 0 || server->weight == 0) {
      std::abort();
    }
    std::string again;
    const auto round_trip = parse_server_record(server_record(*server), again);
    if (!round_trip || !(*round_trip == *server)) {
      std::abort();
    }
  }
  return 0;
}
