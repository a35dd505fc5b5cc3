#include "config/protocol_reader.h"

#include <array>
#include <string>

namespace ballast::config {
namespace {

constexpr std::array<Named<UpstreamProtocol>, 3> kProtocols = {{
    {"http1", UpstreamProtocol::http1},
    {"h2", UpstreamProtocol::h2},
    {"h2c", UpstreamProtocol::h2c},
}};

constexpr std::array<std::string_view, 1> kHttp2Keys = {"max_concurrent_streams"};
constexpr std::array<std::string_view, 1> kGrpcKeys = {"failure_codes"};

// gRPC's status codes, in their numeric order (grpc/doc/statuscodes.md).
constexpr std::array<std::string_view, 17> kGrpcCodes = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// The cap nghttp2 and the servers we meet agree to; more streams per connection than that
// would only be refused by the server's own SETTINGS.
constexpr uint32_t kMaxConcurrentStreams = 1000;

GrpcConfig read_grpc(const Node& node) {
  const MapView block = node.as_map(kGrpcKeys);
  GrpcConfig grpc;
  if (const std::optional<Node> codes = block.find("failure_codes")) {
    grpc.failure_codes = 0;
    for (const Node& code : codes->as_list()) {
      grpc.failure_codes |= 1u << read_grpc_code(code);
    }
  }
  return grpc;
}

constexpr std::array<Named<ProxyProtocolVersion>, 2> kProxyProtocolVersions = {{
    {"v1", ProxyProtocolVersion::v1},
    {"v2", ProxyProtocolVersion::v2},
}};

}  // namespace

uint32_t read_grpc_code(const Node& node) {
  if (node.is_integer()) {
    return node.as_uint<uint32_t>(0, kGrpcCodes.size() - 1);
  }
  return static_cast<uint32_t>(node.choose(kGrpcCodes, true));
}

void read_upstream_protocol(const MapView& cluster_map, ClusterConfig& cluster) {
  if (const std::optional<Node> protocol = cluster_map.find("protocol")) {
    cluster.protocol = protocol->as_enum(kProtocols);
    if (cluster.protocol == UpstreamProtocol::h2 && !cluster.upstream_tls.enabled) {
      protocol->fail("h2 is HTTP/2 over TLS: add an upstream_tls block, or use h2c for cleartext");
    }
    if (cluster.protocol == UpstreamProtocol::h2c && cluster.upstream_tls.enabled) {
      protocol->fail("h2c is HTTP/2 in clear: use h2 with upstream_tls");
    }
    cluster.upstream_tls.offer_h2 = cluster.protocol == UpstreamProtocol::h2;
  }
  if (const std::optional<Node> http2 = cluster_map.find("http2")) {
    const MapView block = http2->as_map(kHttp2Keys);
    if (const std::optional<Node> streams = block.find("max_concurrent_streams")) {
      cluster.http2.max_concurrent_streams = streams->as_uint<uint32_t>(1, kMaxConcurrentStreams);
    }
  }
  if (const std::optional<Node> grpc = cluster_map.find("grpc")) {
    cluster.grpc = read_grpc(*grpc);
  }
  if (const std::optional<Node> proxy = cluster_map.find("send_proxy_protocol")) {
    cluster.send_proxy_protocol = proxy->as_enum(kProxyProtocolVersions);
    if (cluster.protocol != UpstreamProtocol::http1) {
      proxy->fail(
          "a PROXY protocol header speaks for one client's connection, and HTTP/2 carries many: "
          "use it with protocol: http1");
    }
  }
}

}  // namespace ballast::config
