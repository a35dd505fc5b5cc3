#pragma once
// A file the configuration names (a certificate, a key, a CA).

#include <string>

namespace ballast::config {

// Its path, resolved against the configuration file's folder, and where it was named, for the
// errors found when it is loaded (which happens after the configuration is read).
struct FileRef {
  std::string path;   // empty: not set
  std::string where;  // "FILE:LINE:COL: key"
};

}  // namespace ballast::config
