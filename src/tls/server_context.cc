#include "tls/server_context.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include "config/config_error.h"
#include "core/clock.h"
#include "tls/protocol_settings.h"

namespace ballast::tls {
namespace {

constexpr size_t kSessionIdContextBytes = 32;  // SSL_MAX_SID_CTX_LENGTH

[[noreturn]] void fail(const std::string& where, const std::string& problem) {
  fail_with_openssl_errors(where, problem);
}

// Where the listener's tls block is, for errors about the block as a whole: its first
// certificate's place stands in for it.
std::string block_where(const config::TlsListenerConfig& tls) {
  return tls.certificates.front().cert.where;
}

int ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Fetched once: OpenSSL 3's implicit fetch by EVP_aes_256_cbc() looks the algorithm up (under
// a lock) at every use, which is the contention HAProxy measured.
const EVP_CIPHER* ticket_cipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int sealing) {
  TicketKeyRing* ring = ticket_keys_of(ssl);
  if (ring == nullptr || ticket_cipher() == nullptr) {
    return -1;
  }
  std::optional<TicketKey> key;
  bool renew = false;
  if (sealing != 0) {
    key = ring->sealing_key(core::monotonic_now_ns());
    std::copy(key->name.begin(), key->name.end(), key_name);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_cipher())) != 1) {
      return -1;
    }
  } else {
    key = ring->opening_key(key_name, renew);
    if (!key) {
      return 0;  // sealed by a key gone by: a full handshake, and a fresh ticket
    }
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key->hmac_secret.data(),
                                        key->hmac_secret.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(mac, params) != 1) {
    return -1;
  }
  const int ok =
      sealing != 0 ? EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, key->aes_key.data(), iv)
                   : EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, key->aes_key.data(), iv);
  if (ok != 1) {
    return -1;
  }
  return renew ? 2 : 1;
}

std::vector<unsigned char> alpn_wire(const std::vector<std::string>& protocols) {
  std::vector<unsigned char> wire;
  for (const std::string& protocol : protocols) {
    wire.push_back(static_cast<unsigned char>(protocol.size()));
    wire.insert(wire.end(), protocol.begin(), protocol.end());
  }
  return wire;
}

// Pairs valid for the same names share a context (one per key type).
std::vector<std::vector<const Certificate*>> group_by_names(
    const std::vector<Certificate>& certificates) {
  std::vector<std::vector<const Certificate*>> groups;
  std::vector<std::vector<std::string>> group_names;
  for (const Certificate& certificate : certificates) {
    std::vector<std::string> names = certificate.names;
    std::sort(names.begin(), names.end());
    const auto same = std::find(group_names.begin(), group_names.end(), names);
    if (same == group_names.end()) {
      groups.push_back({&certificate});
      group_names.push_back(std::move(names));
      continue;
    }
    std::vector<const Certificate*>& group =
        groups[static_cast<size_t>(same - group_names.begin())];
    for (const Certificate* other : group) {
      if (other->key_type == certificate.key_type) {
        throw config::ConfigError(certificate.files.cert.where + ": " +
                                  certificate.files.cert.path + ": a second " +
                                  certificate.key_type + " certificate for the names of " +
                                  other->files.cert.path + " (one per key type)");
      }
    }
    group.push_back(&certificate);
  }
  return groups;
}

}  // namespace

TicketKeyRing* ticket_keys_of(SSL* ssl) noexcept {
  return static_cast<TicketKeyRing*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
}

ServerContext::ServerContext(const config::ListenerConfig& listener)
    : listener_name_(listener.name), config_(listener.tls), alpn_wire_(alpn_wire(config_.alpn)) {}

ServerContext::~ServerContext() = default;

std::shared_ptr<const ServerContext> ServerContext::build(const config::ListenerConfig& listener,
                                                          const ServerContext* previous) {
  std::shared_ptr<ServerContext> built(new ServerContext(listener));
  const config::TlsListenerConfig& tls = built->config_;
  for (const config::TlsCertificateConfig& pair : tls.certificates) {
    built->certificates_.push_back(load_certificate(pair));
  }
  if (tls.session_tickets) {
    if (!tls.session_ticket_keys.path.empty()) {
      built->ticket_keys_ = TicketKeyRing::from_file(tls.session_ticket_keys);
    } else if (previous != nullptr && previous->ticket_keys_ != nullptr &&
               previous->ticket_keys_->rotation_ms() == tls.session_ticket_rotation_ms) {
      built->ticket_keys_ = previous->ticket_keys_;
    } else {
      built->ticket_keys_ = TicketKeyRing::generated(tls.session_ticket_rotation_ms);
    }
  }
  built->stats_ = previous != nullptr ? previous->stats_ : std::make_shared<TlsStats>();
  for (const std::vector<const Certificate*>& group : group_by_names(built->certificates_)) {
    built->add_context(group);
  }
  return built;
}

void ServerContext::add_context(const std::vector<const Certificate*>& pairs) {
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  if (context == nullptr) {
    fail(block_where(config_), "cannot make a TLS context");
  }
  configure(context.get());
  for (const Certificate* pair : pairs) {
    const config::TlsCertificateConfig& files = pair->files;
    if (SSL_CTX_use_certificate_chain_file(context.get(), files.cert.path.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(context.get(), files.key.path.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(context.get()) != 1) {
      fail(files.cert.where, files.cert.path + ": cannot load (changed while loading?)");
    }
  }
  const size_t index = contexts_.size();
  for (const Certificate* pair : pairs) {
    for (const std::string& name : pair->names) {
      by_name_.emplace(name, index);  // an earlier context keeps a name both list
    }
  }
  contexts_.push_back(std::move(context));
}

void ServerContext::configure(SSL_CTX* context) {
  apply_protocol_settings(context, {config_.min_version, config_.max_version, config_.ciphers,
                                    config_.ciphersuites, block_where(config_), "tls"});
  SSL_CTX_set_options(context, config_.session_tickets
                                   ? SSL_OP_CIPHER_SERVER_PREFERENCE
                                   : SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  SSL_CTX_set_max_early_data(context, 0);
  // The chain sent is the one in the certificate file. Otherwise OpenSSL builds one from the
  // trust store at every handshake (an X509_verify_cert under the store's lock), which nginx
  // also turns off.
  SSL_CTX_set_mode(context, SSL_MODE_NO_AUTO_CHAIN);

  unsigned char session_id_context[kSessionIdContextBytes];
  unsigned int length = 0;
  EVP_Digest(listener_name_.data(), listener_name_.size(), session_id_context, &length,
             EVP_sha256(), nullptr);
  SSL_CTX_set_session_id_context(context, session_id_context, length);
  SSL_CTX_set_timeout(context, static_cast<long>(config_.session_timeout_ms / 1000 + 1));
  if (config_.session_cache_size == 0) {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(context, config_.session_cache_size);
  }
  if (ticket_keys_ != nullptr) {
    SSL_CTX_set_ex_data(context, ex_index(), ticket_keys_.get());
    SSL_CTX_set_tlsext_ticket_key_evp_cb(context, on_ticket_key);
  }
  SSL_CTX_set_tlsext_servername_callback(context, on_server_name);
  SSL_CTX_set_tlsext_servername_arg(context, this);
  if (!alpn_wire_.empty()) {
    SSL_CTX_set_alpn_select_cb(context, on_alpn, this);
  }
  configure_client_verification(context);
}

void ServerContext::configure_client_verification(SSL_CTX* context) {
  if (config_.client_certificate == config::ClientCertificateMode::off) {
    return;
  }
  const config::FileRef& ca = config_.client_ca;
  if (SSL_CTX_load_verify_locations(context, ca.path.c_str(), nullptr) != 1) {
    fail(ca.where, ca.path + ": cannot load the CA certificates");
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.path.c_str());
  if (names == nullptr) {
    fail(ca.where, ca.path + ": no CA certificate in the file");
  }
  SSL_CTX_set_client_CA_list(context, names);
  int mode = SSL_VERIFY_PEER;
  if (config_.client_certificate == config::ClientCertificateMode::required) {
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(context, mode, nullptr);
}

SSL* ServerContext::new_connection() const noexcept {
  SSL* ssl = SSL_new(contexts_.front().get());
  if (ssl != nullptr) {
    SSL_set_accept_state(ssl);
  }
  return ssl;
}

size_t ServerContext::context_for(const std::string& name) const {
  if (const auto exact = by_name_.find(name); exact != by_name_.end()) {
    return exact->second;
  }
  const size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) {
    return 0;
  }
  const auto wildcard = by_name_.find("*" + name.substr(dot));
  return wildcard != by_name_.end() ? wildcard->second : 0;
}

int ServerContext::on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) {
    return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  }
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const size_t index = self->context_for(lower);
  if (index != 0) {
    SSL_set_SSL_CTX(ssl, self->contexts_[index].get());
  }
  return SSL_TLSEXT_ERR_OK;
}

int ServerContext::on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
                           const unsigned char* in, unsigned int in_length, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_length, self->alpn_wire_.data(),
                            static_cast<unsigned int>(self->alpn_wire_.size()), in,
                            in_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // none in common: carry on without ALPN
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace ballast::tls
