#pragma once
// Writes the heads the proxy sends: a request head to the upstream and a response head to the
// client, each from a parsed head, into a caller's buffer.
//
// What is passed on: the field lines a proxy may forward, in their order and spelling as
// received (HeaderFields::not_forwarded decides), so the upstream and the client see what they
// would have seen without us. What is written anew: the start line (always HTTP/1.1), the
// framing (one normalised Content-Length or "Transfer-Encoding: chunked", from the parsed
// framing, never copied) and the Connection field.
//
// Threading: pure functions. Cost: O(head bytes), no allocation. Returns the bytes written, or 0
// when `out` is too small. head_bytes + kSerializeSlackBytes + the sizes of the strings passed in
// (4 more per extra field) always suffice.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/head.h"
#include "http/header_rules.h"

namespace ballast::http {

// Beyond the parsed head, the caller's strings and the request's host (written up to three more
// times: Host, X-Forwarded-Host, Forwarded), what the serializers may add: the start line,
// framing, Connection, the forwarding fields' names, and a space after each colon (kMaxHeaders).
inline constexpr size_t kSerializeSlackBytes = 832;

// A route's changes to a head (header_rules.h), and what its variables stand for; none when
// `rules` is null. Sizing: rules->fields_length(values) more bytes.
struct HeadEdits {
  const HeaderRules* rules = nullptr;
  TemplateValues values;
};

inline size_t edits_length(const HeadEdits& edits) noexcept {
  return edits.rules == nullptr ? 0 : edits.rules->fields_length(edits.values);
}

// What the proxy tells the upstream about the client.
struct ForwardContext {
  std::string_view client_ip;       // the client connection's peer address, e.g. "192.0.2.7"
  std::string_view scheme;          // "http" or "https", the client connection's protocol
  std::string_view host_if_absent;  // Host to send when the request had none (HTTP/1.0)
  std::string_view port;            // the port the client connected to, for X-Forwarded-Port
  std::string_view traceparent;     // when not empty, sent instead of the request's traceparent
  std::string_view request_id;      // X-Request-Id to send; the request's own are left out
  // The client certificate the TLS handshake verified: its subject (RFC 2253) and SHA-256
  // fingerprint (hex), sent as X-Client-Cert-Subject and -Fingerprint. Any X-Client-Cert-*
  // field the client sent is left out, always.
  std::string_view client_cert_subject{};
  std::string_view client_cert_fingerprint{};
  // The client is a trusted proxy (forwarding.trusted_proxies): the X-Forwarded-* and Forwarded
  // values it sent are kept and extended. From anyone else they are replaced, never appended
  // to: a client must not be able to choose the address a server believes it has.
  bool trusted_peer = false;
  bool forwarded = false;  // also send RFC 7239 Forwarded
  // The route's request_headers: the client's fields they remove or set are left out, and the
  // set and add fields written after the forwarding fields.
  HeadEdits edits{};
  // The route's rewrite_prefix: a target beginning with `rewrite_from` is sent with
  // `rewrite_to` in its place (neither empty when set).
  std::string_view rewrite_from{};
  std::string_view rewrite_to{};
};

// The request head to send upstream, asking for a persistent connection (or, when the client
// asks to switch protocols, passing that request on):
//   method SP target SP HTTP/1.1
//   Host: the absolute-form target's authority, when the target had one (RFC 9112 §3.2.2)
//   the forwarded fields, Host included unless replaced, in order, except Expect (the proxy
//     answers 100-continue itself, as nginx does, and sends the body upstream only once it has
//     it), X-Request-Id, X-Client-Cert-*, X-Real-IP, X-Forwarded-For (rewritten below) and, unless
//     the peer is trusted, X-Forwarded-Proto, -Host, -Port and Forwarded
//   X-Forwarded-For: from a trusted peer its values first; then client_ip (nginx's
//     $proxy_add_x_forwarded_for); X-Real-IP: client_ip
//   X-Forwarded-Proto: scheme, X-Forwarded-Host: the request's host, X-Forwarded-Port: port,
//     each unless a trusted peer sent its own
//   Forwarded: (when context.forwarded) a trusted peer's elements, then
//     for=client;proto=scheme;host="host"
//   Via: 1.1 ballast (RFC 9110 §7.6.3; received Via lines are passed on before it)
//   X-Client-Cert-Subject, X-Client-Cert-Fingerprint: when given (never the client's own)
//   X-Request-Id: context.request_id; traceparent: context.traceparent, when given
//   the route's set and add fields (context.edits)
//   Content-Length: n | Transfer-Encoding: chunked, as the request was framed
//   Connection: keep-alive, or "Upgrade: value" and "Connection: upgrade" for a switch
size_t write_upstream_request(const RequestHead& request, const ForwardContext& context,
                              std::span<char> out) noexcept;

// A retry is a new span: its traceparent (of a fixed length) replaces the one in `head`, a
// request head written above, in place.
void replace_traceparent(std::span<char> head, std::string_view traceparent) noexcept;

// How a response's body reaches the client.
enum class ClientDelivery : uint8_t {
  keep_alive,  // framed as the server framed it; the connection stays open after it
  close,       // framed as the server framed it; the connection closes after it
  // For an HTTP/1.0 client, which cannot parse chunked (RFC 9112 §6.1): the chunked body goes
  // de-chunked (no Transfer-Encoding) and the close delimits it.
  dechunked,
};

// The response head to send the client:
//   HTTP/1.1 SP status SP reason (ours from reason_phrase() if the upstream sent none)
//   the forwarded fields, in order
//   for a final response other than 204: "Transfer-Encoding: chunked" or "Content-Length: n" as
//     the upstream declared (so a response to HEAD, or a 304, keeps its length; `dechunked`
//     leaves Transfer-Encoding out), and "Connection: keep-alive" or "Connection: close" as
//     `delivery` says; a body that runs until close always gets "close", since the client has
//     no other way to find its end
//   extra_fields (a Set-Cookie the proxy adds, ...)
//   on a final response, the route's response_headers (`edits`): the fields they remove or set
//     left out above, their set and add fields written here
// A 1xx response gets neither framing nor Connection, but for 101 (Switching Protocols), which
// gets the server's Upgrade and "Connection: upgrade".
size_t write_client_response(const ResponseHead& response, ClientDelivery delivery,
                             std::span<const Header> extra_fields, const HeadEdits& edits,
                             std::span<char> out) noexcept;

}  // namespace ballast::http
