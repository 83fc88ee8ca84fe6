// Tool calls and reasoning against the real templates of
// tests/data/templates/golden.json: ChatTemplate::apply renders tool
// conversations exactly as Python Jinja2 does (tools.json, made by
// make_tools_golden.py), each template's call syntax is detected, the calls a
// template renders parse back to the same name and arguments, streaming at any
// split gives parse_reply's result, and hostile replies stay bounded.
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <random>

namespace hearth::chat {
namespace {

using ojson = nlohmann::ordered_json;

const ojson& load(const std::string& file) {
  static std::map<std::string, ojson> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    std::ifstream f(std::string(HEARTH_SOURCE_DIR) + "/tests/data/templates/" + file);
    it = cache.emplace(file, ojson::parse(f)).first;
  }
  return it->second;
}

std::string source_of(const std::string& name) {
  return load("golden.json")["templates"][name]["template"].get<std::string>();
}

RenderOptions golden_options() {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;  // golden.json's now: 2026-01-15T00:00:00
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  std::time_t t = timegm(&tm);
  gmtime_r(&t, &tm);
  o.now = tm;
  return o;
}

// A context's messages (OpenAI's shape) as chat::Message values.
std::vector<Message> to_messages(const ojson& list) {
  std::vector<Message> out;
  for (const ojson& m : list) {
    Message msg{m["role"].get<std::string>(), m["content"].get<std::string>()};
    msg.thinking = m.value("reasoning_content", "");
    msg.tool_call_id = m.value("tool_call_id", "");
    msg.name = m.value("name", "");
    if (m.contains("tool_calls"))
      for (const ojson& c : m["tool_calls"])
        msg.tool_calls.push_back({c["id"].get<std::string>(),
                                  c["function"]["name"].get<std::string>(),
                                  c["function"]["arguments"]});
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<Tool> to_tools(const ojson& list) {
  std::vector<Tool> out;
  for (const ojson& t : list)
    out.push_back({t["function"]["name"].get<std::string>(),
                   t["function"]["description"].get<std::string>(), t["function"]["parameters"]});
  return out;
}

const std::vector<Tool>& weather_tools() {
  static const std::vector<Tool> tools = to_tools(load("tools.json")["contexts"]["call"]["tools"]);
  return tools;
}

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

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : load("golden.json")["templates"].items()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(All, ToolGolden, ::testing::ValuesIn(template_names()),
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

// --- parsing ----------------------------------------------------------------------

// A reply with the calls' ids left out (they are random).
struct Flat {
  std::string content, thinking;
  std::vector<std::string> calls;  // name + " " + compact arguments
  bool operator==(const Flat&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Flat& f) {
  os << "content '" << f.content << "' thinking '" << f.thinking << "' calls [";
  for (const auto& c : f.calls) os << c << "; ";
  return os << "]";
}

Flat flat(const ParsedReply& r) {
  Flat f{r.content, r.thinking, {}};
  for (const ToolCall& c : r.calls) f.calls.push_back(c.name + " " + c.arguments.dump());
  return f;
}

Flat parse(std::string_view text, ToolSyntax s, bool tools = true, bool open = false) {
  return flat(parse_reply(text, s, tools, open));
}

// The same text streamed in the pieces that `cuts` (ascending offsets) make.
Flat streamed(std::string_view text, ToolSyntax s, bool tools, bool open,
              const std::vector<size_t>& cuts) {
  ReplyStream stream(s, tools, open);
  std::vector<ReplyStream::Event> events;
  size_t at = 0;
  for (size_t cut : cuts) {
    for (auto& e : stream.feed(text.substr(at, cut - at))) events.push_back(std::move(e));
    at = cut;
  }
  for (auto& e : stream.feed(text.substr(at))) events.push_back(std::move(e));
  for (auto& e : stream.finish()) events.push_back(std::move(e));
  Flat f;
  for (const auto& e : events) {
    EXPECT_TRUE(e.kind == ReplyStream::Event::Kind::kToolCall || !e.text.empty());
    if (e.kind == ReplyStream::Event::Kind::kContent) f.content += e.text;
    if (e.kind == ReplyStream::Event::Kind::kThinking) f.thinking += e.text;
    if (e.kind == ReplyStream::Event::Kind::kToolCall)
      f.calls.push_back(e.call.name + " " + e.call.arguments.dump());
  }
  return f;
}

// Every split into two pieces, byte by byte, and random splits, all equal parse_reply.
void expect_stream_agrees(std::string_view text, ToolSyntax s, bool tools = true,
                          bool open = false) {
  const Flat whole = parse(text, s, tools, open);
  for (size_t cut = 0; cut <= text.size(); ++cut)
    ASSERT_EQ(streamed(text, s, tools, open, {cut}), whole) << "split at " << cut << ": " << text;
  std::vector<size_t> bytes;
  for (size_t i = 1; i < text.size(); ++i) bytes.push_back(i);
  ASSERT_EQ(streamed(text, s, tools, open, bytes), whole) << "byte by byte: " << text;
  std::mt19937 rng(static_cast<uint32_t>(text.size()));
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < text.size(); ++i)
      if (rng() % 4 == 0) cuts.push_back(i);
    ASSERT_EQ(streamed(text, s, tools, open, cuts), whole) << text;
  }
}

const char* kWeather = R"(get_weather {"city":"Paris","days":3})";

std::string_view trim_end(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return trim_end(s);
}

// The assistant turn a template renders for the context's call: the text
// after the conversation so far and the turn's header, without the end-of-turn
// marker (found by rendering a plain-text turn the same way).
std::string rendered_call_turn(const std::string& tmpl_name, const std::vector<ToolCall>& calls) {
  ChatTemplate t(source_of(tmpl_name));
  const ojson extra = {{"tools", tools_json(weather_tools())}};
  std::vector<Message> msgs = {{"user", "Weather in Paris?"}};
  const std::string base = t.apply(msgs, false, "<s>", "</s>", extra, golden_options());
  msgs.push_back({"assistant", "XYZZY"});
  const std::string plain = t.apply(msgs, false, "<s>", "</s>", extra, golden_options());
  msgs.back() = {"assistant", "", calls};
  const std::string with_call = t.apply(msgs, false, "<s>", "</s>", extra, golden_options());
  EXPECT_EQ(with_call.substr(0, base.size()), base);
  EXPECT_EQ(plain.substr(0, base.size()), base);
  const std::string_view plain_turn = std::string_view(plain).substr(base.size());
  std::string_view turn = std::string_view(with_call).substr(base.size());
  const size_t marker = plain_turn.find("XYZZY");
  EXPECT_NE(marker, std::string::npos);
  size_t header = 0;
  while (header < marker && header < turn.size() && turn[header] == plain_turn[header]) ++header;
  // Not into markup the two turns happen to share ("<" of "<think>" and "<TOOLCALL>").
  while (header > 0 && header < marker &&
         std::string_view("\n>]").find(turn[header - 1]) == std::string_view::npos)
    --header;
  turn.remove_prefix(header);
  turn = trim_end(turn);
  for (std::string_view eot : {trim(plain_turn.substr(marker + 5)), std::string_view("<|eom_id|>")})
    if (!eot.empty() && turn.size() >= eot.size() && turn.substr(turn.size() - eot.size()) == eot)
      turn.remove_suffix(eot.size());
  return std::string(turn);
}

struct RoundTrip {
  const char* name;
  bool parallel;  // the template renders several calls in one turn
};

// Every template whose syntax hearth parses: render a call, parse it back.
const RoundTrip kRoundTrips[] = {
    {"Qwen-Qwen2.5-7B-Instruct.jinja", true},
    {"Qwen-QwQ-32B.jinja", true},
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", true},
    {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", true},
    {"MiMo-VL.jinja", true},
    {"Bielik-11B-v3.0-Instruct.jinja", true},
    {"Reka-Edge.jinja", true},
    {"GLM-4.7-Flash.jinja", true},
    {"ibm-granite-granite-4.0.jinja", true},
    {"ibm-granite-granite-4.1.jinja", true},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", false},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", false},
    {"meta-llama-Llama-3.3-70B-Instruct.jinja", false},
    {"Mistral-Small-3.2-24B-Instruct-2506.jinja", true},
    {"unsloth-mistral-Devstral-Small-2507.jinja", true},
    {"mistralai-Ministral-3-14B-Reasoning-2512.jinja", true},
    {"Qwen3-Coder.jinja", true},
    {"Qwen3.5-4B.jinja", true},
    {"NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja", true},
    {"StepFun3.5-Flash.jinja", true},
    {"meetkai-functionary-medium-v3.1.jinja", false},
    {"NVIDIA-Nemotron-Nano-v2.jinja", true},
    {"GigaChat3.1-10B-A1.8B.jinja", false},
    {"unsloth-Apriel-1.5.jinja", true},
    {"Apriel-1.6-15b-Thinker-fixed.jinja", true},
};

TEST(RoundTrip, RenderedCallsParseBack) {
  const ToolCall paris{"abc123def", "get_weather", {{"city", "Paris"}, {"days", 3}}};
  const ToolCall oslo{"ghi789jkl", "get_weather", {{"city", "Oslo"}}};
  for (const RoundTrip& rt : kRoundTrips) {
    SCOPED_TRACE(rt.name);
    const ToolSyntax syntax = tool_syntax(source_of(rt.name));
    const std::string one = rendered_call_turn(rt.name, {paris});
    EXPECT_EQ(parse(one, syntax), (Flat{"", "", {kWeather}})) << one;
    expect_stream_agrees(one, syntax);
    if (!rt.parallel) continue;
    const std::string two = rendered_call_turn(rt.name, {paris, oslo});
    EXPECT_EQ(parse(two, syntax), (Flat{"", "", {kWeather, R"(get_weather {"city":"Oslo"})"}}))
        << two;
    expect_stream_agrees(two, syntax);
  }
}

TEST(Parse, IdsAreFreshAndWellFormed) {
  const ParsedReply r = parse_reply(
      "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call><tool_call>{\"name\": \"b\"}"
      "</tool_call>",
      ToolSyntax::kHermes, true, false);
  ASSERT_EQ(r.calls.size(), 2u);
  for (const ToolCall& c : r.calls) {
    ASSERT_EQ(c.id.size(), 13u);
    EXPECT_EQ(c.id.substr(0, 5), "call_");
    for (char ch : c.id.substr(5)) EXPECT_TRUE(isdigit(ch) || (ch >= 'a' && ch <= 'z')) << c.id;
    EXPECT_TRUE(c.arguments.is_object());
  }
  EXPECT_NE(r.calls[0].id, r.calls[1].id);
}

struct Case {
  ToolSyntax syntax;
  std::string text;
  Flat want;
  bool open = false;
};

// Replies as models write them, with content and reasoning around the calls.
const std::vector<Case>& cases() {
  using S = ToolSyntax;
  static const std::vector<Case> c = {
      {S::kHermes,
       "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
       "\"Paris\", \"days\": 3}}\n</tool_call>",
       {"Let me check.", "", {kWeather}}},
      {S::kHermes,
       "<think>\nThe user asks.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", "
       "\"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>",
       {"", "The user asks.", {kWeather}}},
      {S::kHermes,
       "Short thought.\n</think>\n\nIt is sunny.",
       {"It is sunny.", "Short thought.", {}},
       true},
      {S::kHermes, "thinking that never ends", {"", "thinking that never ends", {}}, true},
      // The end of generation without the closer (a stop string took it).
      {S::kHermes,
       "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}",
       {"", "", {"get_time {}"}}},
      {S::kHermes,
       "Use <tool_call> tags, e.g. <tool_call>oops</tool_call> then more.",
       {"Use <tool_call> tags, e.g. <tool_call>oops</tool_call> then more.", "", {}}},
      {S::kHermes,
       "<tool_call>{\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}"
       "</tool_call>",
       {"", "", {R"(get_time {"tz":"UTC"})"}}},  // arguments as a JSON string (OpenAI's shape)
      {S::kHermes,
       "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris</arg_value>"
       "<arg_key>days</arg_key><arg_value>3</arg_value></tool_call>",
       {"", "", {kWeather}}},
      {S::kHermes, "<tool_call>get_time</tool_call>", {"", "", {"get_time {}"}}},
      {S::kLlama3,
       "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 3}}",
       {"", "", {kWeather}}},
      {S::kLlama3,
       "<|python_tag|>{\"name\": \"get_time\", \"parameters\": {}}; {\"name\": "
       "\"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 3}}",
       {"", "", {"get_time {}", kWeather}}},
      // JSON that is not a call stays content (a json_object reply, say).
      {S::kLlama3, "{\"name\": \"Bob\", \"age\": 3}", {"{\"name\": \"Bob\", \"age\": 3}", "", {}}},
      {S::kLlama3,
       "The answer is {\"name\": \"x\", \"parameters\": {}}",
       {"The answer is {\"name\": \"x\", \"parameters\": {}}", "", {}}},
      {S::kMistral,
       "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
       "\"days\": 3}, \"id\": \"abc123def\"}]",
       {"", "", {kWeather}}},
      {S::kMistral,
       "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"days\": 3}[TOOL_CALLS]"
       "get_time[CALL_ID]abc123def[ARGS]{}",
       {"", "", {kWeather, "get_time {}"}}},
      {S::kMistral, "[THINK]Hmm.[/THINK]Sure.", {"Sure.", "Hmm.", {}}},
      {S::kMistral,
       "[TOOL_CALLS] is a token [TOOL_CALLS]bad name[ARGS]{}",
       {"[TOOL_CALLS] is a token [TOOL_CALLS]bad name[ARGS]{}", "", {}}},
      {S::kFunctionTag,
       "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
       "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>",
       {"", "", {kWeather}}},
      {S::kFunctionTag,
       "<function=get_weather>{\"city\": \"Paris\", \"days\": 3}</function>",
       {"", "", {kWeather}}},
      {S::kFunctionTag,
       "<tool_call>\n<function=f>\n<parameter=text>\nline one\nline two\n"
       "</parameter>\n</function>\n</tool_call>",
       {"", "", {R"(f {"text":"line one\nline two"})"}}},
      {S::kGeneric,
       "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}",
       {"", "", {kWeather}}},
      {S::kGeneric,
       "{\"tool_calls\": [{\"name\": \"get_time\", \"arguments\": {}}]}",
       {"", "", {"get_time {}"}}},
      {S::kGeneric,
       " functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
       "\"days\": 3}}]",
       {"", "", {kWeather}}},
      {S::kGeneric, "[1, 2, 3]", {"[1, 2, 3]", "", {}}},
      {S::kGeneric,
       "Sure: <TOOLCALL>[{\"name\": \"get_time\", \"arguments\": {}}]</TOOLCALL>",
       {"Sure:", "", {"get_time {}"}}},
  };
  return c;
}

TEST(Parse, RepliesAsModelsWriteThem) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse(c.text, c.syntax, true, c.open), c.want);
    expect_stream_agrees(c.text, c.syntax, true, c.open);
  }
}

TEST(Parse, NoToolsNoCalls) {
  const std::string text =
      "<think>why</think>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
  EXPECT_EQ(
      parse(text, ToolSyntax::kHermes, false),
      (Flat{"<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>", "why", {}}));
  expect_stream_agrees(text, ToolSyntax::kHermes, false);
  // Without markup the text is kept as written, whitespace included.
  for (const char* plain : {"plain text\n", " In the beginning", "\n\n", "a  \n b "})
    EXPECT_EQ(parse(plain, ToolSyntax::kGeneric, false), (Flat{plain, "", {}}));
  EXPECT_EQ(parse(" \n<think> x </think>\n\n y", ToolSyntax::kHermes, false), (Flat{"y", "x", {}}));
}

TEST(Parse, MalformedCallsStayContent) {
  const std::vector<std::pair<ToolSyntax, std::string>> bad = {
      {ToolSyntax::kHermes, "<tool_call>{\"name\": \"x\", \"arguments\": [1]}</tool_call>"},
      {ToolSyntax::kHermes, "<tool_call>{\"name\": \"\", \"arguments\": {}}</tool_call>"},
      {ToolSyntax::kHermes, "<tool_call>{\"name\": \"x\", \"arguments\": {}</tool_call>"},
      {ToolSyntax::kHermes, "<tool_call>[]</tool_call>"},
      {ToolSyntax::kHermes, "<tool_call>f<arg_key>a</arg_key>1</tool_call>"},
      {ToolSyntax::kHermes, "<tool_call>two words</tool_call>"},
      {ToolSyntax::kHermes,
       "<tool_call>{\"name\": \"x\", \"arguments\": \"{not json\"}</tool_call>"},
      {ToolSyntax::kLlama3, "{\"name\": \"x\", \"parameters\": {\"a\": }"},
      {ToolSyntax::kLlama3, "<|python_tag|>brave_search.call(query=\"x\")"},
      {ToolSyntax::kMistral, "[TOOL_CALLS][{\"name\": 3}]"},
      {ToolSyntax::kMistral, "[TOOL_CALLS]f[ARGS][1]"},
      {ToolSyntax::kMistral, "[TOOL_CALLS]f[ARGS]{\"a\": 1"},
      {ToolSyntax::kFunctionTag,
       "<tool_call>\n<function=f>\n<parameter=a>\n1\n</function>\n</tool_call>"},
      {ToolSyntax::kFunctionTag, "<function=bad name>{}</function>"},
      {ToolSyntax::kGeneric, "{\"name\": \"x\"}"},
      {ToolSyntax::kGeneric, "{\"tool_calls\": []}"},
  };
  for (const auto& [syntax, text] : bad) {
    SCOPED_TRACE(text);
    EXPECT_EQ(parse(text, syntax), (Flat{text, "", {}}));
    expect_stream_agrees(text, syntax);
  }
}

TEST(Stream, CallsComeOutWholeAndContentEarly) {
  ReplyStream s(ToolSyntax::kHermes, true, false);
  auto e = s.feed("Hello <tool");
  ASSERT_EQ(e.size(), 1u);  // "Hello" is certain; " <tool" may start a call
  EXPECT_EQ(e[0].text, "Hello");
  EXPECT_TRUE(s.feed("_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n").empty());
  e = s.feed("</tool_call>");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, ReplyStream::Event::Kind::kToolCall);
  EXPECT_EQ(e[0].call.name, "get_time");
  EXPECT_TRUE(s.finish().empty());

  ReplyStream t(ToolSyntax::kHermes, true, true);
  e = t.feed("Let me th");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, ReplyStream::Event::Kind::kThinking);
  EXPECT_EQ(e[0].text, "Let me th");
  e = t.feed("ink</th");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].text, "ink");
  e = t.feed("ink>Answer");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, ReplyStream::Event::Kind::kContent);
  EXPECT_EQ(e[0].text, "Answer");
}

// --- robustness -----------------------------------------------------------------

TEST(Robust, RandomBytesAndMarkup) {
  const std::vector<std::string> atoms = {"<tool_call>",
                                          "</tool_call>",
                                          "<think>",
                                          "</think>",
                                          "[TOOL_CALLS]",
                                          "[ARGS]",
                                          "[CALL_ID]",
                                          "<|python_tag|>",
                                          "<function=",
                                          "</function>",
                                          "<parameter=",
                                          "</parameter>",
                                          "functools",
                                          "<TOOLCALL>",
                                          "{",
                                          "}",
                                          "[",
                                          "]",
                                          "\"",
                                          "\\",
                                          ":",
                                          ",",
                                          ";",
                                          "\"name\"",
                                          "\"arguments\"",
                                          "\"parameters\"",
                                          "get_time",
                                          " ",
                                          "\n",
                                          ">",
                                          "<",
                                          "[THINK]",
                                          "[/THINK]",
                                          "{}"};
  std::mt19937 rng(7);
  const auto start = std::chrono::steady_clock::now();
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (rng() % 5 == 0)
        text += static_cast<char>(rng() % 256);
      else
        text += atoms[rng() % atoms.size()];
    }
    for (ToolSyntax s : {ToolSyntax::kHermes, ToolSyntax::kLlama3, ToolSyntax::kMistral,
                         ToolSyntax::kGeneric, ToolSyntax::kFunctionTag}) {
      const bool open = rng() % 4 == 0;
      const Flat whole = parse(text, s, true, open);
      std::vector<size_t> cuts;
      for (size_t i = 1; i < text.size(); ++i)
        if (rng() % 3 == 0) cuts.push_back(i);
      ASSERT_EQ(streamed(text, s, true, open, cuts), whole) << to_string(s) << ": " << text;
      // Nothing is lost or invented: without calls or reasoning, every byte is content.
      if (whole.calls.empty() && whole.thinking.empty() && !open &&
          text.find("<think>") == std::string::npos && text.find("[THINK]") == std::string::npos) {
        EXPECT_EQ(whole.content, text);
      }
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

// A megabyte of nesting, in every syntax, whole and streamed in small pieces:
// no recursion, linear time, every byte comes back as content.
TEST(Robust, DeepNestingIsBounded) {
  const size_t n = 1u << 20;
  const std::vector<std::pair<ToolSyntax, std::string>> prefixes = {
      {ToolSyntax::kHermes, "<tool_call>"},
      {ToolSyntax::kLlama3, ""},
      {ToolSyntax::kLlama3, "<|python_tag|>"},
      {ToolSyntax::kMistral, "[TOOL_CALLS]"},
      {ToolSyntax::kMistral, "[TOOL_CALLS]f[ARGS]"},
      {ToolSyntax::kGeneric, ""},
      {ToolSyntax::kFunctionTag, "<tool_call><function=f>"}};
  const auto start = std::chrono::steady_clock::now();
  for (const auto& [syntax, prefix] : prefixes) {
    for (const char* unit : {"[", "{\"a\":"}) {
      std::string text = prefix;
      while (text.size() < n) text += unit;
      SCOPED_TRACE(prefix + unit);
      const ParsedReply r = parse_reply(text, syntax, true, false);
      EXPECT_TRUE(r.calls.empty());
      EXPECT_EQ(r.content.size(), text.size());
      ReplyStream s(syntax, true, false);
      size_t got = 0;
      for (size_t at = 0; at < text.size(); at += 4096)
        for (const auto& e : s.feed(std::string_view(text).substr(at, 4096))) got += e.text.size();
      for (const auto& e : s.finish()) got += e.text.size();
      EXPECT_EQ(got, text.size());
    }
  }
  // Balanced but too deep for a call: content too, and quickly.
  std::string deep = "<tool_call>{\"name\": \"f\", \"arguments\": ";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}</tool_call>";
  EXPECT_EQ(parse(deep, ToolSyntax::kHermes), (Flat{deep, "", {}}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(Robust, ByteByByteIsLinear) {
  std::string text = "<think>";
  while (text.size() < (256u << 10)) text += "thinking <t </thin ";
  text += "</think>";
  while (text.size() < (512u << 10)) text += "content <tool_ca [TOOL_C ";
  const auto start = std::chrono::steady_clock::now();
  for (ToolSyntax s : {ToolSyntax::kHermes, ToolSyntax::kMistral, ToolSyntax::kGeneric}) {
    ReplyStream stream(s, true, false);
    size_t got = 0;
    for (char c : text)
      for (const auto& e : stream.feed(std::string_view(&c, 1))) got += e.text.size();
    for (const auto& e : stream.finish()) got += e.text.size();
    EXPECT_GT(got, text.size() - 64);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

// --- forced calls -------------------------------------------------------------------

TEST(Forced, SchemaShapes) {
  const ForcedCall any = forced_call(ToolSyntax::kHermes, weather_tools(), "", false);
  EXPECT_EQ(any.prompt_suffix, "<tool_call>\n");
  ASSERT_TRUE(any.schema.contains("anyOf"));
  ASSERT_EQ(any.schema["anyOf"].size(), 2u);
  const ojson& w = any.schema["anyOf"][0];
  EXPECT_EQ(w["properties"].begin().key(), "name");  // name first, then arguments
  EXPECT_EQ(w["properties"]["name"], (ojson{{"const", "get_weather"}}));
  EXPECT_EQ(w["properties"]["arguments"], weather_tools()[0].parameters);
  EXPECT_EQ(w["additionalProperties"], false);

  const ForcedCall named = forced_call(ToolSyntax::kLlama3, weather_tools(), "get_time", false);
  EXPECT_EQ(named.prompt_suffix, "");
  EXPECT_EQ(named.schema["properties"]["name"]["const"], "get_time");
  EXPECT_TRUE(named.schema["properties"].contains("parameters"));

  const ForcedCall mistral = forced_call(ToolSyntax::kMistral, weather_tools(), "", true);
  EXPECT_EQ(mistral.prompt_suffix, "[TOOL_CALLS]");
  EXPECT_EQ(mistral.schema["type"], "array");
  EXPECT_EQ(mistral.schema["minItems"], 1);
  EXPECT_GT(mistral.schema["maxItems"].get<int>(), 1);
  EXPECT_EQ(forced_call(ToolSyntax::kMistral, weather_tools(), "", false).schema["maxItems"], 1);

  const ForcedCall no_params =
      forced_call(ToolSyntax::kGeneric, {{"ping", "", nullptr}}, "", false);
  EXPECT_EQ(no_params.schema["properties"]["arguments"],
            (ojson{{"type", "object"}, {"additionalProperties", true}}));

  EXPECT_THROW(forced_call(ToolSyntax::kHermes, weather_tools(), "nope", false),
               std::invalid_argument);
  EXPECT_THROW(forced_call(ToolSyntax::kHermes, {}, "", false), std::invalid_argument);
}

TEST(Forced, ParseBack) {
  EXPECT_EQ(
      flat({"", "",
            parse_forced(R"({"name": "get_weather", "arguments": {"city": "Paris", "days": 3}})",
                         ToolSyntax::kHermes)}),
      (Flat{"", "", {kWeather}}));
  EXPECT_EQ(flat({"", "",
                  parse_forced(R"({"name":"get_weather","parameters":{"city":"Paris","days":3}})",
                               ToolSyntax::kLlama3)}),
            (Flat{"", "", {kWeather}}));
  EXPECT_EQ(flat({"", "",
                  parse_forced(
                      R"([{"name":"get_time","arguments":{}},{"name":"get_time","arguments":{}}])",
                      ToolSyntax::kMistral)}),
            (Flat{"", "", {"get_time {}", "get_time {}"}}));
  EXPECT_TRUE(parse_forced("{\"name\": ", ToolSyntax::kGeneric).empty());
}

}  // namespace
}  // namespace hearth::chat
