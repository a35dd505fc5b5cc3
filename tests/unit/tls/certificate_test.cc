#include "tls/certificate.h"

#include <gtest/gtest.h>

#include <ctime>

#include "config/config_error.h"
#include "test_certificates.h"

namespace ballast::tls {
namespace {

using testing::KeyKind;
using testing::make_certificate;

TEST(NameMatches, ExactNamesAndOneLabelWildcards) {
  EXPECT_TRUE(name_matches("a.example.com", "a.example.com"));
  EXPECT_FALSE(name_matches("a.example.com", "b.example.com"));
  EXPECT_TRUE(name_matches("*.example.com", "a.example.com"));
  EXPECT_FALSE(name_matches("*.example.com", "example.com"));
  EXPECT_FALSE(name_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(name_matches("*.example.com", ".example.com"));
  EXPECT_FALSE(name_matches("*", "a"));
}

TEST(LoadCertificate, ReadsNamesKeyTypeAndExpiry) {
  const config::TlsCertificateConfig files =
      make_certificate("names", {"A.Example.test", "*.wild.test"}, KeyKind::rsa, 10);
  const Certificate certificate = load_certificate(files);
  EXPECT_EQ(certificate.names, (std::vector<std::string>{"a.example.test", "*.wild.test"}));
  EXPECT_EQ(certificate.key_type, "RSA");
  const int64_t left = certificate.not_after_unix - static_cast<int64_t>(std::time(nullptr));
  EXPECT_NEAR(static_cast<double>(left), 10 * 86'400.0, 120.0);
}

TEST(LoadCertificate, UsesTheCommonNameWithoutSubjectAltNames) {
  const Certificate certificate = load_certificate(make_certificate("only-cn.test", {}));
  EXPECT_EQ(certificate.names, (std::vector<std::string>{"only-cn.test"}));
  EXPECT_EQ(certificate.key_type, "EC");
}

TEST(LoadCertificate, NamesTheConfigurationPlaceAndTheFileOfAKeyThatDoesNotMatch) {
  config::TlsCertificateConfig files = make_certificate("mismatch-a", {"a.test"});
  files.key = make_certificate("mismatch-b", {"b.test"}).key;
  try {
    load_certificate(files);
    FAIL() << "a key of another certificate loaded";
  } catch (const config::ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("test.yaml:1:1: key: "), std::string::npos) << message;
    EXPECT_NE(message.find("mismatch-b.key"), std::string::npos) << message;
    EXPECT_NE(message.find("not the key of"), std::string::npos) << message;
  }
}

TEST(LoadCertificate, SaysWhenTheFileIsMissingOrNotACertificate) {
  config::TlsCertificateConfig files = make_certificate("missing", {"m.test"});
  files.cert.path += ".gone";
  EXPECT_THROW(load_certificate(files), config::ConfigError);
  files.cert.path = files.key.path;  // a key where the certificate should be
  try {
    load_certificate(files);
    FAIL();
  } catch (const config::ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("no PEM certificate"), std::string::npos);
  }
}

}  // namespace
}  // namespace ballast::tls
