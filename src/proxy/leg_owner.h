#pragma once
// What a leg to a server — UpstreamLeg (HTTP/1.1) or Http2UpstreamLeg (HTTP/2) — needs from the
// client side of its request, whichever protocol either side speaks. Each leg's Owner adds
// what is particular to its protocol.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ballast::proxy {

class LegOwner {
 public:
  // Something may progress: run the owner's steps.
  virtual void drive() noexcept = 0;

  // The request body's bytes ready to go to the server, as the server is to see them.
  virtual std::string_view request_body() const noexcept = 0;
  // `bytes` of request_body() reached the server (or its connection's send buffer).
  virtual void request_body_sent(size_t bytes) noexcept = 0;
  // The client's body has ended and every byte of it has been handed over.
  virtual bool request_body_finished() const noexcept = 0;
  // The client, not the server, is what the request waits on now (a body to come while none
  // is ready, or an answer the client has not read): the server's timer does not run out.
  virtual bool client_holds_up() const noexcept = 0;

  // The client is to be told `status` by ballast (no response has started).
  virtual void answer_locally(uint16_t status, std::string_view reason) noexcept = 0;
  // Nothing more can be said to the client on this request: close its connection (reset its
  // stream).
  virtual void abort(std::string_view why) noexcept = 0;

 protected:
  ~LegOwner() = default;
};

}  // namespace ballast::proxy
