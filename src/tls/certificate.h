#pragma once
// A certificate and its key as a listener serves them: read from the PEM files the
// configuration names, with what SNI selection and the expiry metrics need to know about it.
//
// Threading: loaded on the control side (start-up, reload, --check); immutable afterwards.

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "tls/openssl_error.h"

namespace ballast::tls {

struct Certificate {
  config::TlsCertificateConfig files;
  X509Ptr leaf;
  // The DNS names it is valid for, lowercase: its subjectAltName DNS entries, or its subject's
  // CN when it has none. "*.example.com" is a wildcard for one label.
  std::vector<std::string> names;
  std::string key_type;  // "RSA", "EC", "ED25519", ...
  int64_t not_after_unix = 0;
};

// Reads the certificate file's first certificate and checks the key file holds its private key
// (by loading both into a scratch context, as serving them will). Throws config::ConfigError
// naming the configuration's place and the file.
Certificate load_certificate(const config::TlsCertificateConfig& files);

// The names `certificate` is valid for (as Certificate::names).
std::vector<std::string> certificate_names(X509* certificate);

// notAfter in Unix seconds.
int64_t not_after_unix(X509* certificate);

// A name matches a certificate name exactly or, for "*.rest", when its first label is removed
// and the rest equals "rest" (one label, never empty). Both lowercase.
bool name_matches(const std::string& pattern, const std::string& name) noexcept;

}  // namespace ballast::tls
