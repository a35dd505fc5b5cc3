#include "tls/certificate.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "config/config_error.h"

namespace ballast::tls {
namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

[[noreturn]] void fail(const config::FileRef& file, const std::string& problem) {
  throw config::ConfigError(file.where + ": " + file.path + ": " + problem);
}

X509Ptr read_leaf(const config::FileRef& file) {
  FILE* stream = std::fopen(file.path.c_str(), "r");
  if (stream == nullptr) {
    fail(file, std::string("cannot open: ") + std::strerror(errno));
  }
  X509Ptr leaf(PEM_read_X509(stream, nullptr, nullptr, nullptr));
  std::fclose(stream);
  if (leaf == nullptr) {
    fail(file, "no PEM certificate: " + take_openssl_errors());
  }
  return leaf;
}

// Loads the pair into a throw-away context: the same calls that serve it, so what fails here is
// exactly what would fail there (a key that does not match, a broken chain).
void check_pair(const config::TlsCertificateConfig& files) {
  const SslCtxPtr scratch(SSL_CTX_new(TLS_server_method()));
  if (scratch == nullptr) {
    throw config::ConfigError(files.cert.where + ": " + take_openssl_errors());
  }
  if (SSL_CTX_use_certificate_chain_file(scratch.get(), files.cert.path.c_str()) != 1) {
    fail(files.cert, "cannot load the certificate chain: " + take_openssl_errors());
  }
  // OpenSSL checks here too that the key is the certificate's.
  if (SSL_CTX_use_PrivateKey_file(scratch.get(), files.key.path.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(scratch.get()) != 1) {
    fail(files.key, "not a PEM private key, or not the key of " + files.cert.path + ": " +
                        take_openssl_errors());
  }
}

}  // namespace

std::vector<std::string> certificate_names(X509* certificate) {
  std::vector<std::string> names;
  auto* alt_names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (alt_names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(alt_names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt_names, i);
      if (name->type == GEN_DNS) {
        const ASN1_IA5STRING* dns = name->d.dNSName;
        names.push_back(lowercase(std::string(reinterpret_cast<const char*>(dns->data),
                                              static_cast<size_t>(dns->length))));
      }
    }
    GENERAL_NAMES_free(alt_names);
  }
  if (names.empty()) {
    char common_name[256] = {};
    const int length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName,
                                                 common_name, sizeof(common_name));
    if (length > 0) {
      names.push_back(lowercase(std::string(common_name, static_cast<size_t>(length))));
    }
  }
  return names;
}

int64_t not_after_unix(X509* certificate) {
  std::tm when{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &when) != 1) {
    return 0;
  }
  return static_cast<int64_t>(timegm(&when));
}

bool name_matches(const std::string& pattern, const std::string& name) noexcept {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const size_t dot = name.find('.');
    return dot != std::string::npos && dot != 0 &&
           std::string_view(name).substr(dot + 1) == std::string_view(pattern).substr(2);
  }
  return pattern == name;
}

Certificate load_certificate(const config::TlsCertificateConfig& files) {
  Certificate certificate;
  certificate.files = files;
  certificate.leaf = read_leaf(files.cert);
  check_pair(files);
  certificate.names = certificate_names(certificate.leaf.get());
  if (certificate.names.empty()) {
    fail(files.cert, "names no host: no subjectAltName DNS entry and no CN");
  }
  const EVP_PKEY* key = X509_get0_pubkey(certificate.leaf.get());
  const char* type = key != nullptr ? EVP_PKEY_get0_type_name(key) : nullptr;
  certificate.key_type = type != nullptr ? type : "unknown";
  certificate.not_after_unix = not_after_unix(certificate.leaf.get());
  return certificate;
}

}  // namespace ballast::tls
