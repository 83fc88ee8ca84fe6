// Hostile templates end with a TemplateError, quickly and without exhausting
// memory or the stack, under the default limits.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "chat/chat_template.h"

namespace hearth::chat {
namespace {

// Renders `source` expecting a TemplateError whose message contains `what`,
// within `seconds` (generous: sanitizer builds are several times slower).
void expect_stopped(const std::string& source, const std::string& what, double seconds = 20) {
  SCOPED_TRACE(source.substr(0, 120));
  auto start = std::chrono::steady_clock::now();
  try {
    ChatTemplate t(source);
    t.render(nlohmann::json::object());
    ADD_FAILURE() << "rendered without error";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(elapsed, seconds);
}

TEST(Sandbox, HugeRangeIsRefused) {
  expect_stopped("{% for x in range(10**9) %}{{ x }}{% endfor %}", "Range too big");
}

TEST(Sandbox, HugeRepeatIsRefused) {
  expect_stopped("{{ 'a' * 10**10 }}", "exceeds the limit");
  expect_stopped("{{ [1, 2] * 10**9 }}", "exceeds the limit");
  expect_stopped("{{ 'abc'.ljust(10**9) }}", "exceeds the limit");
}

TEST(Sandbox, NestedLoopsRunOutOfSteps) {
  expect_stopped("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                 "evaluation steps");
}

TEST(Sandbox, RecursiveMacrosHitTheDepthLimit) {
  expect_stopped("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", "nested deeper");
  expect_stopped(
      "{% macro a(n) %}{% for i in range(10) %}{{ a(n + 1) }}{% endfor %}{% endmacro %}{{ a(0) }}",
      "nested deeper");
}

TEST(Sandbox, DoublingStringsAndListsHitTheValueLimit) {
  expect_stopped(
      "{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}",
      "exceeds the limit");
  expect_stopped(
      "{% set ns = namespace(x=[1]) %}{% for i in range(64) %}{% set ns.x = ns.x + ns.x %}"
      "{% endfor %}",
      "exceeds the limit");
  expect_stopped("{{ ('a' * 1000000).replace('a', 'aaaaaaaaaa') }}", "exceeds");
}

TEST(Sandbox, OutputIsBounded) {
  expect_stopped("{% for i in range(100000) %}{{ 'a' * 1000 }}{% endfor %}", "output exceeds");
}

TEST(Sandbox, CumulativeAllocationIsBounded) {
  expect_stopped(
      "{% set s = 'a' * 4000000 %}{% for i in range(100000) %}{% set t = s ~ i %}{% endfor %}",
      "bytes of data");
}

TEST(Sandbox, DeepAndCyclicStructuresFailCleanly) {
  expect_stopped(
      "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}"
      "{% endfor %}{{ ns.x }}",
      "nested deeper");
  expect_stopped(
      "{% set ns = namespace(d={}) %}{% for i in range(100000) %}{% set ns.d = {'k': ns.d} %}"
      "{% endfor %}{{ ns.d | tojson }}",
      "nested too deeply");
  expect_stopped("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", "nested deeper");
}

TEST(Sandbox, MutationIsRefusedUnlessAllowed) {
  expect_stopped("{% set l = [] %}{% set _ = l.append(1) %}", "unsafe");
  expect_stopped("{% set d = {} %}{% set _ = d.update({'a': 1}) %}", "unsafe");
  RenderOptions o;
  o.limits.allow_mutation = true;
  EXPECT_EQ(ChatTemplate("{% set l = [1] %}{% set _ = l.append(2) %}{{ l }}{{ l.pop(0) }}{{ l }}")
                .render(nlohmann::json::object(), o),
            "[1, 2]1[2]");
  // A list holding itself: printing it fails cleanly, and freeing it leaks nothing.
  EXPECT_THROW(ChatTemplate("{% set l = [] %}{% set _ = l.append(l) %}{{ l }}")
                   .render(nlohmann::json::object(), o),
               TemplateError);
}

TEST(Sandbox, DeeplyNestedSourceIsASyntaxError) {
  const int n = 100000;
  auto rep = [](const std::string& s, int k) {
    std::string out;
    for (int i = 0; i < k; ++i) out += s;
    return out;
  };
  expect_stopped("{{ " + rep("(", n) + "1" + rep(")", n) + " }}", "nested too deeply");
  expect_stopped("{{ 1" + rep("+1", n) + " }}", "nested too deeply");
  expect_stopped("{{ x" + rep("|trim", n) + " }}", "nested too deeply");
  expect_stopped("{{ x" + rep(".a", n) + " }}", "nested too deeply");
  expect_stopped(rep("{% if true %}", n) + rep("{% endif %}", n), "nested too deeply");
  expect_stopped("{{ " + rep("[", n) + rep("]", n) + " }}", "nested too deeply");
}

TEST(Sandbox, NoFileOrEnvironmentAccess) {
  expect_stopped("{% include '/etc/passwd' %}", "unknown tag");
  expect_stopped("{% import 'x' as y %}", "unknown tag");
  expect_stopped("{{ open('/etc/passwd') }}", "undefined");
  expect_stopped("{{ ''.__class__ }}{{ x.__class__.__mro__() }}", "undefined");
}

TEST(Sandbox, LimitsAreConfigurable) {
  RenderOptions o;
  o.limits.max_output_bytes = 10;
  EXPECT_THROW(ChatTemplate("{{ 'a' * 11 }}").render(nlohmann::json::object(), o), TemplateError);
  EXPECT_EQ(ChatTemplate("{{ 'a' * 10 }}").render(nlohmann::json::object(), o), "aaaaaaaaaa");
  o.limits.max_steps = 100;
  EXPECT_THROW(
      ChatTemplate("{% for i in range(1000) %}{% endfor %}").render(nlohmann::json::object(), o),
      TemplateError);
}

}  // namespace
}  // namespace hearth::chat
