#pragma once
// OpenSSL reports failures on a per-thread queue; this turns it into one line for a message and
// empties it, so an error never lingers to be blamed on the next call.

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ballast::tls {

// The queued errors, "reason (library)" joined by "; ", or `fallback` when none is queued.
std::string take_openssl_errors(const std::string& fallback = "unknown error");

// Owning handles for the OpenSSL objects ballast keeps.
struct SslCtxFree {
  void operator()(SSL_CTX* context) const noexcept { SSL_CTX_free(context); }
};
struct SslFree {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};
struct X509Free {
  void operator()(X509* certificate) const noexcept { X509_free(certificate); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

}  // namespace ballast::tls
