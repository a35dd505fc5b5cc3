// A TlsStream serving a real OpenSSL client over a socket pair: the handshake as the listener's
// context decides it (SNI, ALPN, tickets), then bytes both ways.

#include "tls/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config_error.h"
#include "core/socket.h"
#include "test_certificates.h"
#include "tls/server_context.h"

namespace ballast::tls {
namespace {

using testing::KeyKind;
using testing::make_certificate;

config::ListenerConfig listener_with(std::vector<config::TlsCertificateConfig> certificates) {
  config::ListenerConfig listener;
  listener.name = "web";
  listener.tls.enabled = true;
  listener.tls.certificates = std::move(certificates);
  return listener;
}

// One connection: the server's stream on one end, an OpenSSL client on the other.
class Connection {
 public:
  Connection(const ServerContext& server, SSL_CTX* client_context, const char* sni,
             SSL_SESSION* session = nullptr) {
    int ends[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ends), 0);
    server_fd_.reset(ends[0]);
    client_fd_.reset(ends[1]);
    stream_ = std::make_unique<TlsStream>(server.new_connection(), server_fd_.get());
    client_.reset(SSL_new(client_context));
    SSL_set_fd(client_.get(), client_fd_.get());
    SSL_set_connect_state(client_.get());
    if (sni != nullptr) {
      SSL_set_tlsext_host_name(client_.get(), sni);
    }
    if (session != nullptr) {
      SSL_set_session(client_.get(), session);
    }
  }

  // Both sides step until both are done (or one fails); true when both are done.
  bool handshake() {
    bool client_done = false;
    for (int round = 0; round < 100; ++round) {
      const TlsStream::Step step = stream_->handshake();
      if (step == TlsStream::Step::failed) {
        return false;
      }
      if (!client_done) {
        const int result = SSL_do_handshake(client_.get());
        client_done = result == 1;
        if (result <= 0 && SSL_get_error(client_.get(), result) != SSL_ERROR_WANT_READ) {
          return false;
        }
      }
      if (client_done && step == TlsStream::Step::done) {
        return true;
      }
    }
    return false;
  }

  // The client's view of the certificate it got: its subject's CN.
  std::string served_common_name() {
    X509* peer = SSL_get0_peer_certificate(client_.get());
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof(name));
    return name;
  }

  // Reads what the client's TLS 1.3 tickets left (they come after the handshake).
  SSL_SESSION* client_session() {
    char byte;
    SSL_read(client_.get(), &byte, 1);  // takes the NewSessionTicket messages; no data comes
    return SSL_get1_session(client_.get());
  }

  TlsStream& stream() { return *stream_; }
  SSL* client() { return client_.get(); }

 private:
  core::FileDescriptor server_fd_;
  core::FileDescriptor client_fd_;
  std::unique_ptr<TlsStream> stream_;
  SslPtr client_;
};

class TlsStreamTest : public ::testing::Test {
 protected:
  TlsStreamTest() : client_context_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_set_verify(client_context_.get(), SSL_VERIFY_NONE, nullptr);
  }
  SslCtxPtr client_context_;
};

TEST_F(TlsStreamTest, ServesTheCertificateTheSniNamesAndTheFirstOtherwise) {
  const auto server = ServerContext::build(
      listener_with({make_certificate("first", {"first.test"}),
                     make_certificate("second", {"second.test", "*.wild.test"})}),
      nullptr);
  struct Case {
    const char* sni;
    const char* served;
  };
  for (const Case& c :
       {Case{"second.test", "second"}, Case{"SECOND.test", "second"}, Case{"x.wild.test", "second"},
        Case{"a.b.wild.test", "first"}, Case{"unknown.test", "first"}, Case{nullptr, "first"}}) {
    Connection connection(*server, client_context_.get(), c.sni);
    ASSERT_TRUE(connection.handshake()) << (c.sni ? c.sni : "(no SNI)");
    EXPECT_EQ(connection.served_common_name(), c.served) << (c.sni ? c.sni : "(no SNI)");
    EXPECT_EQ(connection.stream().server_name(), c.sni ? c.sni : "");
  }
  EXPECT_EQ(server->stats().full_handshakes.load(), 0u);  // the session counts, not the stream
}

TEST_F(TlsStreamTest, OffersEcdsaOrRsaForTheSameNamesAsTheClientSupports) {
  const auto server = ServerContext::build(
      listener_with({make_certificate("dual-ec", {"dual.test"}, KeyKind::ec),
                     make_certificate("dual-rsa", {"dual.test"}, KeyKind::rsa)}),
      nullptr);
  Connection any(*server, client_context_.get(), "dual.test");
  ASSERT_TRUE(any.handshake());
  EXPECT_EQ(any.served_common_name(), "dual-ec");
  const SslCtxPtr rsa_only(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set1_sigalgs_list(rsa_only.get(), "RSA-PSS+SHA256:RSA+SHA256");
  Connection rsa(*server, rsa_only.get(), "dual.test");
  ASSERT_TRUE(rsa.handshake());
  EXPECT_EQ(rsa.served_common_name(), "dual-rsa");
}

TEST_F(TlsStreamTest, TwoCertificatesOfOneKeyTypeForTheSameNamesAreRefused) {
  EXPECT_THROW(ServerContext::build(listener_with({make_certificate("twin-1", {"twin.test"}),
                                                   make_certificate("twin-2", {"twin.test"})}),
                                    nullptr),
               config::ConfigError);
}

TEST_F(TlsStreamTest, NegotiatesAlpnFromTheListenersListOrNone) {
  const auto server =
      ServerContext::build(listener_with({make_certificate("alpn", {"alpn.test"})}), nullptr);
  static constexpr unsigned char kH2AndHttp11[] = "\x02h2\x08http/1.1";
  SSL_CTX_set_alpn_protos(client_context_.get(), kH2AndHttp11, sizeof(kH2AndHttp11) - 1);
  Connection offered(*server, client_context_.get(), "alpn.test");
  ASSERT_TRUE(offered.handshake());
  EXPECT_EQ(offered.stream().alpn(), "http/1.1");
  static constexpr unsigned char kOnlyH2[] = "\x02h2";
  SSL_CTX_set_alpn_protos(client_context_.get(), kOnlyH2, sizeof(kOnlyH2) - 1);
  Connection unmatched(*server, client_context_.get(), "alpn.test");
  ASSERT_TRUE(unmatched.handshake());  // no ALPN in common is not an error
  EXPECT_EQ(unmatched.stream().alpn(), "");
}

TEST_F(TlsStreamTest, ATicketFromOneConnectionResumesOnAnotherAndAcrossAReload) {
  const config::ListenerConfig listener =
      listener_with({make_certificate("resume", {"resume.test"})});
  const auto server = ServerContext::build(listener, nullptr);
  Connection first(*server, client_context_.get(), "resume.test");
  ASSERT_TRUE(first.handshake());
  EXPECT_FALSE(first.stream().resumed());
  SSL_SESSION* session = first.client_session();
  ASSERT_NE(session, nullptr);
  Connection second(*server, client_context_.get(), "resume.test", session);
  ASSERT_TRUE(second.handshake());
  EXPECT_TRUE(second.stream().resumed());
  // A reload builds new contexts; the ticket keys come along.
  const auto reloaded = ServerContext::build(listener, server.get());
  Connection third(*reloaded, client_context_.get(), "resume.test", session);
  ASSERT_TRUE(third.handshake());
  EXPECT_TRUE(third.stream().resumed());
  // Another listener's (or instance's) keys do not open it.
  const auto stranger = ServerContext::build(listener, nullptr);
  Connection fourth(*stranger, client_context_.get(), "resume.test", session);
  ASSERT_TRUE(fourth.handshake());
  EXPECT_FALSE(fourth.stream().resumed());
  SSL_SESSION_free(session);
}

TEST_F(TlsStreamTest, CarriesBytesBothWaysAndSaysWhenTheSocketIsDrained) {
  const auto server =
      ServerContext::build(listener_with({make_certificate("bytes", {"bytes.test"})}), nullptr);
  Connection connection(*server, client_context_.get(), "bytes.test");
  ASSERT_TRUE(connection.handshake());
  char buffer[64];
  bool drained = false;
  EXPECT_EQ(connection.stream().receive(buffer, sizeof(buffer), drained), -1);
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_EQ(SSL_write(connection.client(), "GET / HTTP/1.1\r\n\r\n", 18), 18);
  ASSERT_EQ(connection.stream().receive(buffer, sizeof(buffer), drained), 18);
  EXPECT_EQ(std::string(buffer, 18), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(drained);
  ASSERT_EQ(connection.stream().send("HTTP/1.1 200 OK\r\n\r\n", 19), 19);
  ASSERT_EQ(SSL_read(connection.client(), buffer, sizeof(buffer)), 19);
  connection.stream().close_notify();
  EXPECT_EQ(SSL_read(connection.client(), buffer, sizeof(buffer)), 0);
  EXPECT_EQ(SSL_get_error(connection.client(), 0), SSL_ERROR_ZERO_RETURN);
}

TEST_F(TlsStreamTest, ClassifiesAnOldClientAndPlainHttp) {
  const auto server =
      ServerContext::build(listener_with({make_certificate("old", {"old.test"})}), nullptr);
  const SslCtxPtr tls11(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(tls11.get(), 0);
  SSL_CTX_set_min_proto_version(tls11.get(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(tls11.get(), TLS1_1_VERSION);
  Connection old(*server, tls11.get(), "old.test");
  EXPECT_FALSE(old.handshake());
  EXPECT_EQ(old.stream().handshake_error(), HandshakeError::protocol_version);

  int ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ends), 0);
  const core::FileDescriptor server_end(ends[0]);
  const core::FileDescriptor client_end(ends[1]);
  TlsStream plain(server->new_connection(), server_end.get());
  ASSERT_EQ(write(client_end.get(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27), 27);
  EXPECT_EQ(plain.handshake(), TlsStream::Step::failed);
  EXPECT_EQ(plain.handshake_error(), HandshakeError::not_tls);
}

}  // namespace
}  // namespace ballast::tls
