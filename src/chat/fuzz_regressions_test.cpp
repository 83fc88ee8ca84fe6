// Templates the fuzzer (fuzz/template_fuzz.cpp) or its dictionary-guided
// probes broke the interpreter with: each must now end in a TemplateError (or
// render), never in another exception, undefined behaviour or a huge allocation.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "chat/chat_template.h"

namespace hearth::chat {
namespace {

std::string render_with_x(const std::string& source) {
  return ChatTemplate(source).render(nlohmann::json::parse(R"({"x": [1, 2]})"));
}

// Renders `source` expecting a TemplateError whose message contains `what`.
void expect_error(const std::string& source, const std::string& what) {
  SCOPED_TRACE(source);
  try {
    render_with_x(source);
    ADD_FAILURE() << "rendered without error";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

// A float argument where an integer is expected was cast to int64 even when
// out of range (undefined behaviour).
TEST(FuzzRegressions, HugeFloatAsIntegerArgument) {
  expect_error("{{ [1]|tojson(indent=1e300) }}", "OverflowError");
  expect_error("{{ [1, 2]|batch(1e300)|list }}", "OverflowError");
  expect_error("{{ 'ab'|indent(-1e300) }}", "OverflowError");
  expect_error("{{ 1.5|round(1e300) }}", "OverflowError");
  expect_error("{{ 'a'|int(base=(1e300 * 1e300) - (1e300 * 1e300)) }}", "OverflowError");  // NaN
  EXPECT_EQ(render_with_x("{{ [1, 2]|batch(1.0)|list|length }}"), "2");  // in range: still fine
}

// Long digit runs in attribute paths threw std::out_of_range out of stoll.
TEST(FuzzRegressions, LongDigitAttributePath) {
  EXPECT_EQ(render_with_x("{{ [{'a': 1}]|map(attribute='99999999999999999999')|list|length }}"),
            "1");
  EXPECT_EQ(render_with_x("{{ [[5, 6]]|map(attribute='1')|list }}"), "[6]");
  expect_error("{{ x.99999999999999999999 }}", "too large");
  // str.format field numbers: a long one behaves like any missing index.
  EXPECT_EQ(render_with_x("{{ '{22222222222222222222222} {}'.format('a', 2) }}"),
            render_with_x("{{ '{99} {}'.format('a', 2) }}"));
  EXPECT_EQ(render_with_x("{{ x.1 }}"), "2");
}

// tojson's indentation was appended before the size check: a 2e9 indent
// allocated gigabytes.
TEST(FuzzRegressions, HugeJsonIndent) {
  expect_error("{{ [[1]]|tojson(indent=2000000000) }}", "exceeds the limit");
  EXPECT_EQ(render_with_x("{{ [1]|tojson(indent=2) }}"), "[\n  1\n]");
}

// Integer overflow (undefined behaviour) at the edges of int64.
TEST(FuzzRegressions, Int64Edges) {
  EXPECT_EQ(render_with_x("{{ range(-9223372036854775807, 9223372036854775807, 4611686018427387904)"
                          "|list }}"),
            "[-9223372036854775807, -4611686018427387903, 1, 4611686018427387905]");
  EXPECT_EQ(render_with_x("{{ range(9223372036854775800, 9223372036854775807, 3)|list }}"),
            "[9223372036854775800, 9223372036854775803, 9223372036854775806]");
  EXPECT_EQ(render_with_x("{{ 'abc'[9223372036854775807] is defined }}"), "False");
  EXPECT_EQ(render_with_x("{{ 'abc'[2] }}"), "c");
}

// Iterating a long string built one value per character before charging for
// them: chained joins took over 10 s (sanitizer build) before failing.
TEST(FuzzRegressions, LongStringIterationIsRefusedUpFront) {
  const auto start = std::chrono::steady_clock::now();
  expect_error("{{ ('a' * 8000000)|list|length }}", "exceeds the limit");
  expect_error("{{ ('ab' * 4000)|join('0123456789')|join('0123456789')|join('x') }}",
               "exceeds the limit");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 2.0);
  EXPECT_EQ(render_with_x("{{ 'h\u00e9'|list }}"), "['h', '\u00e9']");
}

// rsplit with maxsplit inserted each part at the front: quadratic, about a
// minute for 100000 parts. '%d' of a huge float cast it to long long (UB).
TEST(FuzzRegressions, RsplitIsLinearAndPercentDChecksRange) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(render_with_x("{{ ('a ' * 100000).rsplit(' ', 100000)|length }}"), "100001");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(render_with_x("{{ 'a,b,c,d'.rsplit(',', 2) }}"), "['a,b', 'c', 'd']");
  expect_error("{{ '%d' % 1e300 }}", "OverflowError");
  expect_error("{{ '%i' % ((1e308 * 10) - (1e308 * 10)) }}", "OverflowError");  // NaN
  EXPECT_EQ(render_with_x("{{ '%d' % 2.7 }}"), "2");
}

// Builtins whose work grows with their input ran quadratic time in loops
// within the step limit (minutes each): their inner work now counts as steps.
TEST(FuzzRegressions, QuadraticBuiltinsRunOutOfSteps) {
  const auto start = std::chrono::steady_clock::now();
  expect_error("{{ range(100000)|unique|list|length }}", "evaluation steps");
  expect_error(
      "{% set l = range(100000)|list %}{% for i in range(100000) %}{% if i in l %}"
      "{% endif %}{% endfor %}",
      "evaluation steps");
  expect_error("{% set l = range(100000)|list %}{{ l|select('in', l)|list|length }}",
               "evaluation steps");
  // (list.insert is now refused as unsafe, like Jinja2's sandbox; either way it stops.)
  expect_error(
      "{% set l = [] %}{% for i in range(100000) %}{% set _ = l.insert(0, i) %}"
      "{% endfor %}",
      "SecurityError");
  expect_error(
      "{% set l = range(100000)|list %}{% for i in range(100000) %}"
      "{% set _ = l.index(99999) %}{% endfor %}",
      "evaluation steps");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  // Ordinary sizes are untouched.
  EXPECT_EQ(
      render_with_x("{{ [3, 1, 3, 2, 1]|unique|list }}|{{ 2 in [1, 2] }}|{{ [1, 2, 1].index(2) }}"),
      "[3, 1, 2]|True|1");
}

}  // namespace
}  // namespace hearth::chat
