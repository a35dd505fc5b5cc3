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

TEST(TlsReader, RedirectToHttpsTakesThePortToName) {
  const Config config =
      parse_config(with_listener("    redirect_to_https: true\n    https_port: 8443\n"), "c.yaml");
  EXPECT_TRUE(config.listeners.front().redirect_to_https);
  EXPECT_EQ(config.listeners.front().https_port, 8443);
  EXPECT_FALSE(config.listeners.front().tls.enabled);
}

}  // namespace
}  // namespace ballast::config
