// A cluster's ClientContext against a listener's ServerContext over a socket pair, each side a
// TlsStream: the name verified (or refused), the session slot filled by the server's tickets
// and resumed from, a client certificate presented, and files that do not load named.

#include "tls/client_context.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/config_error.h"
#include "core/socket.h"
#include "test_certificates.h"
#include "tls/server_context.h"
#include "tls/tls_stream.h"

namespace ballast::tls {
namespace {

using testing::make_certificate;

config::ListenerConfig listener_with(const config::TlsCertificateConfig& certificate) {
  config::ListenerConfig listener;
  listener.name = "web";
  listener.tls.enabled = true;
  listener.tls.certificates = {certificate};
  return listener;
}

config::UpstreamTlsConfig upstream_trusting(const config::TlsCertificateConfig& certificate) {
  config::UpstreamTlsConfig tls;
  tls.enabled = true;
  tls.where = "test.yaml:1:1: upstream_tls";
  tls.ca = certificate.cert;  // self-signed: it is its own CA
  return tls;
}

// A client stream from `client` to a server stream from `server`, over a socket pair.
class Pair {
 public:
  Pair(const ClientContext& client, const std::string& server_host, SessionSlot& slot,
       const ServerContext& server) {
    int ends[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ends), 0);
    client_fd_.reset(ends[0]);
    server_fd_.reset(ends[1]);
    client_ =
        std::make_unique<TlsStream>(client.new_connection(server_host, slot), client_fd_.get());
    server_ = std::make_unique<TlsStream>(server.new_connection(), server_fd_.get());
  }

  // Steps both until both are done; false when either fails.
  bool handshake() {
    for (int round = 0; round < 100; ++round) {
      const TlsStream::Step client = client_->handshake();
      const TlsStream::Step server = server_->handshake();
      if (client == TlsStream::Step::failed || server == TlsStream::Step::failed) {
        return false;
      }
      if (client == TlsStream::Step::done && server == TlsStream::Step::done) {
        return true;
      }
    }
    return false;
  }

  // One request and response, so that the client reads the tickets sent after the handshake.
  void exchange() {
    char buffer[64];
    bool drained = false;
    ASSERT_EQ(client_->send("ping", 4), 4);
    ASSERT_EQ(server_->receive(buffer, sizeof(buffer), drained), 4);
    ASSERT_EQ(server_->send("pong", 4), 4);
    ASSERT_EQ(client_->receive(buffer, sizeof(buffer), drained), 4);
    client_->close_notify();  // a clean end keeps the session resumable
  }

  TlsStream& client() { return *client_; }
  TlsStream& server() { return *server_; }

 private:
  core::FileDescriptor client_fd_;
  core::FileDescriptor server_fd_;
  std::unique_ptr<TlsStream> client_;
  std::unique_ptr<TlsStream> server_;
};

TEST(ClientContext, VerifiesTheServersNameAndRefusesAnother) {
  const config::TlsCertificateConfig certificate = make_certificate("named", {"api.test"});
  const auto server = ServerContext::build(listener_with(certificate), nullptr);
  SessionSlot slot;
  const auto by_host = ClientContext::build(upstream_trusting(certificate), nullptr);
  Pair good(*by_host, "api.test", slot, *server);
  ASSERT_TRUE(good.handshake());
  EXPECT_EQ(good.server().server_name(), "api.test");  // sent as SNI

  Pair wrong(*by_host, "other.test", slot, *server);
  EXPECT_FALSE(wrong.handshake());
  EXPECT_EQ(wrong.client().failure_detail(), "hostname mismatch");

  config::UpstreamTlsConfig named = upstream_trusting(certificate);
  named.server_name = "api.test";  // overrides the server's host
  Pair overridden(*ClientContext::build(named, nullptr), "10.0.0.7", slot, *server);
  EXPECT_TRUE(overridden.handshake());
}

TEST(ClientContext, RefusesAnUntrustedCertificateUnlessVerifyIsOff) {
  const config::TlsCertificateConfig certificate = make_certificate("untrusted", {"api.test"});
  const config::TlsCertificateConfig stranger = make_certificate("stranger", {"api.test"});
  const auto server = ServerContext::build(listener_with(certificate), nullptr);
  SessionSlot slot;
  Pair refused(*ClientContext::build(upstream_trusting(stranger), nullptr), "api.test", slot,
               *server);
  EXPECT_FALSE(refused.handshake());
  EXPECT_EQ(refused.client().failure_detail(), "self-signed certificate");

  config::UpstreamTlsConfig unverified;
  unverified.enabled = true;
  unverified.verify = false;
  Pair accepted(*ClientContext::build(unverified, nullptr), "api.test", slot, *server);
  EXPECT_TRUE(accepted.handshake());
}

TEST(ClientContext, TheSlotKeepsTheServersTicketAndTheNextConnectionResumes) {
  const config::TlsCertificateConfig certificate = make_certificate("resumed", {"api.test"});
  const auto server = ServerContext::build(listener_with(certificate), nullptr);
  const auto client = ClientContext::build(upstream_trusting(certificate), nullptr);
  SessionSlot slot;
  Pair first(*client, "api.test", slot, *server);
  ASSERT_TRUE(first.handshake());
  EXPECT_EQ(slot.get(), nullptr);  // TLS 1.3: the tickets come after the handshake
  first.exchange();
  ASSERT_NE(slot.get(), nullptr);
  EXPECT_FALSE(first.server().resumed());

  Pair second(*client, "api.test", slot, *server);
  ASSERT_TRUE(second.handshake());
  EXPECT_TRUE(second.server().resumed());
  EXPECT_TRUE(second.client().resumed());

  config::UpstreamTlsConfig no_reuse = upstream_trusting(certificate);
  no_reuse.session_reuse = false;
  SessionSlot unused;
  Pair third(*ClientContext::build(no_reuse, nullptr), "api.test", unused, *server);
  ASSERT_TRUE(third.handshake());
  third.exchange();
  EXPECT_EQ(unused.get(), nullptr);
}

TEST(ClientContext, PresentsItsCertificateWhenTheServerAsks) {
  const config::TlsCertificateConfig certificate = make_certificate("asking", {"api.test"});
  const config::TlsCertificateConfig own = make_certificate("ballast-client", {});
  config::ListenerConfig listener = listener_with(certificate);
  listener.tls.client_certificate = config::ClientCertificateMode::required;
  listener.tls.client_ca = own.cert;
  const auto server = ServerContext::build(listener, nullptr);
  config::UpstreamTlsConfig tls = upstream_trusting(certificate);
  tls.certificate = own;
  SessionSlot slot;
  Pair pair(*ClientContext::build(tls, nullptr), "api.test", slot, *server);
  ASSERT_TRUE(pair.handshake());
  EXPECT_EQ(pair.server().peer_subject(), "CN=ballast-client");
}

TEST(ClientContext, NamesAFileThatDoesNotLoad) {
  config::UpstreamTlsConfig tls;
  tls.enabled = true;
  tls.ca = {"/nonexistent/ca.pem", "test.yaml:3:9: upstream_tls.ca"};
  try {
    ClientContext::build(tls, nullptr);
    FAIL() << "built";
  } catch (const config::ConfigError& error) {
    EXPECT_EQ(std::string(error.what())
                  .rfind("test.yaml:3:9: upstream_tls.ca: /nonexistent/ca.pem: cannot load the CA "
                         "certificates",
                         0),
              0u)
        << error.what();
  }
  const config::TlsCertificateConfig certificate = make_certificate("mismatched", {"a.test"});
  const config::TlsCertificateConfig other = make_certificate("other", {"b.test"});
  tls.ca = {};
  tls.certificate = {certificate.cert, other.key};
  EXPECT_THROW(ClientContext::build(tls, nullptr), config::ConfigError);
}

}  // namespace
}  // namespace ballast::tls
