#include "http/serializer.h"

#include "http/error_response.h"
#include "http/header_role.h"
#include "http/span_writer.h"

namespace ballast::http {

size_t write_upstream_request(const RequestHead& request, const ForwardContext& context,
                              std::span<char> out) noexcept {
  SpanWriter writer(out);
  writer.put(request.method);
  writer.put(" ");
  writer.put(request.target);
  writer.put(" HTTP/1.1\r\n");
  if (!request.has_host) {
    // RFC 9112 §3.2: an HTTP/1.1 request always carries Host, empty if there is no authority.
    writer.put_field("Host", context.host_if_absent);
  }
  const HeaderFields& fields = request.headers;
  for (uint32_t i = 0; i < fields.count; ++i) {
    if (!fields.forwarded(i)) {
      continue;
    }
    switch (known_field(fields.lines[i].name)) {
      case KnownField::x_forwarded_for:
      case KnownField::x_real_ip:
      case KnownField::x_forwarded_proto:
      case KnownField::expect:
        continue;
      case KnownField::traceparent:
        if (!context.traceparent.empty()) {
          continue;
        }
        writer.put_field(fields.lines[i].name, fields.lines[i].value);
        break;
      default:
        writer.put_field(fields.lines[i].name, fields.lines[i].value);
    }
  }
  writer.put("X-Forwarded-For: ");
  for (uint32_t i = 0; i < fields.count; ++i) {
    const Header& field = fields.lines[i];
    if (fields.forwarded(i) && !field.value.empty() &&
        known_field(field.name) == KnownField::x_forwarded_for) {
      writer.put(field.value);
      writer.put(", ");
    }
  }
  writer.put(context.client_ip);
  writer.put("\r\n");
  writer.put_field("X-Real-IP", context.client_ip);
  writer.put_field("X-Forwarded-Proto", context.scheme);
  if (!context.traceparent.empty()) {
    writer.put_field("traceparent", context.traceparent);
  }
  if (request.body_kind == BodyKind::content_length) {
    writer.put("Content-Length: ");
    writer.put_decimal(request.content_length);
    writer.put("\r\n");
  } else if (request.body_kind == BodyKind::chunked) {
    writer.put("Transfer-Encoding: chunked\r\n");
  }
  writer.put("Connection: keep-alive\r\n\r\n");
  return writer.finish();
}

size_t write_client_response(const ResponseHead& response, bool keep_alive,
                             std::span<const Header> extra_fields, std::span<char> out) noexcept {
  SpanWriter writer(out);
  writer.put("HTTP/1.1 ");
  writer.put_decimal(response.status);
  writer.put(" ");
  writer.put(response.reason.empty() ? reason_phrase(response.status) : response.reason);
  writer.put("\r\n");
  const HeaderFields& fields = response.headers;
  for (uint32_t i = 0; i < fields.count; ++i) {
    if (fields.forwarded(i)) {
      writer.put_field(fields.lines[i].name, fields.lines[i].value);
    }
  }
  // RFC 9110 §8.6 and RFC 9112 §6.1: no framing fields on a 1xx or 204.
  if (response.status >= 200) {
    if (response.status != 204) {
      if (response.chunked) {
        writer.put("Transfer-Encoding: chunked\r\n");
      } else if (response.has_content_length) {
        writer.put("Content-Length: ");
        writer.put_decimal(response.content_length);
        writer.put("\r\n");
      }
    }
    const bool persistent = keep_alive && response.body_kind != BodyKind::until_close;
    writer.put(persistent ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  }
  for (const Header& field : extra_fields) {
    writer.put_field(field.name, field.value);
  }
  writer.put("\r\n");
  return writer.finish();
}

}  // namespace ballast::http
