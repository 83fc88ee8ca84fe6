// What the real templates of tests/data/templates/golden.json do with tools:
// ChatTemplate::apply renders tool conversations exactly as Python Jinja2 does
// (tools.json), each family's markup is what its model was trained on, and
// each template's call syntax, reasoning and use of `tools` is detected.
#include <gtest/gtest.h>

#include <cctype>

#include "chat/tool_calls.h"
#include "chat/tool_test_data.h"

namespace hearth::chat {
namespace {

// --- apply() renders what Hugging Face renders --------------------------------

class ToolGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ToolGolden, ApplyMatchesJinja2) {
  const ojson& expected = load("tools.json")["expected"][GetParam()];
  std::unique_ptr<ChatTemplate> tmpl;
  try {
    tmpl = std::make_unique<ChatTemplate>(source_of(GetParam()));
  } catch (const TemplateError&) {
    for (const auto& [c, e] : expected.items()) EXPECT_TRUE(e.is_object()) << c;
    return;
  }
  for (const auto& [name, want] : expected.items()) {
    SCOPED_TRACE("context " + name);
    const ojson& ctx = load("tools.json")["contexts"][name];
    const std::vector<Message> msgs = to_messages(ctx["messages"]);
    const ojson tools = tools_json(to_tools(ctx["tools"]));
    ASSERT_EQ(tools, ctx["tools"]);  // tools_json gives the shape templates read
    auto render = [&] {
      return tmpl->apply(msgs, true, ctx["bos_token"].get<std::string>(),
                         ctx["eos_token"].get<std::string>(), {{"tools", tools}}, golden_options());
    };
    if (want.is_object())
      EXPECT_THROW(render(), TemplateError) << "Jinja2 raised " << want["error"];
    else
      EXPECT_EQ(render(), want.get<std::string>());
  }
}

std::vector<std::string> tool_template_names() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : load("golden.json")["templates"].items()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(All, ToolGolden, ::testing::ValuesIn(tool_template_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

std::string render_call(const std::string& tmpl_name) {
  const ojson& ctx = load("tools.json")["contexts"]["call"];
  return ChatTemplate(source_of(tmpl_name))
      .apply(to_messages(ctx["messages"]), true, "<s>", "</s>", {{"tools", ctx["tools"]}},
             golden_options());
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << p;
}

// The markup each family's model was trained on: the tool list, the call in
// its syntax, the result turn, and (where read) the reasoning.
TEST(ToolMarkup, Families) {
  const std::string tool_json =
      R"({"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city name"}, "days": {"type": "integer", "description": "How many days"}}, "required": ["city"]}}})";
  expect_contains(
      render_call("Qwen-Qwen2.5-7B-Instruct.jinja"),
      {"<tools>\n" + tool_json + "\n",
       "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
       "{\"city\": \"Paris\", \"days\": 3}}\n</tool_call><|im_end|>",
       "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>"});
  for (const char* hermes : {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
                             "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"})
    expect_contains(render_call(hermes),
                    {"<tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\"",
                     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                     "\"Paris\", \"days\": 3}}\n</tool_call>",
                     "<|im_start|>tool\n<tool_response>\n{\"temp\": 21}\n</tool_response>"});
  for (const char* llama :
       {"meta-llama-Llama-3.1-8B-Instruct.jinja", "meta-llama-Llama-3.2-3B-Instruct.jinja",
        "meta-llama-Llama-3.3-70B-Instruct.jinja"})
    expect_contains(render_call(llama),
                    {"Environment: ipython", "\"name\": \"get_weather\",\n",
                     "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", "
                     "\"parameters\": {\"city\": \"Paris\", \"days\": 3}}<|eot_id|>",
                     "<|start_header_id|>ipython<|end_header_id|>\n\n"});
  expect_contains(render_call("Mistral-Small-3.2-24B-Instruct-2506.jinja"),
                  {"[AVAILABLE_TOOLS][" + tool_json,
                   "[TOOL_CALLS]get_weather[CALL_ID]abc123def[ARGS]{\"city\": \"Paris\", \"days\": "
                   "3}</s>",
                   "[TOOL_RESULTS]abc123def[TOOL_CONTENT]{\"temp\": 21}[/TOOL_RESULTS]"});
  expect_contains(
      render_call("unsloth-mistral-Devstral-Small-2507.jinja"),
      {"[AVAILABLE_TOOLS][" + tool_json,
       "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"days\": 3}</s>", "[TOOL_RESULTS]"});
  expect_contains(render_call("Qwen3-Coder.jinja"),
                  {"<name>get_weather</name>",
                   "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
                   "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>",
                   "<tool_response>\n{\"temp\": 21}\n</tool_response>"});
  expect_contains(render_call("Qwen-QwQ-32B.jinja"),
                  {"<tools>\n" + tool_json, "<tool_call>\n{\"name\": \"get_weather\"",
                   "<|im_start|>assistant\n<think>\n"});
  // Reasoning of an earlier turn reaches templates that read reasoning_content.
  expect_contains(render_call("Bielik-11B-v3.0-Instruct.jinja"),
                  {"<think>\nThe user wants the weather.\n</think>\n\n<tool_call>"});
}

// apply() takes the extra variables as ordered_json (tools keep their written
// order) or as nlohmann::json (converted; keys sorted).
TEST(ToolMarkup, ExtraInEitherJsonType) {
  ChatTemplate t("{{ tools | tojson }}|{{ enable_thinking }}");
  const ojson tools = tools_json({{"f", "d", {{"type", "object"}}}});
  EXPECT_EQ(t.apply({}, false, "", "", {{"tools", tools}, {"enable_thinking", false}}),
            R"([{"type": "function", "function": {"name": "f", "description": "d", )"
            R"("parameters": {"type": "object"}}}]|False)");
  const nlohmann::json sorted = {{"tools", tools}, {"enable_thinking", true}};
  EXPECT_EQ(t.apply({}, false, "", "", sorted),
            R"([{"function": {"description": "d", "name": "f", "parameters": {"type": )"
            R"("object"}}, "type": "function"}]|True)");
}

// Firefunction v2 reads `functions` (a JSON string), not `tools`.
TEST(ToolMarkup, FirefunctionTakesFunctionsText) {
  const std::string src = source_of("fireworks-ai-llama-3-firefunction-v2.jinja");
  EXPECT_FALSE(template_takes_tools(src));
  const ojson& ctx = load("tools.json")["contexts"]["call"];
  const std::string out = ChatTemplate(src).apply(
      to_messages(ctx["messages"]), true, "<s>", "</s>",
      {{"functions", ctx["tools"].dump()}, {"datetime", "2026-01-15"}}, golden_options());
  expect_contains(out, {"\"name\":\"get_weather\"",
                        " functools[{\"name\": \"get_weather\", "
                        "\"arguments\": {\"city\": \"Paris\", \"days\": 3}}]"});
}

TEST(ToolMarkup, MistralIdsAreFitted) {
  const std::string src = source_of("Mistral-Small-3.2-24B-Instruct-2506.jinja");
  std::vector<Message> msgs = to_messages(load("tools.json")["contexts"]["call"]["messages"]);
  msgs[2].tool_calls[0].id = "call_ab12cd34";
  msgs[3].tool_call_id = "call_ab12cd34";
  ChatTemplate t(src);
  EXPECT_THROW(t.apply(msgs, true, "<s>", "</s>"), TemplateError);  // "IDs ... length 9"
  fit_call_ids(msgs, tool_syntax(src));
  EXPECT_EQ(msgs[2].tool_calls[0].id.size(), 9u);
  EXPECT_EQ(msgs[2].tool_calls[0].id, msgs[3].tool_call_id);
  EXPECT_NO_THROW(t.apply(msgs, true, "<s>", "</s>"));
  std::vector<Message> again = msgs;
  fit_call_ids(again, ToolSyntax::kMistral);  // already fitted: unchanged
  EXPECT_EQ(again[2].tool_calls[0].id, msgs[2].tool_calls[0].id);
  std::vector<Message> other = to_messages(load("tools.json")["contexts"]["call"]["messages"]);
  other[2].tool_calls[0].id = "call_ab12cd34";
  fit_call_ids(other, ToolSyntax::kHermes);  // other syntaxes keep hearth's ids
  EXPECT_EQ(other[2].tool_calls[0].id, "call_ab12cd34");
}

// --- detection ------------------------------------------------------------------

struct Detected {
  const char* name;
  ToolSyntax syntax;
  bool thinks;
  bool takes_tools;
};

const Detected kDetected[] = {
    {"Apriel-1.6-15b-Thinker-fixed.jinja", ToolSyntax::kGeneric, false, true},
    {"Bielik-11B-v3.0-Instruct.jinja", ToolSyntax::kHermes, true, true},
    {"Cohere2MoE.jinja", ToolSyntax::kGeneric, false, true},
    {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", ToolSyntax::kGeneric, false, true},
    {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", ToolSyntax::kGeneric, false, true},
    {"GLM-4.7-Flash.jinja", ToolSyntax::kHermes, true, true},
    {"GigaChat3-10B-A1.8B.jinja", ToolSyntax::kGeneric, false, true},
    {"GigaChat3.1-10B-A1.8B.jinja", ToolSyntax::kGeneric, false, true},
    {"Kimi-K2-Thinking.jinja", ToolSyntax::kGeneric, true, true},
    {"LFM2.5-8B-A1B.jinja", ToolSyntax::kGeneric, true, true},
    {"LFM2.5-Instruct.jinja", ToolSyntax::kGeneric, false, true},
    {"MiMo-VL.jinja", ToolSyntax::kHermes, false, true},
    {"MiniMax-M2.jinja", ToolSyntax::kGeneric, true, true},
    {"Mistral-Small-3.2-24B-Instruct-2506.jinja", ToolSyntax::kMistral, false, true},
    {"NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja", ToolSyntax::kFunctionTag, true, true},
    {"NVIDIA-Nemotron-Nano-v2.jinja", ToolSyntax::kGeneric, true, true},
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ToolSyntax::kHermes, false, true},
    {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ToolSyntax::kHermes, false, true},
    {"Qwen-QwQ-32B.jinja", ToolSyntax::kHermes, true, true},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolSyntax::kHermes, false, true},
    {"Qwen3-Coder.jinja", ToolSyntax::kFunctionTag, false, true},
    {"Qwen3.5-4B.jinja", ToolSyntax::kFunctionTag, true, true},
    {"Reka-Edge.jinja", ToolSyntax::kHermes, true, true},
    {"StepFun3.5-Flash.jinja", ToolSyntax::kFunctionTag, true, true},
    {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", ToolSyntax::kGeneric, true, false},
    {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", ToolSyntax::kGeneric, true, false},
    {"deepseek-ai-DeepSeek-V3.2.jinja", ToolSyntax::kGeneric, true, true},
    {"deepseek-ai-DeepSeek-V4.jinja", ToolSyntax::kGeneric, true, true},
    {"fireworks-ai-llama-3-firefunction-v2.jinja", ToolSyntax::kGeneric, false, false},
    {"google-gemma-4-31B-it-interleaved.jinja", ToolSyntax::kGeneric, false, true},
    {"google-gemma-4-31B-it.jinja", ToolSyntax::kGeneric, false, true},
    {"ibm-granite-granite-4.0.jinja", ToolSyntax::kHermes, false, true},
    {"ibm-granite-granite-4.1.jinja", ToolSyntax::kHermes, false, true},
    {"llama-cpp-deepseek-r1.jinja", ToolSyntax::kGeneric, true, true},
    {"llama-cpp-rwkv-world.jinja", ToolSyntax::kGeneric, true, false},
    {"meetkai-functionary-medium-v3.1.jinja", ToolSyntax::kFunctionTag, false, true},
    {"meta-llama-Llama-2-7b-chat.jinja", ToolSyntax::kGeneric, false, false},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolSyntax::kLlama3, false, true},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolSyntax::kLlama3, false, true},
    {"meta-llama-Llama-3.3-70B-Instruct.jinja", ToolSyntax::kLlama3, false, true},
    {"mistralai-Ministral-3-14B-Reasoning-2512.jinja", ToolSyntax::kMistral, true, true},
    {"mistralai-Mistral-7B-Instruct-v0.1.jinja", ToolSyntax::kGeneric, false, false},
    {"moonshotai-Kimi-K2.jinja", ToolSyntax::kGeneric, false, true},
    {"openbmb-MiniCPM5-1B.jinja", ToolSyntax::kGeneric, true, true},
    {"unsloth-Apriel-1.5.jinja", ToolSyntax::kGeneric, false, true},
    {"unsloth-mistral-Devstral-Small-2507.jinja", ToolSyntax::kMistral, false, true},
    {"example-falcon-style-user-assistant.jinja", ToolSyntax::kGeneric, false, false},
};

TEST(Detect, EveryGoldenTemplate) {
  EXPECT_EQ(std::size(kDetected), load("golden.json")["templates"].size());
  for (const Detected& d : kDetected) {
    SCOPED_TRACE(d.name);
    const std::string src = source_of(d.name);
    EXPECT_STREQ(to_string(tool_syntax(src)), to_string(d.syntax));
    EXPECT_EQ(template_thinks(src), d.thinks);
    EXPECT_EQ(template_takes_tools(src), d.takes_tools);
  }
}

TEST(Detect, BuiltinsAndProse) {
  EXPECT_EQ(tool_syntax(chatml_template()), ToolSyntax::kHermes);
  EXPECT_EQ(tool_syntax(builtin_template("llama3")), ToolSyntax::kGeneric);
  EXPECT_FALSE(template_takes_tools(chatml_template()));
  EXPECT_FALSE(template_takes_tools("You may use tools. {{ messages[0].content }}"));
  EXPECT_TRUE(template_takes_tools("{% if tools %}{{ tools | tojson }}{% endif %}"));
  EXPECT_FALSE(template_takes_tools("{% if %}"));  // does not parse: no
  EXPECT_TRUE(prompt_opens_thinking("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_thinking("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_thinking("<|im_start|>assistant\n"));
}

TEST(Detect, SystemPromptsTeachTheSyntax) {
  for (ToolSyntax s : {ToolSyntax::kHermes, ToolSyntax::kLlama3, ToolSyntax::kMistral,
                       ToolSyntax::kGeneric, ToolSyntax::kFunctionTag}) {
    const std::string p = tools_system_prompt(weather_tools(), s);
    EXPECT_NE(p.find(tools_json(weather_tools())[0].dump()), std::string::npos) << to_string(s);
  }
  EXPECT_NE(tools_system_prompt(weather_tools(), ToolSyntax::kHermes).find("<tool_call>"),
            std::string::npos);
  EXPECT_NE(tools_system_prompt(weather_tools(), ToolSyntax::kLlama3).find("\"parameters\""),
            std::string::npos);
  EXPECT_NE(tools_system_prompt(weather_tools(), ToolSyntax::kMistral).find("[TOOL_CALLS]"),
            std::string::npos);
  EXPECT_NE(tools_system_prompt(weather_tools(), ToolSyntax::kFunctionTag).find("<function="),
            std::string::npos);
}

}  // namespace
}  // namespace hearth::chat
