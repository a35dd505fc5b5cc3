#pragma once
// One call of the standard gRPC health service (grpc.health.v1.Health/Check) over HTTP/2, with
// no socket: the probe moves the bytes, this says what they mean. The request names `service`
// ("" asks about the whole server); the check passes when the call ends with grpc-status 0 and
// the answer is SERVING.
//
// Verdicts (detail): "SERVING"; "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN"; "grpc-status N"
// (with grpc-message when the server sent one: "grpc-status 12: unimplemented"); "status 404"
// (an HTTP status other than 200); "stream reset"; "bad response: <why>".
//
// Owns: the HTTP/2 client connection and the response's few bytes. Threading: one loop's.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http2/client_connection.h"

namespace ballast::health {

class GrpcHealthCall final : public http2::ResponseListener {
 public:
  GrpcHealthCall(std::string_view authority, std::string_view service);

  std::string_view output() noexcept { return connection_.output(); }
  void sent(size_t bytes) noexcept { connection_.sent(bytes); }
  // The server's bytes; false once the connection is over without a verdict.
  bool receive(std::string_view bytes) noexcept { return connection_.receive(bytes); }

  bool done() const noexcept { return done_; }
  bool passed() const noexcept { return passed_; }
  std::string_view detail() const noexcept { return detail_; }

  void on_response(int32_t stream, const http2::Response& response) noexcept override;
  void on_response_data(int32_t stream, std::string_view bytes) noexcept override;
  void on_response_end(int32_t stream, std::span<const http::Header> trailers) noexcept override;
  void on_stream_closed(int32_t stream, uint32_t error_code) noexcept override;

 private:
  static constexpr size_t kMaxMessageBytes = 64;  // a HealthCheckResponse is 2 bytes

  void conclude(bool passed, std::string_view detail);
  void judge_message();

  http2::ClientConnection connection_;
  std::string request_;  // the length-prefixed HealthCheckRequest
  std::string message_;  // the response's data, up to kMaxMessageBytes
  uint16_t http_status_ = 0;
  std::vector<http::Header> head_status_;  // a Trailers-Only response's, views valid until its end
  bool done_ = false;
  bool passed_ = false;
  std::string detail_;
};

}  // namespace ballast::health
