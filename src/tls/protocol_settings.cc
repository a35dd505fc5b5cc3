#include "tls/protocol_settings.h"

#include "config/config_error.h"
#include "tls/openssl_error.h"

namespace ballast::tls {
namespace {

int version_number(config::TlsVersion version) {
  return version == config::TlsVersion::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

}  // namespace

void fail_with_openssl_errors(const std::string& where, const std::string& problem) {
  throw config::ConfigError(where + ": " + problem + ": " + take_openssl_errors());
}

void apply_protocol_settings(SSL_CTX* context, const ProtocolSettings& settings) {
  const std::string& where = settings.where;
  const std::string block = settings.block;
  if (SSL_CTX_set_min_proto_version(context, version_number(settings.min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(context, version_number(settings.max_version)) != 1) {
    fail_with_openssl_errors(where, "cannot set the TLS versions");
  }
  const std::string ciphers =
      settings.ciphers.empty() ? std::string(config::kDefaultTlsCiphers) : settings.ciphers;
  if (SSL_CTX_set_cipher_list(context, ciphers.c_str()) != 1) {
    fail_with_openssl_errors(where, block + ".ciphers: OpenSSL takes none of \"" + ciphers + "\"");
  }
  if (!settings.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(context, settings.ciphersuites.c_str()) != 1) {
    fail_with_openssl_errors(
        where, block + ".ciphersuites: OpenSSL takes none of \"" + settings.ciphersuites + "\"");
  }
  if (SSL_CTX_set1_groups_list(context, kGroups) != 1) {
    fail_with_openssl_errors(where, "cannot set the key exchange groups");
  }
  SSL_CTX_set_options(
      context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes: a full socket takes part of a message, as a plain one does; reads ahead:
  // one recv takes every record the socket holds, not one header and one body per record.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(context, 1);
}

}  // namespace ballast::tls
