#include "config/yaml_document.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <vector>

#include "config/config_error.h"
#include "config/loader.h"
#include "config/scalars.h"
#include "config/yaml_openers.h"

namespace ballast::config {
namespace {

// yaml-cpp's messages are short, but can quote the offending character.
constexpr size_t kMaxSyntaxMessage = 200;

ConfigError error_at(const std::string& source, const YAML::Mark& mark, const std::string& key,
                     const std::string& problem) {
  const int line = mark.is_null() ? 1 : mark.line + 1;
  const int column = mark.is_null() ? 1 : mark.column + 1;
  return ConfigError(located_message(source, line, column, key, problem));
}

// Records where each document starts; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

bool same_place(const YAML::Mark& a, const YAML::Mark& b) {
  return a.line == b.line && a.column == b.column;
}

// yaml-cpp names where it gave up; a construct left open began somewhere else, and that is the
// line to fix.
std::string with_opener(std::string problem, std::string_view text) {
  const std::optional<Unclosed> open = find_unclosed(text);
  if (!open) {
    return problem;
  }
  const auto place = [](TextPlace at) {
    return std::to_string(at.line) + ":" + std::to_string(at.column);
  };
  const std::string_view what = open->opener == '['   ? "the flow sequence ["
                                : open->opener == '{' ? "the flow map {"
                                                      : "the quoted scalar";
  problem.append("; ").append(what).append(" opened at ").append(place(open->from));
  problem.append(" is never closed (the file ends at line ")
      .append(std::to_string(open->end.line))
      .append(")");
  return problem;
}

// Runs `parse`, turning yaml-cpp's exceptions into located ConfigErrors.
template <typename Parse>
auto with_syntax_errors(const std::string& source, std::string_view text, Parse&& parse) {
  try {
    return parse();
  } catch (const YAML::DeepRecursion& error) {
    throw error_at(source, error.mark, "(syntax)", "nested too deeply");
  } catch (const YAML::Exception& error) {
    throw error_at(source, error.mark, "(syntax)",
                   with_opener(excerpt(error.msg, kMaxSyntaxMessage), text));
  }
}

}  // namespace

YAML::Node parse_single_document(std::string_view text, const std::string& source) {
  if (text.size() > kMaxConfigBytes) {
    throw error_at(source, YAML::Mark::null_mark(), "(file)",
                   "larger than " + std::to_string(kMaxConfigBytes / (1024 * 1024)) + " MiB");
  }
  const std::string owned(text);
  DocumentStarts documents;
  with_syntax_errors(source, owned, [&] {
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    // Three documents are enough to tell one, several, and a parser that is stuck.
    while (documents.starts.size() < 3 && parser.HandleNextDocument(documents)) {
    }
    return 0;
  });
  const std::vector<YAML::Mark>& starts = documents.starts;
  for (size_t i = 1; i < starts.size(); ++i) {
    if (same_place(starts[i - 1], starts[i])) {
      throw error_at(source, starts[i], "(syntax)", "unexpected character");
    }
  }
  if (starts.size() > 1) {
    throw error_at(source, starts[1], "(top level)",
                   "a configuration is one YAML document; remove the ---");
  }
  return with_syntax_errors(source, owned, [&] { return YAML::Load(owned); });
}

}  // namespace ballast::config
