#pragma once
// One TLS connection's records over a non-blocking socket, with the shape of the socket calls
// the sessions already make: receive() as recv, send() as send, EAGAIN when the socket cannot
// move, so a session carries plain and TLS bytes through the same code.
//
// The socket is read and written through a BIO of our own rather than OpenSSL's socket BIO:
// it records whether the last recv came up short of the space offered, which, as for a plain
// socket (http_session.cc receive_into), tells that the socket is drained without one more
// recv to hear EAGAIN. With read-ahead on (server_context.cc), one recv takes every record
// waiting.
//
// Either direction may need the other: a read can need to write (a ticket or an alert), a write
// to read. wants_writable_to_read() / wants_readable_to_write() say so, for the session to
// retry when the socket turns.
//
// Owns the SSL (and with it its context's reference); not the descriptor. Threading: one
// worker's. Not movable: the BIO points at it.

#include <openssl/ssl.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tls/openssl_error.h"
#include "tls/tls_stats.h"

namespace ballast::tls {

class TlsStream {
 public:
  // Takes `ssl` (ServerContext::new_connection) over `fd`.
  TlsStream(SSL* ssl, int fd) noexcept;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // False when the BIO could not be made: close the connection.
  bool valid() const noexcept { return ssl_ != nullptr; }

  enum class Step : uint8_t { done, blocked, failed };
  // Advances the handshake. failed: handshake_error() says why.
  Step handshake() noexcept;
  bool established() const noexcept { return established_; }
  HandshakeError handshake_error() const noexcept { return error_; }
  // Why a handshake failed, for a log line: the certificate check that failed ("certificate
  // has expired"), else OpenSSL's reason ("tlsv1 alert unknown ca"), else the kind.
  std::string_view failure_detail() const noexcept;

  // As recv: bytes read (and `drained` when the socket holds no more), 0 when the peer closed,
  // -1 with errno EAGAIN (nothing yet) or an error (ECONNRESET, EPROTO).
  ssize_t receive(char* data, size_t size, bool& drained) noexcept;
  // As send: bytes taken (at most one record's when the socket fills), -1 with errno EAGAIN or
  // EPIPE. A call after EAGAIN must offer at least the bytes offered before, unchanged.
  ssize_t send(const char* data, size_t size) noexcept;
  // As send of `head` then `body`: what fits in one record (16 KiB) of both goes as one record,
  // gathered in a per-thread buffer (the bytes offered are the same on a retry, as long as
  // head and body only grow until sent).
  ssize_t send_gathered(std::string_view head, std::string_view body) noexcept;
  // Sends close_notify, once, if the connection is sound; then the caller shuts the socket.
  void close_notify() noexcept;

  bool wants_writable_to_read() const noexcept { return read_wants_write_; }
  bool wants_readable_to_write() const noexcept { return write_wants_read_; }

  // What was agreed, once established.
  std::string_view version() const noexcept;      // "TLSv1.3"
  std::string_view cipher() const noexcept;       // "TLS_AES_128_GCM_SHA256"
  std::string_view server_name() const noexcept;  // the SNI sent, or ""
  std::string_view alpn() const noexcept;         // "http/1.1", or ""
  bool resumed() const noexcept;
  // The client's verified certificate (a server side with client_certificate on), else empty.
  const std::string& peer_subject() const noexcept { return peer_subject_; }
  const std::string& peer_fingerprint() const noexcept { return peer_fingerprint_; }

  // The state the BIO keeps (public for the BIO's functions).
  struct Socket {
    int fd = -1;
    bool drained = false;  // the last recv came up short (or said EAGAIN)
  };

 private:
  void record_peer() noexcept;

  SslPtr ssl_;
  Socket socket_;
  bool established_ = false;
  bool broken_ = false;  // a fatal error: no close_notify
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  HandshakeError error_ = HandshakeError::other;
  const char* failure_reason_ = nullptr;  // OpenSSL's static text, or null
  std::string peer_subject_;
  std::string peer_fingerprint_;
};

// A read from a socket that may carry TLS: through `tls` when it is set, else a plain recv on
// `fd`, with receive()'s return and `drained` either way.
ssize_t receive_on(TlsStream* tls, int fd, char* data, size_t size, bool& drained) noexcept;

// Classifies the failure OpenSSL has queued for a failed handshake (and clears the queue).
HandshakeError classify_handshake_failure(int ssl_error) noexcept;

}  // namespace ballast::tls
