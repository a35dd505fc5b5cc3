#include "tls/client_context.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <string>

#include "tls/protocol_settings.h"

namespace ballast::tls {
namespace {

// Where a connection's SessionSlot hangs, for the new-session callback.
int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool is_ip_address(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// SNI and the name to verify, for one connection; false when OpenSSL cannot take them.
bool name_connection(SSL* ssl, const std::string& name, bool verify) {
  if (is_ip_address(name)) {
    return !verify || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  }
  if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    return false;
  }
  if (!verify) {
    return true;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

}  // namespace

std::shared_ptr<const ClientContext> ClientContext::build(const config::UpstreamTlsConfig& tls,
                                                          const ClientContext* previous) {
  std::shared_ptr<ClientContext> built(new ClientContext(tls));
  built->configure();
  built->stats_ = previous != nullptr ? previous->stats_ : std::make_shared<UpstreamTlsStats>();
  return built;
}

void ClientContext::configure() {
  context_.reset(SSL_CTX_new(TLS_client_method()));
  if (context_ == nullptr) {
    fail_with_openssl_errors(config_.where, "cannot make a TLS context");
  }
  apply_protocol_settings(context_.get(),
                          {config_.min_version, config_.max_version, config_.ciphers,
                           config_.ciphersuites, config_.where, "upstream_tls"});
  load_trust();
  load_certificate();
  if (config_.offer_h2) {
    // Only h2: a server that cannot speak it is refused at the handshake, not misread after.
    static constexpr unsigned char kH2[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(context_.get(), kH2, sizeof(kH2));
  }
  if (config_.session_reuse) {
    // Sessions live in the pools' slots, not in OpenSSL's cache (which a client never looks in).
    SSL_CTX_set_session_cache_mode(context_.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context_.get(), on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(context_.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(context_.get(), SSL_OP_NO_TICKET);
  }
}

void ClientContext::load_trust() {
  if (!config_.verify) {
    SSL_CTX_set_verify(context_.get(), SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_CTX_set_verify(context_.get(), SSL_VERIFY_PEER, nullptr);
  const config::FileRef& ca = config_.ca;
  if (ca.path.empty()) {
    if (SSL_CTX_set_default_verify_paths(context_.get()) != 1) {
      fail_with_openssl_errors(config_.where, "cannot load the system's CA certificates");
    }
  } else if (SSL_CTX_load_verify_locations(context_.get(), ca.path.c_str(), nullptr) != 1) {
    fail_with_openssl_errors(ca.where, ca.path + ": cannot load the CA certificates");
  }
}

void ClientContext::load_certificate() {
  const config::TlsCertificateConfig& files = config_.certificate;
  if (files.cert.path.empty()) {
    return;
  }
  if (SSL_CTX_use_certificate_chain_file(context_.get(), files.cert.path.c_str()) != 1) {
    fail_with_openssl_errors(files.cert.where, files.cert.path + ": cannot load the certificate");
  }
  if (SSL_CTX_use_PrivateKey_file(context_.get(), files.key.path.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(context_.get()) != 1) {
    fail_with_openssl_errors(
        files.key.where,
        files.key.path + ": not a PEM private key, or not the key of " + files.cert.path);
  }
}

SSL* ClientContext::new_connection(const std::string& server_host,
                                   SessionSlot& slot) const noexcept {
  SslPtr ssl(SSL_new(context_.get()));
  if (ssl == nullptr) {
    return nullptr;
  }
  SSL_set_connect_state(ssl.get());
  const std::string& name = config_.server_name.empty() ? server_host : config_.server_name;
  if (!name_connection(ssl.get(), name, config_.verify)) {
    return nullptr;
  }
  if (config_.session_reuse) {
    SSL_set_ex_data(ssl.get(), slot_index(), &slot);
    if (slot.get() != nullptr && SSL_set_session(ssl.get(), slot.get()) != 1) {
      slot.clear();
    }
  }
  return ssl.release();
}

int ClientContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionSlot*>(SSL_get_ex_data(ssl, slot_index()));
  if (slot == nullptr) {
    return 0;  // not kept: OpenSSL frees it
  }
  slot->keep(session);
  return 1;
}

}  // namespace ballast::tls
