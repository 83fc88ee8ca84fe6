// Every template of tests/data/templates/golden.json, rendered for every
// conversation, must equal Python Jinja2's text byte for byte; where Jinja2
// raised, hearth must raise too.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace hearth::chat {
namespace {

using nlohmann::ordered_json;

const ordered_json& golden() {
  static const ordered_json g = [] {
    std::ifstream f(std::string(HEARTH_SOURCE_DIR) + "/tests/data/templates/golden.json");
    return ordered_json::parse(f);
  }();
  return g;
}

std::tm golden_now() {
  std::tm tm{};
  std::string now = golden()["now"].get<std::string>();  // 2026-01-15T00:00:00
  strptime(now.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::time_t t = timegm(&tm);
  gmtime_r(&t, &tm);  // fills weekday and day of year
  return tm;
}

class GoldenTemplate : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTemplate, MatchesJinja2) {
  const auto& entry = golden()["templates"][GetParam()];
  const std::string source = entry["template"].get<std::string>();
  RenderOptions options;
  options.now = golden_now();
  std::unique_ptr<ChatTemplate> tmpl;
  std::string parse_error;
  try {
    tmpl = std::make_unique<ChatTemplate>(source);
  } catch (const TemplateError& e) {
    parse_error = e.what();
  }
  int cases = 0;
  for (const auto& [name, expected] : entry["expected"].items()) {
    SCOPED_TRACE("case " + name);
    ++cases;
    const ordered_json& context = golden()["contexts"][name];
    if (expected.is_object()) {
      if (!tmpl) continue;  // raised at parse time, as Jinja2 did
      EXPECT_THROW(tmpl->render(context, options), TemplateError)
          << "Jinja2 raised " << expected["error"];
      continue;
    }
    ASSERT_TRUE(tmpl) << "parse error: " << parse_error;
    std::string got;
    try {
      got = tmpl->render(context, options);
    } catch (const TemplateError& e) {
      ADD_FAILURE() << "render error: " << e.what();
      continue;
    }
    EXPECT_EQ(got, expected.get<std::string>());
  }
  EXPECT_GT(cases, 0);
}

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : golden()["templates"].items()) names.push_back(name);
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTemplate, ::testing::ValuesIn(template_names()), test_name);

TEST(GoldenFile, HasAllTemplates) { EXPECT_EQ(golden()["templates"].size(), 47u); }

}  // namespace
}  // namespace hearth::chat
