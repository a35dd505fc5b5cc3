#pragma once
// The JSON side of etcd's v3 gateway, apart from the sockets so that it can be tested without an
// etcd: the request bodies etcd_client.cc sends and the decoding of what comes back.
//
// The gateway speaks proto3's JSON mapping: bytes (keys, values) are base64, int64 fields are
// decimal strings, and fields at their zero value are left out (an empty range has no "kvs", a
// put event no "type", a key without a lease no "lease"). Everything decoded here is untrusted:
// malformed JSON, a wrong type or an out-of-range number is an EtcdError, never a crash.
//
// Threading: pure functions; a MessageSplitter belongs to one watch.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/etcd_client.h"

namespace ballast::discovery {

std::string base64_encode(std::string_view bytes);
// Standard alphabet, padded (what Go's encoding/json writes for []byte); throws EtcdError.
std::string base64_decode(std::string_view text);

// The end of the range holding every key that starts with `prefix`: the prefix with its last
// byte incremented, 0xff bytes dropped and carried (clientv3.GetPrefixRangeEnd); "\0" — every
// key — when no byte can be incremented.
std::string prefix_range_end(std::string_view prefix);

// Request bodies.
std::string range_prefix_request(std::string_view prefix);
std::string put_request(std::string_view key, std::string_view value, int64_t lease);
std::string delete_request(std::string_view key);
std::string lease_grant_request(int64_t ttl_s);
std::string lease_request(int64_t lease);  // keepalive and revoke: {"ID": "…"}
std::string watch_prefix_request(std::string_view prefix, int64_t start_revision);

// Answers. Each throws EtcdError when the answer is not what the API documents.
EtcdRange decode_range(std::string_view body);
int64_t decode_lease_grant(std::string_view body);
// One message of /v3/lease/keepalive's stream: whether the lease still lives (etcd leaves the
// TTL out, or sends 0, for a lease that expired or was revoked).
bool decode_keep_alive(std::string_view message);

struct WatchMessage {
  int64_t revision = 0;  // the store's revision after these events (0 if etcd did not say)
  std::vector<EtcdEvent> events;
};
// One message of /v3/watch's stream. Throws EtcdCompacted when the watch was cancelled because
// its start revision is compacted, EtcdError for any other cancellation or a streamed error
// (etcd's "no leader" among them).
WatchMessage decode_watch_message(std::string_view message);

// What a non-2xx answer says: "etcd answered 404: etcdserver: requested lease not found".
std::string describe_error_answer(int status, std::string_view body);

// Cuts a streamed body into its messages: the gateway writes each as one JSON object and a
// "\n" (a JSON text holds no raw newline: strings escape it), whatever the HTTP chunks are.
class MessageSplitter {
 public:
  explicit MessageSplitter(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  void append(std::string_view payload) { pending_.append(payload); }
  // The next whole message, or nullopt until more arrives. Throws EtcdError when a message
  // grows past max_message_bytes.
  std::optional<std::string> next();
  // Once the stream has ended: what follows the last "\n", if anything but blanks (grpc-gateway
  // ends a stream's error message without one).
  std::optional<std::string> rest();

 private:
  size_t max_message_bytes_;
  std::string pending_;
  size_t start_ = 0;    // where the next message begins in pending_
  size_t scanned_ = 0;  // pending_ holds no '\n' from start_ to here
};

}  // namespace ballast::discovery
