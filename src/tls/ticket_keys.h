#pragma once
// The keys that seal TLS session tickets (RFC 5077; TLS 1.3 resumption too). A client resumes
// on any worker — and, with a key file, on any ballast instance given the same file — because
// every worker seals and opens with the same ring.
//
// Two kinds:
//   generated: random keys made in memory, a new one every `rotation`; the previous two still
//     open tickets, so a ticket lives for two to three rotations, and a key never outlives
//     three. Carried across reloads (server_context.h), so a reload resumes sessions too.
//   from a file: one or more keys, one per line, each 80 random bytes in base64 (16 bytes of
//     name, 32 of HMAC secret, 32 of AES-256 key; `openssl rand 80 | base64 -w0`). The first
//     seals; every one opens. The operator rotates by rewriting the file and reloading.
//
// Threading: shared by every worker's handshakes. The keys are an immutable snapshot behind an
// atomic shared_ptr; a rotation is made by whichever worker first sees it due, under a mutex
// the others never wait on (try_lock), and published by swapping the snapshot.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "config/file_ref.h"

namespace ballast::tls {

struct TicketKey {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 32> hmac_secret{};
  std::array<unsigned char, 32> aes_key{};
};

class TicketKeyRing {
 public:
  static constexpr size_t kGeneratedKept = 3;

  // Random keys rotating every rotation_ms. Throws when the system has no randomness.
  static std::shared_ptr<TicketKeyRing> generated(uint64_t rotation_ms);
  // The keys of `file` (format above). Throws config::ConfigError naming it.
  static std::shared_ptr<TicketKeyRing> from_file(const config::FileRef& file);
  // The same keys, for tests: the first seals.
  static std::shared_ptr<TicketKeyRing> fixed(std::vector<TicketKey> keys);

  // The key to seal a new ticket with at `now_ns` (monotonic), rotating first when due.
  TicketKey sealing_key(uint64_t now_ns);
  // The key named `name`, if it still opens tickets; `renew` says a newer key now seals, so
  // the client should get a fresh ticket.
  std::optional<TicketKey> opening_key(const unsigned char* name, bool& renew) const;

  uint64_t rotation_ms() const noexcept { return rotation_ms_; }
  bool rotates() const noexcept { return rotation_ms_ != 0; }

 private:
  struct Snapshot {
    std::vector<TicketKey> keys;  // [0] seals; newest first
    uint64_t rotate_at_ns = 0;    // 0: never
  };

  TicketKeyRing(std::vector<TicketKey> keys, uint64_t rotation_ms);
  void rotate(uint64_t now_ns);

  const uint64_t rotation_ms_;  // 0 for fixed keys
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::mutex rotating_;
};

// Parses the file format above; nullopt with `error` set on a malformed line. For tests.
std::optional<std::vector<TicketKey>> parse_ticket_keys(const std::string& text,
                                                        std::string& error);

}  // namespace ballast::tls
