// Rendering cost of chat templates. Target: well under a millisecond for a
// typical template and conversation.
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"

namespace {

// In the style of the Llama 3.1 / Qwen templates: namespace state, system
// message extraction, tool JSON, loop variables, string methods and filters.
const char* kTypical = R"({%- set ns = namespace(system='', last_user=-1) -%}
{%- if messages[0]['role'] == 'system' -%}
    {%- set ns.system = messages[0]['content'] | trim -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for m in loop_messages %}{% if m.role == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}{% endfor -%}
{{- bos_token }}<|start_header_id|>system<|end_header_id|>

{{ "Cutting Knowledge Date: December 2023\nToday Date: " + strftime_now("%d %b %Y") + "\n\n" }}
{%- if tools is not none and tools | length > 0 %}
    {{- "You have access to the following functions:\n\n" }}
    {%- for t in tools %}{{ t | tojson(indent=4) }}{{ "\n\n" }}{% endfor %}
{%- endif %}
{{- ns.system }}<|eot_id|>
{%- for message in loop_messages %}
    {%- if message.role in ['user', 'assistant'] %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
    {%- elif message.role == 'tool' %}
        {{- '<|start_header_id|>ipython<|end_header_id|>\n\n' + message.content | tojson + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})";

nlohmann::ordered_json conversation(bool with_tools) {
  nlohmann::ordered_json ctx;
  ctx["messages"] = {{{"role", "system"}, {"content", "Answer in one line."}},
                     {{"role", "user"}, {"content", "What is 2+2?"}},
                     {{"role", "assistant"}, {"content", "4"}},
                     {{"role", "user"}, {"content", "And 3+3?"}}};
  ctx["add_generation_prompt"] = true;
  ctx["bos_token"] = "<|begin_of_text|>";
  ctx["eos_token"] = "<|eot_id|>";
  ctx["tools"] = nullptr;
  if (with_tools)
    ctx["tools"] = {{{"type", "function"},
                     {"function",
                      {{"name", "get_weather"},
                       {"description", "Weather for a city"},
                       {"parameters",
                        {{"type", "object"},
                         {"properties", {{"city", {{"type", "string"}}}}},
                         {"required", {"city"}}}}}}}};
  return ctx;
}

void BM_RenderTypical(benchmark::State& state) {
  hearth::chat::ChatTemplate t(kTypical);
  const auto ctx = conversation(state.range(0) != 0);
  hearth::chat::RenderOptions o;
  o.now = std::tm{};
  for (auto _ : state) benchmark::DoNotOptimize(t.render(ctx, o));
}
BENCHMARK(BM_RenderTypical)->Arg(0)->Arg(1);

// The largest real template of the goldens (Gemma 4's, about 15 KB, tools,
// macros and namespaces) on their multi-turn conversation.
void BM_RenderGemmaGolden(benchmark::State& state) {
  std::ifstream f(std::string(HEARTH_SOURCE_DIR) + "/tests/data/templates/golden.json");
  const auto g = nlohmann::ordered_json::parse(f);
  hearth::chat::ChatTemplate t(
      g["templates"]["google-gemma-4-31B-it.jinja"]["template"].get<std::string>());
  const auto& ctx = g["contexts"]["multi_turn/gen"];
  hearth::chat::RenderOptions o;
  o.now = std::tm{};
  for (auto _ : state) benchmark::DoNotOptimize(t.render(ctx, o));
}
BENCHMARK(BM_RenderGemmaGolden)->Unit(benchmark::kMicrosecond);

void BM_ParseTypical(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(hearth::chat::ChatTemplate(kTypical));
}
BENCHMARK(BM_ParseTypical);

void BM_ChatmlApply(benchmark::State& state) {
  hearth::chat::ChatTemplate t(hearth::chat::chatml_template());
  std::vector<hearth::chat::Message> msgs = {{"system", "Be brief."}, {"user", "Hi"}};
  for (auto _ : state) benchmark::DoNotOptimize(t.apply(msgs, true, "<s>", "</s>"));
}
BENCHMARK(BM_ChatmlApply);

}  // namespace
