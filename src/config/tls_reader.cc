#include "config/tls_reader.h"

#include <array>
#include <optional>
#include <string_view>

#include "config/scalars.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 14> kTlsKeys = {
    "certificates",        "min_version",
    "max_version",         "ciphers",
    "ciphersuites",        "alpn",
    "handshake_timeout",   "session_tickets",
    "session_ticket_keys", "session_ticket_rotation",
    "session_cache_size",  "session_timeout",
    "client_certificate",  "client_ca",
};

constexpr std::array<std::string_view, 2> kCertificateKeys = {"cert", "key"};

constexpr std::array<std::string_view, 9> kUpstreamTlsKeys = {
    "server_name", "verify",  "ca",           "certificate",   "min_version",
    "max_version", "ciphers", "ciphersuites", "session_reuse",
};

// More than this is a generated file gone wrong: each pair is a context in memory.
constexpr size_t kMaxCertificates = 1024;
constexpr size_t kMaxAlpnProtocols = 8;
constexpr uint32_t kMaxSessionCache = 10'000'000;

constexpr std::array<Named<TlsVersion>, 4> kVersions = {{
    {"1.2", TlsVersion::v1_2},
    {"1.3", TlsVersion::v1_3},
    {"TLSv1.2", TlsVersion::v1_2},
    {"TLSv1.3", TlsVersion::v1_3},
}};

constexpr std::array<Named<ClientCertificateMode>, 3> kClientModes = {{
    {"off", ClientCertificateMode::off},
    {"optional", ClientCertificateMode::optional},
    {"required", ClientCertificateMode::required},
}};

TlsCertificateConfig read_certificate(const Node& node) {
  const MapView fields = node.as_map(kCertificateKeys);
  return {fields.require("cert", "the PEM certificate (and its chain)").as_file(),
          fields.require("key", "the PEM private key").as_file()};
}

std::vector<TlsCertificateConfig> read_certificates(const Node& list) {
  const std::vector<Node> items = list.as_list();
  if (items.empty()) {
    list.fail("list at least one {cert, key} pair");
  }
  list.check_count(items.size(), kMaxCertificates, "certificates");
  std::vector<TlsCertificateConfig> certificates;
  for (const Node& item : items) {
    certificates.push_back(read_certificate(item));
  }
  return certificates;
}

std::vector<std::string> read_alpn(const Node& list) {
  const std::vector<Node> items = list.as_list();
  list.check_count(items.size(), kMaxAlpnProtocols, "ALPN protocols");
  std::vector<std::string> protocols;
  for (const Node& item : items) {
    std::string protocol = item.as_string();
    if (protocol.empty() || protocol.size() > 255) {
      item.fail("an ALPN protocol name is 1 to 255 bytes, such as http/1.1");
    }
    protocols.push_back(std::move(protocol));
  }
  return protocols;
}

// A cipher string goes to OpenSSL as it is; it must at least be text it can take.
std::string read_cipher_list(const Node& node) {
  std::string list = node.as_string();
  if (list.empty() || list.find_first_of(" \t\r\n") != std::string::npos) {
    node.fail("expected an OpenSSL cipher list, names joined by ':'");
  }
  return list;
}

// min_version, max_version, ciphers and ciphersuites, which both blocks take.
void read_protocol(const MapView& block, TlsVersion& min_version, TlsVersion& max_version,
                   std::string& ciphers, std::string& ciphersuites) {
  if (const std::optional<Node> min = block.find("min_version")) {
    min_version = min->as_enum(kVersions);
  }
  if (const std::optional<Node> max = block.find("max_version")) {
    max_version = max->as_enum(kVersions);
  }
  if (min_version > max_version) {
    block.get("min_version").fail("min_version is above max_version");
  }
  if (const std::optional<Node> list = block.find("ciphers")) {
    ciphers = read_cipher_list(*list);
  }
  if (const std::optional<Node> suites = block.find("ciphersuites")) {
    ciphersuites = read_cipher_list(*suites);
  }
}

}  // namespace

TlsListenerConfig read_listener_tls(const Node& node, ListenerMode mode) {
  TlsListenerConfig tls;
  const MapView block = node.as_map(kTlsKeys);
  tls.enabled = true;
  tls.certificates = read_certificates(
      block.require("certificates", "a list of {cert, key}; the first is the default"));
  read_protocol(block, tls.min_version, tls.max_version, tls.ciphers, tls.ciphersuites);
  if (const std::optional<Node> alpn = block.find("alpn")) {
    tls.alpn = read_alpn(*alpn);
  } else if (mode == ListenerMode::tcp) {
    tls.alpn.clear();
  }
  if (const std::optional<Node> timeout = block.find("handshake_timeout")) {
    tls.handshake_timeout_ms = timeout->as_positive_duration_ms();
  }
  if (const std::optional<Node> tickets = block.find("session_tickets")) {
    tls.session_tickets = tickets->as_bool();
  }
  if (const std::optional<Node> keys = block.find("session_ticket_keys")) {
    tls.session_ticket_keys = keys->as_file();
  }
  if (const std::optional<Node> rotation = block.find("session_ticket_rotation")) {
    tls.session_ticket_rotation_ms = rotation->as_positive_duration_ms();
  }
  if (const std::optional<Node> cache = block.find("session_cache_size")) {
    tls.session_cache_size = cache->as_uint<uint32_t>(0, kMaxSessionCache);
  }
  if (const std::optional<Node> timeout = block.find("session_timeout")) {
    tls.session_timeout_ms = timeout->as_positive_duration_ms();
  }
  if (const std::optional<Node> mode = block.find("client_certificate")) {
    tls.client_certificate = mode->as_enum(kClientModes);
  }
  if (const std::optional<Node> ca = block.find("client_ca")) {
    tls.client_ca = ca->as_file();
  }
  if (tls.client_certificate != ClientCertificateMode::off && tls.client_ca.path.empty()) {
    block.require("client_ca", "the CA file client certificates are verified against");
  }
  return tls;
}

UpstreamTlsConfig read_upstream_tls(const Node& node) {
  UpstreamTlsConfig tls;
  const MapView block = node.as_map(kUpstreamTlsKeys);
  tls.enabled = true;
  tls.where = node.where();
  if (const std::optional<Node> name = block.find("server_name")) {
    tls.server_name = name->as_string();
    if (!is_host(tls.server_name)) {
      name->fail(name->describe() + " is not a host name or IP address");
    }
  }
  if (const std::optional<Node> verify = block.find("verify")) {
    tls.verify = verify->as_bool();
  }
  if (const std::optional<Node> ca = block.find("ca")) {
    if (!tls.verify) {
      ca->fail("verify is false, so no CA is used; remove one or the other");
    }
    tls.ca = ca->as_file();
  }
  if (const std::optional<Node> certificate = block.find("certificate")) {
    tls.certificate = read_certificate(*certificate);
  }
  read_protocol(block, tls.min_version, tls.max_version, tls.ciphers, tls.ciphersuites);
  if (const std::optional<Node> reuse = block.find("session_reuse")) {
    tls.session_reuse = reuse->as_bool();
  }
  return tls;
}

}  // namespace ballast::config
