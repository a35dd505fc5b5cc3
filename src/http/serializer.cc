#include "http/serializer.h"

#include <cstring>

#include "http/error_response.h"
#include "http/header_role.h"
#include "http/span_writer.h"

namespace ballast::http {

namespace {

// Which of the forwarding fields the request carried, gathered while its fields are copied.
struct Carried {
  bool proto = false;
  bool host = false;
  bool port = false;
};

// Copies the fields the upstream request passes on as received; the rest are written anew.
Carried copy_forwarded_fields(const RequestHead& request, const ForwardContext& context,
                              SpanWriter& writer) noexcept {
  Carried carried;
  const HeaderFields& fields = request.headers;
  for (uint32_t i = 0; i < fields.count; ++i) {
    if (!fields.forwarded(i)) {
      continue;
    }
    const Header& field = fields.lines[i];
    bool keep = true;
    switch (known_field(field.name)) {
      case KnownField::host:
        keep = !request.host_from_target;
        break;
      case KnownField::x_forwarded_for:
      case KnownField::x_real_ip:
      case KnownField::x_request_id:
      case KnownField::x_client_cert:
      case KnownField::expect:
        keep = false;
        break;
      case KnownField::x_forwarded_proto:
        keep = carried.proto = context.trusted_peer;
        break;
      case KnownField::x_forwarded_host:
        keep = carried.host = context.trusted_peer;
        break;
      case KnownField::x_forwarded_port:
        keep = carried.port = context.trusted_peer;
        break;
      case KnownField::forwarded:
        keep = context.trusted_peer && !context.forwarded;  // else rewritten, or dropped
        break;
      case KnownField::traceparent:
        keep = context.traceparent.empty();
        break;
      default:
        break;
    }
    if (keep && (context.edits.rules == nullptr || !context.edits.rules->drops(field.name))) {
      writer.put_field(field.name, field.value);
    }
  }
  return carried;
}

// A trusted peer's values of a list field, each followed by ", ".
void put_trusted_values(const RequestHead& request, KnownField which, SpanWriter& writer) noexcept {
  const HeaderFields& fields = request.headers;
  for (uint32_t i = 0; i < fields.count; ++i) {
    const Header& field = fields.lines[i];
    if (fields.forwarded(i) && !field.value.empty() && known_field(field.name) == which) {
      writer.put(field.value);
      writer.put(", ");
    }
  }
}

// RFC 7239 §4: for=client;proto=scheme;host="host", an IPv6 address quoted in brackets.
void put_forwarded(const RequestHead& request, const ForwardContext& context, std::string_view host,
                   SpanWriter& writer) noexcept {
  writer.put("Forwarded: ");
  if (context.trusted_peer) {
    put_trusted_values(request, KnownField::forwarded, writer);
  }
  const bool ipv6 = context.client_ip.find(':') != std::string_view::npos;
  writer.put(ipv6 ? "for=\"[" : "for=");
  writer.put(context.client_ip);
  writer.put(ipv6 ? "]\";proto=" : ";proto=");
  writer.put(context.scheme);
  writer.put(";host=\"");
  writer.put(host);
  writer.put("\"\r\n");
}

}  // namespace

size_t write_upstream_request(const RequestHead& request, const ForwardContext& context,
                              std::span<char> out) noexcept {
  SpanWriter writer(out);
  writer.put(request.method);
  writer.put(" ");
  if (!context.rewrite_from.empty() && request.target.starts_with(context.rewrite_from)) {
    writer.put(context.rewrite_to);
    writer.put(request.target.substr(context.rewrite_from.size()));
  } else {
    writer.put(request.target);
  }
  writer.put(" HTTP/1.1\r\n");
  // RFC 9112 §3.2: an HTTP/1.1 request always carries Host, empty if there is no authority.
  const std::string_view host = request.has_host ? request.host : context.host_if_absent;
  // A route that sets Host writes it with its own fields (its rules allow only `set` of it).
  const bool route_sets_host = context.edits.rules != nullptr && context.edits.rules->drops("host");
  if ((request.host_from_target || !request.has_host) && !route_sets_host) {
    writer.put_field("Host", host);
  }
  const Carried carried = copy_forwarded_fields(request, context, writer);
  writer.put("X-Forwarded-For: ");
  if (context.trusted_peer) {
    put_trusted_values(request, KnownField::x_forwarded_for, writer);
  }
  writer.put(context.client_ip);
  writer.put("\r\n");
  writer.put_field("X-Real-IP", context.client_ip);
  if (!carried.proto) {
    writer.put_field("X-Forwarded-Proto", context.scheme);
  }
  if (!carried.host) {
    writer.put_field("X-Forwarded-Host", host);
  }
  if (!carried.port) {
    writer.put_field("X-Forwarded-Port", context.port);
  }
  if (context.forwarded) {
    put_forwarded(request, context, host, writer);
  }
  writer.put("Via: 1.1 ballast\r\n");
  if (!context.client_cert_subject.empty()) {
    writer.put_field("X-Client-Cert-Subject", context.client_cert_subject);
  }
  if (!context.client_cert_fingerprint.empty()) {
    writer.put_field("X-Client-Cert-Fingerprint", context.client_cert_fingerprint);
  }
  if (!context.request_id.empty()) {
    writer.put_field("X-Request-Id", context.request_id);
  }
  if (!context.traceparent.empty()) {
    writer.put_field("traceparent", context.traceparent);
  }
  if (context.edits.rules != nullptr) {
    context.edits.rules->write_fields(context.edits.values, writer);
  }
  if (request.body_kind == BodyKind::content_length) {
    writer.put("Content-Length: ");
    writer.put_decimal(request.content_length);
    writer.put("\r\n");
  } else if (request.body_kind == BodyKind::chunked) {
    writer.put("Transfer-Encoding: chunked\r\n");
  }
  if (!request.upgrade.empty()) {
    writer.put_field("Upgrade", request.upgrade);
    writer.put("Connection: upgrade\r\n\r\n");
  } else {
    writer.put("Connection: keep-alive\r\n\r\n");
  }
  return writer.finish();
}

void replace_traceparent(std::span<char> head, std::string_view traceparent) noexcept {
  static constexpr std::string_view kField = "\r\ntraceparent: ";
  const size_t field = std::string_view(head.data(), head.size()).find(kField);
  if (field != std::string_view::npos &&
      field + kField.size() + traceparent.size() <= head.size()) {
    std::memcpy(head.data() + field + kField.size(), traceparent.data(), traceparent.size());
  }
}

size_t write_client_response(const ResponseHead& response, ClientDelivery delivery,
                             std::span<const Header> extra_fields, const HeadEdits& edits,
                             std::span<char> out) noexcept {
  // 1xx heads are the server's word on the way: the route's rules are for the final one.
  const HeaderRules* rules = response.status >= 200 ? edits.rules : nullptr;
  SpanWriter writer(out);
  writer.put("HTTP/1.1 ");
  writer.put_decimal(response.status);
  writer.put(" ");
  writer.put(response.reason.empty() ? reason_phrase(response.status) : response.reason);
  writer.put("\r\n");
  const HeaderFields& fields = response.headers;
  for (uint32_t i = 0; i < fields.count; ++i) {
    if (fields.forwarded(i) && (rules == nullptr || !rules->drops(fields.lines[i].name))) {
      writer.put_field(fields.lines[i].name, fields.lines[i].value);
    }
  }
  if (response.status == 101) {
    const Header* upgrade = fields.find("Upgrade");
    writer.put_field("Upgrade", upgrade == nullptr ? std::string_view{} : upgrade->value);
    writer.put("Connection: upgrade\r\n");
  }
  // RFC 9110 §8.6 and RFC 9112 §6.1: no framing fields on a 1xx or 204.
  if (response.status >= 200) {
    if (response.status != 204) {
      if (response.chunked) {
        if (delivery != ClientDelivery::dechunked) {
          writer.put("Transfer-Encoding: chunked\r\n");
        }
      } else if (response.has_content_length) {
        writer.put("Content-Length: ");
        writer.put_decimal(response.content_length);
        writer.put("\r\n");
      }
    }
    const bool persistent =
        delivery == ClientDelivery::keep_alive && response.body_kind != BodyKind::until_close;
    writer.put(persistent ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  }
  for (const Header& field : extra_fields) {
    writer.put_field(field.name, field.value);
  }
  if (rules != nullptr) {
    rules->write_fields(edits.values, writer);
  }
  writer.put("\r\n");
  return writer.finish();
}

}  // namespace ballast::http
