// Untrusted input: whatever the bytes, the loader returns a Config or throws a ConfigError in
// the documented shape, promptly and in bounded memory. ASan and UBSan runs of this file are
// the real check.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.h"
#include "core/random.h"

namespace ballast::config {
namespace {

// Loads `yaml`; returns the error message, or "" when it loaded.
std::string try_load(const std::string& yaml) {
  try {
    parse_config(yaml, "f.yaml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

// `f.yaml:LINE:COL: key: problem` on one line, LINE and COL from 1. (A key may itself hold
// ": ", so the split between key and problem is not checked.)
bool has_message_shape(const std::string& message) {
  std::string_view rest = message;
  if (!rest.starts_with("f.yaml:") || rest.find('\n') != std::string_view::npos) {
    return false;
  }
  rest.remove_prefix(7);
  for (const char separator : {':', ':'}) {
    const size_t end = rest.find(separator);
    if (end == 0 || end == std::string_view::npos || rest[0] == '0' ||
        rest.substr(0, end).find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    rest.remove_prefix(end + 1);
  }
  const size_t split = rest.find(": ", 1);
  return rest.starts_with(" ") && split != std::string_view::npos && split + 2 < rest.size();
}

std::string read_example(const std::string& name) {
  std::ifstream file(std::string(BALLAST_EXAMPLES_DIR) + "/" + name);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(Robustness, MessageShapeCheckItself) {
  EXPECT_TRUE(has_message_shape("f.yaml:1:1: (top level): the file is empty"));
  EXPECT_TRUE(has_message_shape("f.yaml:12:30: a.b: x: y"));
  EXPECT_FALSE(has_message_shape("f.yaml:0:1: a: b"));
  EXPECT_FALSE(has_message_shape("f.yaml:1:: a: b"));
  EXPECT_FALSE(has_message_shape("f.yaml:1:1: a b"));
  EXPECT_FALSE(has_message_shape("f.yaml:1:1: a: b\nc"));
  EXPECT_FALSE(has_message_shape("yaml-cpp: error at line 1, column 1: bad file"));
}

TEST(Robustness, AliasesCannotMultiplyTheWork) {
  // One anchored list of 2,000 servers named by 1,000 clusters (the most there may be) would be
  // two million servers from a file of about 80 KB.
  std::string yaml = "listeners:\n  - {name: l, listen: \":80\", routes: [{cluster: c0}]}\n";
  yaml += "clusters:\n  c0:\n    servers: &servers\n";
  for (int i = 1; i <= 2'000; ++i) {
    yaml += "      - {host: h, port: " + std::to_string(i) + "}\n";
  }
  for (int i = 1; i < 1'000; ++i) {
    yaml += "  c" + std::to_string(i) + ": {servers: *servers}\n";
  }
  const std::string error = try_load(yaml);
  EXPECT_NE(error.find(": the document expands to more nodes than its size allows"),
            std::string::npos)
      << error;
  EXPECT_TRUE(has_message_shape(error)) << error;
}

TEST(Robustness, OddDocumentsAreErrorsNotCrashes) {
  const std::string cases[] = {
      std::string("\0\0\0", 3),
      std::string("load_balancer:\n  servers: [\x16\0\n", 30),  // yaml-cpp quotes the \x16
      ",\xa7"
      "ellIo",  // yaml-cpp 0.7's LoadAll never returns on this
      "\xff\xfe\xfd",
      "load_balancer: &a\n  servers: *a\n",  // an alias of its own parent
      "load_balancer:\n  servers:\n    - {host: a, port: 99999999999999999999999999999999999999}\n",
      "load_balancer:\n  servers:\n    - {host: \"" + std::string(100'000, 'h') + "\", port: 1}\n",
      std::string(100'000, '{'),
      std::string(100'000, '-'),
      "? " + std::string(5'000, '[') + "\n",
      "load_balancer:\n  " + std::string(10'000, 'k') + ": 1\n",
      "%YAML 1.2\n---\nload_balancer: {}\n",
      "!!binary aGVsbG8=",
      "load_balancer: !!map\n  servers: []\n",
      "load_balancer:\n  servers:\n    - {host: a, port: 80}\n  listen: \":\"\n",
      "tracing: {sample_rate: 1e400, endpoint: \"http://x\"}\n",
  };
  for (const std::string& yaml : cases) {
    const std::string error = try_load(yaml);
    EXPECT_TRUE(has_message_shape(error)) << error.substr(0, 300);
  }
}

// Random byte edits of the example files: every outcome must be a Config or a well-formed error.
TEST(Robustness, MutatedExamplesNeverEscapeAsAnythingElse) {
  core::Random random(20240601);
  for (const char* example : {"short.yaml", "full.yaml"}) {
    const std::string original = read_example(example);
    ASSERT_FALSE(original.empty()) << example;
    constexpr std::string_view kAlphabet = " \n\t:-[]{},&*!|>'\"#%@`?0123456789abcxyz\\\x80\xff";
    for (int round = 0; round < 3'000; ++round) {
      std::string yaml = original;
      const uint64_t edits = 1 + random.below(4);
      for (uint64_t edit = 0; edit < edits; ++edit) {
        const size_t at = random.below(yaml.size());
        const char byte = kAlphabet[random.below(kAlphabet.size())];
        switch (random.below(3)) {
          case 0:
            yaml[at] = byte;
            break;
          case 1:
            yaml.insert(at, 1, byte);
            break;
          default:
            yaml.erase(at, 1 + random.below(8));
            break;
        }
      }
      const std::string error = try_load(yaml);
      if (!error.empty()) {
        ASSERT_TRUE(has_message_shape(error)) << error << "\n--- input:\n" << yaml;
      }
    }
  }
}

}  // namespace
}  // namespace ballast::config
