#pragma once
// Where a YAML text leaves a construct open: a flow sequence `[`, a flow map `{` or a quoted
// scalar that the file never closes. yaml-cpp reports such a file where it gave up (often the
// end of the file, or a line far below); the operator needs the line where the construct began.
//
// A scanner, not a parser: it follows quotes, comments and flow brackets the way YAML does for
// the shapes a configuration has, so it is used only to add to an error yaml-cpp already found.
//
// Threading: a pure function.

#include <optional>
#include <string_view>

namespace ballast::config {

struct TextPlace {
  int line = 1;  // 1-based
  int column = 1;
};

struct Unclosed {
  char opener;     // '[', '{', '"' or '\''
  TextPlace from;  // where it was opened
  TextPlace end;   // the file's last line (column 1)
};

std::optional<Unclosed> find_unclosed(std::string_view text) noexcept;

}  // namespace ballast::config
