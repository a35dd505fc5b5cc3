#include "http/request_target.h"

#include <gtest/gtest.h>

#include <string>

namespace ballast::http {
namespace {

struct Normalised {
  uint16_t status = 0;
  std::string target;
  std::string host;
  bool host_from_target = false;
};

Normalised normalise(std::string target, std::string_view method = "GET") {
  RequestHead request;
  request.method = method;
  request.host = "public.example";
  request.has_host = true;
  request.target = target;
  const TargetError error = normalize_request_target(target, request);
  return {error.status, std::string(request.target), std::string(request.host),
          request.host_from_target};
}

TEST(NormalizePath, FollowsRfc3986) {
  const struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"/", "/"},
      {"/a/b", "/a/b"},
      {"/api/../admin", "/admin"},
      {"/api/./x", "/api/x"},
      {"/a/b/../../..", "/"},
      {"/../../etc/passwd", "/etc/passwd"},
      {"/a/.", "/a/"},
      {"/a/..", "/"},
      {"/a//b///c", "/a/b/c"},
      {"//", "/"},
      {"/a/", "/a/"},
      {"/%7Euser/%61", "/~user/a"},
      {"/api/%2e%2e/admin", "/admin"},
      {"/api/%2E./admin", "/admin"},
      {"/a%2fb", "/a%2Fb"},  // an encoded slash stays data
      {"/a%20b", "/a%20b"},
      {"/a..b/c.", "/a..b/c."},
  };
  for (const auto& c : cases) {
    std::string path = c.in;
    const size_t length = normalize_path(path);
    EXPECT_EQ(path.substr(0, length), c.out) << c.in;
  }
}

TEST(NormalizePath, RefusesBrokenAndNulEncodings) {
  for (const char* bad : {"/a%", "/a%2", "/a%zz", "/a%00b", "/%0"}) {
    std::string path = bad;
    EXPECT_EQ(normalize_path(path), 0u) << bad;
  }
}

TEST(NormalizeRequestTarget, KeepsTheQueryAsSent) {
  const Normalised result = normalise("/a/../b?x=/../y&z=%2e");
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.target, "/b?x=/../y&z=%2e");
}

TEST(NormalizeRequestTarget, TurnsAbsoluteFormIntoOriginFormWithTheAuthorityAsHost) {
  const Normalised result = normalise("http://internal/secret");
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.target, "/secret");
  EXPECT_EQ(result.host, "internal");
  EXPECT_TRUE(result.host_from_target);

  const Normalised with_port = normalise("HTTPS://Svc:8080/a/../b?q=1");
  EXPECT_EQ(with_port.target, "/b?q=1");
  EXPECT_EQ(with_port.host, "Svc:8080");

  const Normalised no_path = normalise("http://svc");
  EXPECT_EQ(no_path.target, "/");
  EXPECT_EQ(no_path.host, "svc");

  const Normalised query_only = normalise("http://svc?x=1");
  EXPECT_EQ(query_only.target, "/?x=1");
  EXPECT_EQ(query_only.host, "svc");
}

TEST(NormalizeRequestTarget, RefusesWhatNoOriginServerShouldSee) {
  for (const char* bad : {"/a#frag", "ftp://svc/a", "http:///a", "http://user@svc/a", "host:22",
                          "svc/a", "/a%zz", "http://sv c/"}) {
    EXPECT_EQ(normalise(bad).status, 400) << bad;
  }
  EXPECT_EQ(normalise("*", "GET").status, 400);
  EXPECT_EQ(normalise("*", "OPTIONS").status, 0);
}

}  // namespace
}  // namespace ballast::http
