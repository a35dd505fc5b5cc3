#pragma once
// Certificates made by the test, in a temporary folder: a self-signed certificate per call,
// with the DNS names given, EC P-256 or RSA-2048. No key is ever committed.

#include <string>
#include <vector>

#include "config/config.h"

namespace ballast::tls::testing {

enum class KeyKind { ec, rsa };

// Writes NAME.pem and NAME.key under a fresh temporary folder; `days` may be negative (expired).
config::TlsCertificateConfig make_certificate(const std::string& file_name,
                                              const std::vector<std::string>& dns_names,
                                              KeyKind kind = KeyKind::ec, int days = 30);

// A folder removed at exit, for the files above.
const std::string& scratch_folder();

}  // namespace ballast::tls::testing
