#pragma once
// The one exception the configuration loader throws. Its what() is the whole message an operator
// sees, `FILE:LINE:COL: key: what is wrong`, with LINE and COL counted from 1 and `key` the
// dotted path of the offending setting (`load_balancer.servers[1].weight`). Errors that belong to
// no key name a stand-in instead: `(file)`, `(syntax)` or `(top level)`.
//
// Thrown only at start-up or reload; the data path never sees configuration errors.

#include <stdexcept>
#include <string>

namespace ballast::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `FILE:LINE:COL: key: problem`, the shape of every error and warning. line and column count
// from 1.
inline std::string located_message(const std::string& source, int line, int column,
                                   const std::string& key, const std::string& problem) {
  return source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + key + ": " +
         problem;
}

}  // namespace ballast::config
