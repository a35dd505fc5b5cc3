#include "tls/client_hello.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace ballast::tls {
namespace {

using Status = ClientHello::Status;

// What OpenSSL's client sends first, asking for `server_name` (none when empty).
std::string openssl_client_hello(const std::string& server_name) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(context);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (!server_name.empty()) {
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
  }
  SSL_connect(ssl);  // wants to read the server's answer; the hello is written
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<size_t>(size));
  SSL_free(ssl);
  SSL_CTX_free(context);
  return hello;
}

// The same handshake bytes re-cut into records of at most `fragment` bytes.
std::string refragment(const std::string& records, size_t fragment) {
  std::string handshake;
  for (size_t at = 0; at + 5 <= records.size();) {
    const size_t length = (static_cast<unsigned char>(records[at + 3]) << 8) |
                          static_cast<unsigned char>(records[at + 4]);
    handshake += records.substr(at + 5, length);
    at += 5 + length;
  }
  std::string out;
  for (size_t at = 0; at < handshake.size(); at += fragment) {
    const std::string piece = handshake.substr(at, fragment);
    out += std::string{'\x16', '\x03', '\x01', static_cast<char>(piece.size() >> 8),
                       static_cast<char>(piece.size() & 0xff)};
    out += piece;
  }
  return out;
}

std::string u16(size_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
}

// A ClientHello built by hand around `extensions` (the extension block's content).
std::string hand_made_hello(const std::string& extensions) {
  std::string body = std::string("\x03\x03", 2) + std::string(32, 'r');
  body += std::string(1, '\0');                 // no session id
  body += u16(2) + std::string("\x13\x01", 2);  // one cipher suite
  body += std::string("\x01\x00", 2);           // null compression
  body += u16(extensions.size()) + extensions;
  const std::string message = std::string{'\x01', '\0'} + u16(body.size()) + body;
  return std::string{'\x16', '\x03', '\x01'} + u16(message.size()) + message;
}

std::string server_name_extension(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    list += std::string(1, '\0') + u16(name.size()) + name;
  }
  const std::string data = u16(list.size()) + list;
  return u16(0) + u16(data.size()) + data;
}

TEST(ClientHello, ReadsTheServerNameOpenSslSendsLowercased) {
  const ClientHello hello = read_client_hello(openssl_client_hello("Shop.Example.COM"));
  ASSERT_EQ(hello.status, Status::complete) << hello.reason;
  EXPECT_EQ(hello.server_name(), "shop.example.com");
}

TEST(ClientHello, NoServerNameIsCompleteAndEmpty) {
  const ClientHello hello = read_client_hello(openssl_client_hello(""));
  ASSERT_EQ(hello.status, Status::complete) << hello.reason;
  EXPECT_EQ(hello.server_name(), "");
}

TEST(ClientHello, EveryPrefixIsIncomplete) {
  const std::string hello = openssl_client_hello("a.test");
  for (size_t size = 0; size < hello.size(); ++size) {
    ASSERT_EQ(read_client_hello(std::string_view(hello).substr(0, size)).status, Status::incomplete)
        << size;
  }
}

TEST(ClientHello, AHelloSplitAcrossRecordsReadsTheSame) {
  const std::string whole = openssl_client_hello("split.example");
  for (const size_t fragment : {1, 2, 7, 64, 300}) {
    const std::string records = refragment(whole, fragment);
    const ClientHello hello = read_client_hello(records);
    ASSERT_EQ(hello.status, Status::complete) << fragment << ": " << hello.reason;
    EXPECT_EQ(hello.server_name(), "split.example");
    EXPECT_EQ(read_client_hello(std::string_view(records).substr(0, records.size() - 1)).status,
              Status::incomplete);
  }
}

TEST(ClientHello, BytesAfterTheHelloDoNotMatter) {
  const ClientHello hello =
      read_client_hello(openssl_client_hello("a.test") + std::string("\x17\x03\x03junk"));
  EXPECT_EQ(hello.status, Status::complete);
  EXPECT_EQ(hello.server_name(), "a.test");
}

TEST(ClientHello, PlainTextAndSslv2AreNotTls) {
  EXPECT_EQ(read_client_hello("GET / HTTP/1.1\r\n").status, Status::not_tls);
  EXPECT_EQ(read_client_hello("\x80\x2e\x01").status, Status::not_tls);
  EXPECT_EQ(read_client_hello(std::string("\x16\x02", 2)).status, Status::not_tls);
}

TEST(ClientHello, AHandMadeHelloReadsItsName) {
  const ClientHello hello = read_client_hello(hand_made_hello(server_name_extension({"b.test"})));
  ASSERT_EQ(hello.status, Status::complete) << hello.reason;
  EXPECT_EQ(hello.server_name(), "b.test");
  EXPECT_EQ(read_client_hello(hand_made_hello("")).status, Status::complete);
}

TEST(ClientHello, RefusesWhatTheRfcsForbid) {
  const std::string max_name(255, 'a');
  EXPECT_EQ(read_client_hello(hand_made_hello(server_name_extension({max_name}))).server_name(),
            max_name);
  const std::vector<std::string> refused_extensions = {
      server_name_extension({"a.test", "b.test"}),                            // two host names
      server_name_extension({"a.test"}) + server_name_extension({"b.test"}),  // two extensions
      server_name_extension({"trailing.dot."}),
      server_name_extension({"bad/name"}),
      server_name_extension({std::string("nul\0name", 8)}),
      server_name_extension({""}),
      server_name_extension({std::string(256, 'a')}),
      server_name_extension({}),
      u16(0) + u16(1) + "x",  // server_name data too short
      u16(0) + u16(9),        // an extension longer than the block
  };
  for (const std::string& extensions : refused_extensions) {
    const ClientHello hello = read_client_hello(hand_made_hello(extensions));
    EXPECT_EQ(hello.status, Status::malformed) << extensions;
    EXPECT_FALSE(hello.reason.empty());
  }
}

TEST(ClientHello, RefusesBadRecordsAndMessages) {
  std::string hello = hand_made_hello(server_name_extension({"a.test"}));
  std::string wrong_message = hello;
  wrong_message[5] = '\x02';  // a ServerHello
  EXPECT_EQ(read_client_hello(wrong_message).status, Status::malformed);
  std::string empty_record = std::string("\x16\x03\x01\x00\x00", 5) + hello;
  EXPECT_EQ(read_client_hello(empty_record).status, Status::malformed);
  std::string huge_record = hello;
  huge_record[3] = '\x40';
  huge_record[4] = '\x01';  // 16 KiB + 1
  EXPECT_EQ(read_client_hello(huge_record).status, Status::malformed);
  // A ClientHello claiming more than 16 KiB is refused on its header, unbuffered.
  const std::string claims_too_much = std::string("\x16\x03\x01\x00\x04\x01\x00\x40\x01", 9);
  EXPECT_EQ(read_client_hello(claims_too_much).status, Status::malformed);
  // A second record that is not a handshake one, mid-hello.
  const std::string split = refragment(hello, 10);
  std::string interleaved = split.substr(0, 15) + std::string("\x17\x03\x03\x00\x01x", 6);
  EXPECT_EQ(read_client_hello(interleaved).status, Status::malformed);
}

TEST(ClientHello, AnOddLengthCipherSuiteListIsMalformed) {
  std::string hello = hand_made_hello(server_name_extension({"a.test"}));
  // Cipher suites of odd length.
  std::string odd = hello;
  odd[9 + 2 + 32 + 1 + 1] = '\x03';
  EXPECT_EQ(read_client_hello(odd).status, Status::malformed);
}

}  // namespace
}  // namespace ballast::tls
