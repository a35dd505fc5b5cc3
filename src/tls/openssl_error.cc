#include "tls/openssl_error.h"

#include <openssl/err.h>

namespace ballast::tls {

std::string take_openssl_errors(const std::string& fallback) {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    if (!text.empty()) {
      text += "; ";
    }
    const char* reason = ERR_reason_error_string(code);
    const char* library = ERR_lib_error_string(code);
    text += reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(code));
    if (library != nullptr) {
      text += std::string(" (") + library + ")";
    }
  }
  return text.empty() ? fallback : text;
}

}  // namespace ballast::tls
