#include "tls/tls_stats.h"

namespace ballast::tls {

std::string_view handshake_error_name(HandshakeError error) noexcept {
  switch (error) {
    case HandshakeError::timeout:
      return "timeout";
    case HandshakeError::closed:
      return "closed";
    case HandshakeError::protocol_version:
      return "protocol_version";
    case HandshakeError::no_shared_cipher:
      return "no_shared_cipher";
    case HandshakeError::client_certificate:
      return "client_certificate";
    case HandshakeError::not_tls:
      return "not_tls";
    case HandshakeError::other:
    case HandshakeError::count:
      break;
  }
  return "other";
}

}  // namespace ballast::tls
