#pragma once
// Parses configuration text into exactly one YAML document, or throws a ConfigError located at
// the syntax error, the second document, or the file (too large).
//
// Why not YAML::LoadAll: in yaml-cpp 0.7 (Debian 12) it loops forever, allocating, on a token
// the parser cannot place, such as a stray ',' (jbeder/yaml-cpp#1040, fixed upstream by #1319).
// Documents are therefore counted first with a bounded event pass, which also recognises that
// loop: the parser starting a document where the previous one started has consumed nothing.
//
// Threading: start-up only.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace ballast::config {

// A null node for an empty text (or one with only comments).
YAML::Node parse_single_document(std::string_view text, const std::string& source);

}  // namespace ballast::config
