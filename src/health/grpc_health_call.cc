#include "health/grpc_health_call.h"

#include <array>

namespace ballast::health {
namespace {

constexpr std::string_view kMethod = "/grpc.health.v1.Health/Check";

// grpc.health.v1.HealthCheckResponse.ServingStatus.
constexpr std::array<std::string_view, 4> kServingStatus = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                                            "SERVICE_UNKNOWN"};

http2::ClientLimits probe_limits() {
  http2::ClientLimits limits;
  limits.max_streams = 1;
  limits.max_header_list_bytes = 16 * 1024;
  limits.request_buffer_bytes = 2 * 1024;
  return limits;
}

// A gRPC message: a zero compression flag, a 4-byte big-endian length, then the protobuf.
// HealthCheckRequest is `string service = 1` (tag 0x0a, a varint length, the bytes).
std::string health_check_request(std::string_view service) {
  std::string message;
  if (!service.empty()) {
    message.push_back('\x0a');
    for (size_t length = service.size();; length >>= 7) {
      if (length < 0x80) {
        message.push_back(static_cast<char>(length));
        break;
      }
      message.push_back(static_cast<char>((length & 0x7f) | 0x80));
    }
    message.append(service);
  }
  std::string framed(5, '\0');
  for (int i = 0; i < 4; ++i) {
    framed[1 + i] = static_cast<char>(message.size() >> (8 * (3 - i)));
  }
  return framed + message;
}

}  // namespace

GrpcHealthCall::GrpcHealthCall(std::string_view authority, std::string_view service)
    : connection_(probe_limits(), *this), request_(health_check_request(service)) {
  static constexpr std::array<http::Header, 3> kFields = {{
      {"content-type", "application/grpc"},
      {"te", "trailers"},
      {"user-agent", "ballast-health-check"},
  }};
  const int32_t stream = connection_.request({"POST", "http", authority, kMethod}, kFields, true);
  if (stream < 0) {
    conclude(false, "cannot make the call");
    return;
  }
  connection_.send_body(stream, request_);
  connection_.end_body(stream);
}

void GrpcHealthCall::on_response(int32_t, const http2::Response& response) noexcept {
  http_status_ = response.status;
  if (!response.has_body) {  // Trailers-Only: the status came in the head
    for (const http::Header& field : response.fields) {
      if (field.name == "grpc-status" || field.name == "grpc-message") {
        head_status_.push_back({field.name, field.value});
      }
    }
  }
}

void GrpcHealthCall::on_response_data(int32_t stream, std::string_view bytes) noexcept {
  connection_.consume(stream, bytes.size());
  message_.append(bytes.substr(0, kMaxMessageBytes - std::min(message_.size(), kMaxMessageBytes)));
}

void GrpcHealthCall::on_response_end(int32_t, std::span<const http::Header> trailers) noexcept {
  if (trailers.empty()) {
    trailers = head_status_;
  }
  if (http_status_ != 200) {
    conclude(false, "status " + std::to_string(http_status_));
    return;
  }
  std::string_view status, message;
  for (const http::Header& trailer : trailers) {
    if (trailer.name == "grpc-status") {
      status = trailer.value;
    } else if (trailer.name == "grpc-message") {
      message = trailer.value;
    }
  }
  if (status.empty()) {
    conclude(false, "bad response: no grpc-status");
  } else if (status != "0") {
    conclude(false, "grpc-status " + std::string(status) +
                        (message.empty() ? "" : ": " + std::string(message.substr(0, 100))));
  } else {
    judge_message();
  }
}

void GrpcHealthCall::on_stream_closed(int32_t, uint32_t error_code) noexcept {
  if (!done_) {
    conclude(false, error_code != 0 ? "stream reset" : "bad response: ended without a status");
  }
}

// HealthCheckResponse is `ServingStatus status = 1` (tag 0x08, a varint); absent means UNKNOWN.
void GrpcHealthCall::judge_message() {
  if (message_.size() < 5 || message_[0] != '\0') {
    conclude(false, "bad response: no message");
    return;
  }
  size_t length = 0;
  for (int i = 1; i <= 4; ++i) {
    length = (length << 8) | static_cast<uint8_t>(message_[i]);
  }
  const std::string_view body = std::string_view(message_).substr(5);
  if (length != body.size()) {
    conclude(false, "bad response: a message of unexpected length");
    return;
  }
  uint8_t status = 0;
  if (body.size() >= 2 && body[0] == '\x08') {
    status = static_cast<uint8_t>(body[1]);
  }
  if (status >= kServingStatus.size()) {
    conclude(false, "bad response: serving status " + std::to_string(status));
    return;
  }
  conclude(status == 1, kServingStatus[status]);
}

void GrpcHealthCall::conclude(bool passed, std::string_view detail) {
  if (done_) {
    return;
  }
  done_ = true;
  passed_ = passed;
  detail_ = detail;
}

}  // namespace ballast::health
