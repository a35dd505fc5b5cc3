#include "tls/ticket_keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "config/config_error.h"
#include "core/clock.h"

namespace ballast::tls {
namespace {

constexpr size_t kKeyBytes = 80;
constexpr size_t kMaxKeysInFile = 64;

TicketKey random_key() {
  TicketKey key;
  if (RAND_bytes(key.name.data(), key.name.size()) != 1 ||
      RAND_bytes(key.hmac_secret.data(), key.hmac_secret.size()) != 1 ||
      RAND_bytes(key.aes_key.data(), key.aes_key.size()) != 1) {
    throw std::runtime_error("no randomness for session ticket keys");
  }
  return key;
}

std::optional<TicketKey> decode_key(const std::string& line) {
  unsigned char bytes[kKeyBytes + 4];
  if (line.size() != 108) {  // base64 of 80 bytes, padding included
    return std::nullopt;
  }
  const int decoded = EVP_DecodeBlock(bytes, reinterpret_cast<const unsigned char*>(line.data()),
                                      static_cast<int>(line.size()));
  // EVP_DecodeBlock counts the padding's zero bytes: 108 characters always decode to 81.
  if (decoded != static_cast<int>(kKeyBytes) + 1) {
    return std::nullopt;
  }
  TicketKey key;
  std::memcpy(key.name.data(), bytes, 16);
  std::memcpy(key.hmac_secret.data(), bytes + 16, 32);
  std::memcpy(key.aes_key.data(), bytes + 48, 32);
  return key;
}

}  // namespace

std::optional<std::vector<TicketKey>> parse_ticket_keys(const std::string& text,
                                                        std::string& error) {
  std::vector<TicketKey> keys;
  std::istringstream lines(text);
  std::string line;
  for (size_t number = 1; std::getline(lines, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const std::optional<TicketKey> key = decode_key(line);
    if (!key) {
      error = "line " + std::to_string(number) +
              ": expected 80 bytes in base64 (openssl rand 80 | base64 -w0)";
      return std::nullopt;
    }
    if (keys.size() == kMaxKeysInFile) {
      error = "more than " + std::to_string(kMaxKeysInFile) + " keys";
      return std::nullopt;
    }
    keys.push_back(*key);
  }
  if (keys.empty()) {
    error = "no key in the file";
    return std::nullopt;
  }
  return keys;
}

TicketKeyRing::TicketKeyRing(std::vector<TicketKey> keys, uint64_t rotation_ms)
    : rotation_ms_(rotation_ms) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->keys = std::move(keys);
  if (rotation_ms != 0) {
    snapshot->rotate_at_ns = core::monotonic_now_ns() + rotation_ms * core::kNsPerMs;
  }
  snapshot_.store(std::move(snapshot));
}

std::shared_ptr<TicketKeyRing> TicketKeyRing::generated(uint64_t rotation_ms) {
  return std::shared_ptr<TicketKeyRing>(new TicketKeyRing({random_key()}, rotation_ms));
}

std::shared_ptr<TicketKeyRing> TicketKeyRing::fixed(std::vector<TicketKey> keys) {
  return std::shared_ptr<TicketKeyRing>(new TicketKeyRing(std::move(keys), 0));
}

std::shared_ptr<TicketKeyRing> TicketKeyRing::from_file(const config::FileRef& file) {
  std::ifstream stream(file.path);
  if (!stream) {
    throw config::ConfigError(file.where + ": " + file.path +
                              ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << stream.rdbuf();
  std::string error;
  std::optional<std::vector<TicketKey>> keys = parse_ticket_keys(text.str(), error);
  if (!keys) {
    throw config::ConfigError(file.where + ": " + file.path + ": " + error);
  }
  return fixed(std::move(*keys));
}

TicketKey TicketKeyRing::sealing_key(uint64_t now_ns) {
  std::shared_ptr<const Snapshot> snapshot = snapshot_.load();
  if (snapshot->rotate_at_ns != 0 && now_ns >= snapshot->rotate_at_ns) {
    rotate(now_ns);
    snapshot = snapshot_.load();
  }
  return snapshot->keys.front();
}

void TicketKeyRing::rotate(uint64_t now_ns) {
  const std::unique_lock<std::mutex> lock(rotating_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return;  // another worker is rotating: the current key seals a moment longer
  }
  const std::shared_ptr<const Snapshot> current = snapshot_.load();
  if (now_ns < current->rotate_at_ns) {
    return;  // rotated while we waited for the snapshot
  }
  auto next = std::make_shared<Snapshot>();
  next->keys.push_back(random_key());
  for (const TicketKey& key : current->keys) {
    if (next->keys.size() == kGeneratedKept) {
      break;
    }
    next->keys.push_back(key);
  }
  next->rotate_at_ns = now_ns + rotation_ms_ * core::kNsPerMs;
  snapshot_.store(std::move(next));
}

std::optional<TicketKey> TicketKeyRing::opening_key(const unsigned char* name, bool& renew) const {
  const std::shared_ptr<const Snapshot> snapshot = snapshot_.load();
  for (size_t i = 0; i < snapshot->keys.size(); ++i) {
    if (std::memcmp(snapshot->keys[i].name.data(), name, 16) == 0) {
      renew = i != 0;
      return snapshot->keys[i];
    }
  }
  return std::nullopt;
}

}  // namespace ballast::tls
