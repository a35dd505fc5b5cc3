#include "tls/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ballast::tls {
namespace {

TlsStream::Socket& socket_of(BIO* bio) {
  return *static_cast<TlsStream::Socket*>(BIO_get_data(bio));
}

int bio_read(BIO* bio, char* out, int length) {
  TlsStream::Socket& socket = socket_of(bio);
  BIO_clear_retry_flags(bio);
  const ssize_t received = recv(socket.fd, out, static_cast<size_t>(length), 0);
  if (received > 0) {
    socket.drained = received < length;
    return static_cast<int>(received);
  }
  if (received < 0 && (errno == EAGAIN || errno == EINTR)) {
    socket.drained = true;
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(received);
}

int bio_write(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t sent = send(socket_of(bio).fd, data, static_cast<size_t>(length), MSG_NOSIGNAL);
  if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(sent);
}

long bio_control(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // every write goes straight to the socket
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ballast socket");
    BIO_meth_set_read(made, bio_read);
    BIO_meth_set_write(made, bio_write);
    BIO_meth_set_ctrl(made, bio_control);
    BIO_meth_set_create(made, bio_create);
    return made;
  }();
  return method;
}

// One record's worth, for send_gathered. Per worker thread; the send it serves is synchronous.
constexpr size_t kGatherBytes = 16 * 1024;
thread_local char gather_buffer[kGatherBytes];

std::string hex(const unsigned char* bytes, unsigned int length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xf];
  }
  return text;
}

}  // namespace

HandshakeError classify_handshake_failure(int ssl_error) noexcept {
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return HandshakeError::closed;
  }
  const int reason = ERR_GET_REASON(ERR_peek_error());
  ERR_clear_error();
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return HandshakeError::protocol_version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_NO_SUITABLE_KEY_SHARE:
      return HandshakeError::no_shared_cipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_NO_CERTIFICATES_RETURNED:
      return HandshakeError::client_certificate;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return HandshakeError::not_tls;
    default:
      return HandshakeError::other;
  }
}

ssize_t receive_on(TlsStream* tls, int fd, char* data, size_t size, bool& drained) noexcept {
  if (tls != nullptr) {
    return tls->receive(data, size, drained);
  }
  const ssize_t received = recv(fd, data, size, 0);
  drained = received > 0 && static_cast<size_t>(received) < size;
  return received;
}

TlsStream::TlsStream(SSL* ssl, int fd) noexcept : ssl_(ssl) {
  socket_.fd = fd;
  BIO* bio = ssl_ != nullptr ? BIO_new(socket_method()) : nullptr;
  if (bio == nullptr) {
    ssl_.reset();
    return;
  }
  BIO_set_data(bio, &socket_);
  SSL_set_bio(ssl_.get(), bio, bio);  // one reference, for both directions
}

TlsStream::Step TlsStream::handshake() noexcept {
  const int result = SSL_do_handshake(ssl_.get());
  if (result == 1) {
    established_ = true;
    read_wants_write_ = write_wants_read_ = false;
    if (SSL_is_server(ssl_.get()) == 1) {
      record_peer();
    }
    return Step::done;
  }
  const int error = SSL_get_error(ssl_.get(), result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    read_wants_write_ = error == SSL_ERROR_WANT_WRITE;
    return Step::blocked;
  }
  broken_ = true;
  failure_reason_ = ERR_reason_error_string(ERR_peek_error());
  error_ = classify_handshake_failure(error);
  return Step::failed;
}

std::string_view TlsStream::failure_detail() const noexcept {
  const long verified = SSL_get_verify_result(ssl_.get());
  if (verified != X509_V_OK) {
    return X509_verify_cert_error_string(verified);
  }
  return failure_reason_ != nullptr ? failure_reason_ : handshake_error_name(error_);
}

ssize_t TlsStream::receive(char* data, size_t size, bool& drained) noexcept {
  read_wants_write_ = false;
  const int result =
      SSL_read(ssl_.get(), data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
  if (result > 0) {
    drained = socket_.drained && SSL_has_pending(ssl_.get()) == 0;
    return result;
  }
  switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      read_wants_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a plain close
    case SSL_ERROR_SYSCALL:
      broken_ = true;
      ERR_clear_error();
      if (errno == 0) {
        errno = ECONNRESET;
      }
      return -1;
    default:
      broken_ = true;
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

ssize_t TlsStream::send(const char* data, size_t size) noexcept {
  write_wants_read_ = false;
  const int result =
      SSL_write(ssl_.get(), data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
  if (result > 0) {
    return result;
  }
  switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_READ:
      write_wants_read_ = true;
      errno = EAGAIN;
      return -1;
    default:
      broken_ = true;
      ERR_clear_error();
      errno = EPIPE;
      return -1;
  }
}

ssize_t TlsStream::send_gathered(std::string_view head, std::string_view body) noexcept {
  if (head.empty() || body.empty()) {
    const std::string_view only = head.empty() ? body : head;
    return send(only.data(), only.size());
  }
  const size_t head_part = std::min(head.size(), kGatherBytes);
  const size_t body_part = std::min(body.size(), kGatherBytes - head_part);
  std::memcpy(gather_buffer, head.data(), head_part);
  std::memcpy(gather_buffer + head_part, body.data(), body_part);
  return send(gather_buffer, head_part + body_part);
}

void TlsStream::close_notify() noexcept {
  if (established_ && !broken_ && (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) == 0) {
    if (SSL_shutdown(ssl_.get()) < 0) {
      ERR_clear_error();
    }
  }
}

std::string_view TlsStream::version() const noexcept {
  return SSL_get_version(ssl_.get());
}

std::string_view TlsStream::cipher() const noexcept {
  const char* name = SSL_get_cipher_name(ssl_.get());
  return name != nullptr ? name : "";
}

std::string_view TlsStream::server_name() const noexcept {
  const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? name : "";
}

std::string_view TlsStream::alpn() const noexcept {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &protocol, &length);
  return {reinterpret_cast<const char*>(protocol), protocol != nullptr ? length : 0};
}

bool TlsStream::resumed() const noexcept {
  return SSL_session_reused(ssl_.get()) == 1;
}

// Once per connection, after the handshake: the certificate the client proved it holds.
void TlsStream::record_peer() noexcept {
  X509* peer = SSL_get0_peer_certificate(ssl_.get());
  if (peer == nullptr || SSL_get_verify_result(ssl_.get()) != X509_V_OK) {
    return;
  }
  BIO* text = BIO_new(BIO_s_mem());
  if (text != nullptr &&
      X509_NAME_print_ex(text, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(text, &data);
    peer_subject_.assign(data, static_cast<size_t>(length));
  }
  BIO_free(text);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(peer, EVP_sha256(), digest, &length) == 1) {
    peer_fingerprint_ = hex(digest, length);
  }
}

}  // namespace ballast::tls
