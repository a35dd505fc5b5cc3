#pragma once
// Which field lines a proxy passes on, and the field names the parsers and the serializer act on.
//
// Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection and must not be forwarded:
// Connection and the fields it names, Proxy-Connection, Keep-Alive, TE, Upgrade. Like Go's
// ReverseProxy (and RFC 2616 §13.5.1) we also drop Proxy-Authenticate and Proxy-Authorization:
// credentials meant for a proxy must not reach a backend. nginx drops fewer by default
// (Connection, Keep-Alive, TE, Upgrade, Expect) but that is a config default, not a principle.
// Trailer stays: the proxy forwards chunked bodies byte for byte, trailer fields included.
// Content-Length and Transfer-Encoding are framing: never copied, the serializer writes its own.
//
// Threading: pure functions. Cost: one length switch and at most two short compares per name.

#include <cstdint>
#include <string_view>

namespace ballast::http {

enum class HeaderRole : uint8_t {
  end_to_end,  // forwarded as is
  hop_by_hop,  // dropped
  framing,     // dropped and re-emitted from the parsed framing
};

// The role a field has by its name alone. A field that the Connection header names is hop-by-hop
// as well; HeaderFields::not_forwarded accounts for that.
HeaderRole header_role(std::string_view name) noexcept;

// Field names with a meaning to the parser or the serializer; everything else is `other`.
enum class KnownField : uint8_t {
  other,
  host,
  content_length,
  transfer_encoding,
  connection,
  expect,
  keep_alive,
  proxy_connection,
  te,
  upgrade,
  proxy_authenticate,
  proxy_authorization,
  x_forwarded_for,
  x_real_ip,
  x_forwarded_proto,
  x_forwarded_host,
  x_forwarded_port,
  forwarded,  // RFC 7239
  x_request_id,
  traceparent,    // W3C Trace Context: replaced by the proxy's own when it traces
  x_client_cert,  // X-Client-Cert-*: only ballast says what certificate a client proved
};

KnownField known_field(std::string_view name) noexcept;

// The role of a known field: the one list of what a proxy must not pass on.
HeaderRole role_of(KnownField field) noexcept;

}  // namespace ballast::http
