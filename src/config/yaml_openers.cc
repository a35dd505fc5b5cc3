#include "config/yaml_openers.h"

#include <algorithm>
#include <vector>

namespace ballast::config {
namespace {

struct Open {
  char opener;
  TextPlace at;
};

// A quote opens a quoted scalar only where a scalar may start: after indentation, a key's
// colon, a sequence dash, or inside a flow collection after `[`, `{` or `,`.
bool may_start_scalar(char previous) noexcept {
  return previous == '\0' || previous == ':' || previous == '-' || previous == '[' ||
         previous == '{' || previous == ',' || previous == '?';
}

}  // namespace

std::optional<Unclosed> find_unclosed(std::string_view text) noexcept {
  std::vector<Open> flows;  // bounded by the text, which the loader bounds
  std::optional<Open> quote;
  TextPlace at;
  TextPlace last;        // the last character's place: where the file ends
  char previous = '\0';  // the last non-blank character on this line, '\0' at its start
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const TextPlace here = at;
    if (c == '\n') {
      ++at.line;
      at.column = 1;
      comment = false;
      previous = quote || !flows.empty() ? previous : '\0';
      continue;
    }
    ++at.column;
    if (comment) {
      continue;
    }
    if (quote) {
      if (c == '\\' && quote->opener == '"') {
        ++i;  // an escaped character, whatever it is
        ++at.column;
      } else if (c == quote->opener) {
        if (c == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          ++i;  // '' inside single quotes is one quote
          ++at.column;
        } else {
          quote.reset();
          previous = c;
        }
      }
      continue;
    }
    if (c == ' ' || c == '\t') {
      continue;
    }
    if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
      comment = true;
      continue;
    }
    if ((c == '"' || c == '\'') && may_start_scalar(previous)) {
      quote = Open{c, here};
    } else if (c == '[' || c == '{') {
      flows.push_back({c, here});
    } else if ((c == ']' || c == '}') && !flows.empty()) {
      if (flows.back().opener != (c == ']' ? '[' : '{')) {
        break;  // closes what is not open: the construct open here is the one left unclosed
      }
      flows.pop_back();
    }
    previous = c;
  }
  if (!text.empty()) {  // the scan may have stopped early: count the lines
    const auto newlines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    last = {newlines + (text.back() == '\n' ? 0 : 1), 1};
  }
  if (quote) {
    return Unclosed{quote->opener, quote->at, last};
  }
  if (!flows.empty()) {
    return Unclosed{flows.back().opener, flows.back().at, last};
  }
  return std::nullopt;
}

}  // namespace ballast::config
