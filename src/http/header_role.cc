#include "http/header_role.h"

#include "http/chars.h"

namespace ballast::http {

KnownField known_field(std::string_view name) noexcept {
  // Dispatch on length first: most names match no candidate length and cost one compare.
  const auto is = [name](std::string_view lower) { return chars::equals_ignore_case(name, lower); };
  constexpr std::string_view kClientCert = "x-client-cert";
  if (name.size() >= kClientCert.size() && (name[0] == 'x' || name[0] == 'X') &&
      chars::equals_ignore_case(name.substr(0, kClientCert.size()), kClientCert)) {
    return KnownField::x_client_cert;
  }
  switch (name.size()) {
    case 2:
      return is("te") ? KnownField::te : KnownField::other;
    case 4:
      return is("host") ? KnownField::host : KnownField::other;
    case 6:
      return is("expect") ? KnownField::expect : KnownField::other;
    case 7:
      return is("upgrade") ? KnownField::upgrade : KnownField::other;
    case 9:
      if (is("forwarded")) {
        return KnownField::forwarded;
      }
      return is("x-real-ip") ? KnownField::x_real_ip : KnownField::other;
    case 10:
      if (is("connection")) {
        return KnownField::connection;
      }
      return is("keep-alive") ? KnownField::keep_alive : KnownField::other;
    case 14:
      return is("content-length") ? KnownField::content_length : KnownField::other;
    case 15:
      return is("x-forwarded-for") ? KnownField::x_forwarded_for : KnownField::other;
    case 12:
      return is("x-request-id") ? KnownField::x_request_id : KnownField::other;
    case 16:
      if (is("proxy-connection")) {
        return KnownField::proxy_connection;
      }
      if (is("x-forwarded-host")) {
        return KnownField::x_forwarded_host;
      }
      return is("x-forwarded-port") ? KnownField::x_forwarded_port : KnownField::other;
    case 17:
      if (is("transfer-encoding")) {
        return KnownField::transfer_encoding;
      }
      return is("x-forwarded-proto") ? KnownField::x_forwarded_proto : KnownField::other;
    case 11:
      return is("traceparent") ? KnownField::traceparent : KnownField::other;
    case 18:
      return is("proxy-authenticate") ? KnownField::proxy_authenticate : KnownField::other;
    case 19:
      return is("proxy-authorization") ? KnownField::proxy_authorization : KnownField::other;
    default:
      return KnownField::other;
  }
}

HeaderRole header_role(std::string_view name) noexcept {
  return role_of(known_field(name));
}

HeaderRole role_of(KnownField field) noexcept {
  switch (field) {
    case KnownField::content_length:
    case KnownField::transfer_encoding:
      return HeaderRole::framing;
    case KnownField::connection:
    case KnownField::keep_alive:
    case KnownField::proxy_connection:
    case KnownField::te:
    case KnownField::upgrade:
    case KnownField::proxy_authenticate:
    case KnownField::proxy_authorization:
      return HeaderRole::hop_by_hop;
    default:
      return HeaderRole::end_to_end;
  }
}

}  // namespace ballast::http
