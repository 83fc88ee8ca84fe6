// libFuzzer target: the chat-template (Jinja) interpreter on arbitrary
// template source. The input is the template, optionally followed by a NUL
// byte and a JSON object used as a second context. Each template is parsed,
// then rendered with a fixed chat context (system/user/assistant/tool turns,
// tool calls, tools, BOS/EOS, add_generation_prompt), with the context
// apply() builds, and with the JSON context when there is one.
//
// chat_template.h promises that every parse, render and sandbox-limit error is
// a TemplateError and that renders are bounded (output, steps, allocation,
// depth). So any other exception, a crash, a sanitizer report, a leak, a
// timeout (-timeout) or an out-of-memory (-rss_limit_mb) is a finding, as is
// output larger than the output limit.
//
// The step limit is a tenth of the default: the default 3M steps take about a
// second in a release build and ten times that under the sanitizers, so with
// 300K a render that hits -timeout=10 has steps costing far more than they
// should (quadratic work inside one builtin, say). The other limits stay.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/chat_template.h"

namespace {

using hearth::chat::ChatTemplate;
using hearth::chat::RenderOptions;
using hearth::chat::TemplateError;
using Json = nlohmann::ordered_json;

const Json& chat_context() {
  static const Json ctx = Json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "Hi \u00e9\u65e5 \ud83d\ude00"},
      {"role": "assistant", "content": "",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get", "arguments": {"q": "x", "n": 2}}}]},
      {"role": "tool", "tool_call_id": "c1", "name": "get", "content": "{\"ok\": true}"},
      {"role": "assistant", "content": "Done.", "reasoning_content": "think"},
      {"role": "user", "content": [{"type": "text", "text": "again"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "get", "description": "Gets.",
      "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                     "required": ["q"]}}}],
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "date_string": "15 Jan 2026",
    "enable_thinking": false,
    "n": 3,
    "x": 1.5,
    "none": null
  })");
  return ctx;
}

// What apply(messages, false, "<bos>", "<eos>") renders with.
const Json& apply_context() {
  static const Json ctx = Json::parse(R"({
    "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
                 {"role": "assistant", "content": "A"}, {"role": "user", "content": "U2"}],
    "add_generation_prompt": false, "bos_token": "<bos>", "eos_token": "<eos>"})");
  return ctx;
}

RenderOptions fuzz_options() {
  RenderOptions o;
  o.limits.max_steps = 300'000;
  std::tm t{};
  t.tm_year = 126, t.tm_mon = 0, t.tm_mday = 15;
  o.now = t;
  return o;
}

void check_size(const std::string& out, const RenderOptions& o) {
  if (out.size() > o.limits.max_output_bytes) {
    std::fprintf(stderr, "render output of %zu bytes exceeds the limit %zu\n", out.size(),
                 o.limits.max_output_bytes);
    __builtin_trap();
  }
}

template <typename F>
void expect_template_error_only(F&& f) {
  try {
    f();
  } catch (const TemplateError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string source(in.substr(0, nul));
  static const RenderOptions options = fuzz_options();

  std::unique_ptr<ChatTemplate> t;
  try {
    t = std::make_unique<ChatTemplate>(source);
  } catch (const TemplateError&) {
    return 0;
  }
  expect_template_error_only([&] { check_size(t->render(chat_context(), options), options); });
  expect_template_error_only([&] { check_size(t->render(apply_context(), options), options); });
  if (nul != std::string_view::npos) {
    const Json ctx = Json::parse(in.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
    if (ctx.is_object())
      expect_template_error_only([&] { check_size(t->render(ctx, options), options); });
  }
  return 0;
}
