#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config_error_of.h"

namespace ballast::config {
namespace {

using test_support::error_of;

std::string with_listener(const std::string& listener_keys) {
  return "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:8443\n"
         "    routes: [{cluster: app}]\n" +
         listener_keys +
         "clusters:\n"
         "  app:\n"
         "    servers: [{host: 127.0.0.1, port: 9000}]\n";
}

TEST(TlsReader, ReadsEveryKeyAndResolvesFilesAgainstTheConfigurationsFolder) {
  const Config config = parse_config(with_listener("    tls:\n"
                                                   "      certificates:\n"
                                                   "        - {cert: a.pem, key: /k/a.key}\n"
                                                   "      min_version: \"1.3\"\n"
                                                   "      alpn: [h2, http/1.1]\n"
                                                   "      handshake_timeout: 3s\n"
                                                   "      session_tickets: false\n"
                                                   "      session_ticket_keys: keys.txt\n"
                                                   "      session_ticket_rotation: 30m\n"
                                                   "      session_cache_size: 0\n"
                                                   "      session_timeout: 1h\n"
                                                   "      client_certificate: optional\n"
                                                   "      client_ca: ca.pem\n"),
                                     "/etc/ballast/ballast.yaml");
  const TlsListenerConfig& tls = config.listeners.front().tls;
  ASSERT_TRUE(tls.enabled);
  ASSERT_EQ(tls.certificates.size(), 1u);
  EXPECT_EQ(tls.certificates[0].cert.path, "/etc/ballast/a.pem");
  EXPECT_EQ(tls.certificates[0].key.path, "/k/a.key");
  EXPECT_EQ(tls.certificates[0].cert.where,
            "/etc/ballast/ballast.yaml:7:18: listeners[0].tls.certificates[0].cert");
  EXPECT_EQ(tls.min_version, TlsVersion::v1_3);
  EXPECT_EQ(tls.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(tls.handshake_timeout_ms, 3'000u);
  EXPECT_FALSE(tls.session_tickets);
  EXPECT_EQ(tls.session_ticket_keys.path, "/etc/ballast/keys.txt");
  EXPECT_EQ(tls.session_ticket_rotation_ms, 1'800'000u);
  EXPECT_EQ(tls.session_cache_size, 0u);
  EXPECT_EQ(tls.session_timeout_ms, 3'600'000u);
  EXPECT_EQ(tls.client_certificate, ClientCertificateMode::optional);
  EXPECT_EQ(tls.client_ca.path, "/etc/ballast/ca.pem");
}

TEST(TlsReader, DefaultsAreTls12And13HttpAlpnTicketsAndACache) {
  const Config config = parse_config(
      with_listener("    tls: {certificates: [{cert: a.pem, key: a.key}]}\n"), "c.yaml");
  const TlsListenerConfig& tls = config.listeners.front().tls;
  EXPECT_EQ(tls.min_version, TlsVersion::v1_2);
  EXPECT_EQ(tls.max_version, TlsVersion::v1_3);
  EXPECT_EQ(tls.alpn, (std::vector<std::string>{"http/1.1"}));
  EXPECT_EQ(tls.handshake_timeout_ms, 10'000u);
  EXPECT_TRUE(tls.session_tickets);
  EXPECT_EQ(tls.session_ticket_rotation_ms, 3'600'000u);
  EXPECT_EQ(tls.session_cache_size, 20'480u);
  EXPECT_EQ(tls.client_certificate, ClientCertificateMode::off);
  EXPECT_FALSE(config.listeners.front().redirect_to_https);
}

TEST(TlsReader, SaysWhatIsWrongAndWhere) {
  EXPECT_EQ(error_of(with_listener("    tls: {}\n")),
            "c.yaml:5:5: listeners[0].tls.certificates: missing; a list of {cert, key}; the "
            "first is the default");
  EXPECT_EQ(error_of(with_listener("    tls:\n      certificates: [{cert: a, key: b}]\n"
                                   "      min_version: \"1.3\"\n      max_version: \"1.2\"\n")),
            "c.yaml:7:20: listeners[0].tls.min_version: min_version is above max_version");
  EXPECT_EQ(error_of(with_listener("    tls:\n      certificates: [{cert: a, key: b}]\n"
                                   "      min_version: \"1.1\"\n")),
            "c.yaml:7:20: listeners[0].tls.min_version: expected one of 1.2, 1.3, TLSv1.2, "
            "TLSv1.3; got the string \"1.1\"");
  EXPECT_EQ(error_of(with_listener("    tls:\n      certificates: [{cert: a, key: b}]\n"
                                   "      client_certificate: required\n")),
            "c.yaml:5:5: listeners[0].tls.client_ca: missing; the CA file client "
            "certificates are verified against");
  EXPECT_EQ(error_of(with_listener("    tls: {certificates: [{cert: a, key: b}]}\n"
                                   "    redirect_to_https: true\n")),
            "c.yaml:6:24: listeners[0].redirect_to_https: this listener is already HTTPS (it has "
            "tls:); redirect a plain one");
}

std::string tcp_listener_with(const std::string& tls) {
  return "listeners:\n"
         "  - name: db\n"
         "    listen: 127.0.0.1:5432\n"
         "    mode: tcp\n"
         "    cluster: app\n"
         "    tls: " +
         tls +
         "\n"
         "clusters:\n"
         "  app:\n"
         "    servers: [{host: 127.0.0.1, port: 9000}]\n";
}

TEST(TlsReader, ATcpListenerTerminatesTlsAndSpeaksAlpnOnlyWhenTold) {
  const Config plain =
      parse_config(tcp_listener_with("{certificates: [{cert: a, key: b}]}"), "c.yaml");
  EXPECT_TRUE(plain.listeners.front().tls.enabled);
  EXPECT_TRUE(plain.listeners.front().tls.alpn.empty());
  const Config told = parse_config(
      tcp_listener_with("{certificates: [{cert: a, key: b}], alpn: [postgresql]}"), "c.yaml");
  EXPECT_EQ(told.listeners.front().tls.alpn, std::vector<std::string>{"postgresql"});
}

TEST(ListenerReader, AllowTraceIsOffUnlessAskedForAndNotForTcp) {
  EXPECT_FALSE(parse_config(with_listener(""), "c.yaml").listeners.front().allow_trace);
  EXPECT_TRUE(parse_config(with_listener("    allow_trace: true\n"), "c.yaml")
                  .listeners.front()
                  .allow_trace);
  EXPECT_EQ(error_of("listeners:\n"
                     "  - name: db\n"
                     "    listen: 127.0.0.1:5432\n"
                     "    mode: tcp\n"
                     "    cluster: app\n"
                     "    allow_trace: true\n"
                     "clusters:\n"
                     "  app:\n"
                     "    servers: [{host: 127.0.0.1, port: 9000}]\n"),
            "c.yaml:6:18: listeners[0].allow_trace: a tcp listener sees no requests to trace");
}

TEST(ListenerReader, H2cIsOffUnlessAskedForAndNotForTcpOrTls) {
  EXPECT_FALSE(parse_config(with_listener(""), "c.yaml").listeners.front().h2c);
  EXPECT_TRUE(parse_config(with_listener("    h2c: true\n"), "c.yaml").listeners.front().h2c);
  EXPECT_EQ(error_of(with_listener("    tls: {certificates: [{cert: a, key: b}]}\n"
                                   "    h2c: true\n")),
            "c.yaml:6:10: listeners[0].h2c: on a tls listener HTTP/2 is chosen by ALPN: add h2 "
            "to tls.alpn instead");
  EXPECT_EQ(error_of("listeners:\n"
                     "  - name: db\n"
                     "    listen: 127.0.0.1:5432\n"
                     "    mode: tcp\n"
                     "    cluster: app\n"
                     "    h2c: true\n"
                     "clusters:\n"
                     "  app:\n"
                     "    servers: [{host: 127.0.0.1, port: 9000}]\n"),
            "c.yaml:6:10: listeners[0].h2c: a tcp listener carries bytes, not HTTP/2");
}

TEST(TlsReader, RedirectToHttpsTakesThePortToName) {
  const Config config =
      parse_config(with_listener("    redirect_to_https: true\n    https_port: 8443\n"), "c.yaml");
  EXPECT_TRUE(config.listeners.front().redirect_to_https);
  EXPECT_EQ(config.listeners.front().https_port, 8443);
  EXPECT_FALSE(config.listeners.front().tls.enabled);
}

std::string with_upstream_tls(const std::string& block) {
  return "load_balancer:\n"
         "  listen: 127.0.0.1:8080\n"
         "  servers: [{host: 10.0.0.7, port: 443}]\n"
         "  upstream_tls:\n" +
         block;
}

TEST(UpstreamTlsReader, ReadsEveryKey) {
  const Config config =
      parse_config(with_upstream_tls("    server_name: api.internal\n"
                                     "    ca: ca.pem\n"
                                     "    certificate: {cert: c.pem, key: c.key}\n"
                                     "    min_version: \"1.3\"\n"
                                     "    ciphersuites: TLS_AES_128_GCM_SHA256\n"
                                     "    session_reuse: false\n"),
                   "/etc/ballast/ballast.yaml");
  const UpstreamTlsConfig& tls = config.clusters.front().upstream_tls;
  ASSERT_TRUE(tls.enabled);
  EXPECT_EQ(tls.where, "/etc/ballast/ballast.yaml:5:5: load_balancer.upstream_tls");
  EXPECT_EQ(tls.server_name, "api.internal");
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.ca.path, "/etc/ballast/ca.pem");
  EXPECT_EQ(tls.certificate.cert.path, "/etc/ballast/c.pem");
  EXPECT_EQ(tls.certificate.key.path, "/etc/ballast/c.key");
  EXPECT_EQ(tls.min_version, TlsVersion::v1_3);
  EXPECT_EQ(tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_FALSE(tls.session_reuse);
}

TEST(UpstreamTlsReader, DefaultsVerifyAgainstTheSystemStoreByEachServersName) {
  const Config config = parse_config(with_upstream_tls("    {}\n"), "c.yaml");
  const UpstreamTlsConfig& tls = config.clusters.front().upstream_tls;
  EXPECT_TRUE(tls.enabled);
  EXPECT_TRUE(tls.verify);
  EXPECT_TRUE(tls.ca.path.empty());
  EXPECT_TRUE(tls.server_name.empty());
  EXPECT_TRUE(tls.certificate.cert.path.empty());
  EXPECT_EQ(tls.min_version, TlsVersion::v1_2);
  EXPECT_EQ(tls.max_version, TlsVersion::v1_3);
  EXPECT_TRUE(tls.session_reuse);
  const Config plain = parse_config(
      "load_balancer:\n  listen: 127.0.0.1:8080\n  servers: [{host: 10.0.0.7, port: 80}]\n",
      "c.yaml");
  EXPECT_FALSE(plain.clusters.front().upstream_tls.enabled);
}

TEST(UpstreamTlsReader, SaysWhatIsWrongAndWhere) {
  EXPECT_EQ(error_of(with_upstream_tls("    server_name: \"a b\"\n")),
            "c.yaml:5:18: load_balancer.upstream_tls.server_name: the string \"a b\" is not a "
            "host name or IP address");
  EXPECT_EQ(error_of(with_upstream_tls("    verify: false\n    ca: ca.pem\n")),
            "c.yaml:6:9: load_balancer.upstream_tls.ca: verify is false, so no CA is used; remove "
            "one or the other");
  EXPECT_EQ(error_of(with_upstream_tls("    certificate: {cert: c.pem}\n")),
            "c.yaml:5:5: load_balancer.upstream_tls.certificate.key: missing; the PEM private key");
  EXPECT_EQ(error_of(with_upstream_tls("    min_version: \"1.3\"\n    max_version: \"1.2\"\n")),
            "c.yaml:5:18: load_balancer.upstream_tls.min_version: min_version is above "
            "max_version");
  EXPECT_EQ(error_of(with_upstream_tls("    sni: x\n")).substr(0, 55),
            "c.yaml:5:5: load_balancer.upstream_tls.sni: unknown key");
}

}  // namespace
}  // namespace ballast::config
