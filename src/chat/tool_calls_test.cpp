// Tool calls and reasoning in replies, against the real templates of
// tests/data/templates/golden.json: the calls a template renders parse back to
// the same name and arguments, streaming at any split gives parse_reply's
// result, hostile replies stay bounded, and forced calls' schemas.
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "chat/tool_test_data.h"

namespace hearth::chat {
namespace {

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
      // Bytes that are not UTF-8 (an overlong form, a surrogate, past U+10FFFF)
      // could not be written out as a JSON string: such a call stays content.
      {ToolSyntax::kFunctionTag,
       "<tool_call>\n<function=f>\n<parameter=a>\n0\xC1\xB7\n</parameter>\n</function>\n</"
       "tool_call>"},
      {ToolSyntax::kFunctionTag,
       "<tool_call>\n<function=f>\n<parameter=\xED\xA0\x80>\n1\n</parameter>\n</function>\n</"
       "tool_call>"},
      {ToolSyntax::kHermes,
       "<tool_call>f<arg_key>a</arg_key><arg_value>\xF5\x80\x80\x80</arg_value></tool_call>"},
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

// Pydantic and zod write nested models as "$defs" and "$ref": within the
// call's schema the references point where the parameters now sit.
TEST(Forced, ReferencesWithinParametersPointWhereTheyAreMoved) {
  const ojson params = ojson::parse(R"({"type": "object",
      "$defs": {"P": {"type": "integer"}},
      "properties": {"p": {"$ref": "#/$defs/P"}, "q": {"const": {"$ref": "#/x"}},
                     "r": {"anyOf": [{"$ref": "#"}, {"$ref": "https://x/y"}]}}})");
  std::vector<Tool> tools = {{"f", "", params}};
  auto one = forced_call(ToolSyntax::kHermes, tools, "", false).schema;
  const auto& a = one["properties"]["arguments"]["properties"];
  EXPECT_EQ(a["p"]["$ref"], "#/properties/arguments/$defs/P");
  EXPECT_EQ(a["q"]["const"]["$ref"], "#/x");  // data, not a schema
  EXPECT_EQ(a["r"]["anyOf"][0]["$ref"], "#/properties/arguments");
  EXPECT_EQ(a["r"]["anyOf"][1]["$ref"], "https://x/y");
  tools.push_back({"g", "", params});
  auto two = forced_call(ToolSyntax::kMistral, tools, "", true).schema;
  EXPECT_EQ(two["items"]["anyOf"][1]["properties"]["arguments"]["properties"]["p"]["$ref"],
            "#/items/anyOf/1/properties/arguments/$defs/P");
  // A root "$ref" gets "type": "object" beside it, which its target inherits
  // (json_constraint.h): the arguments are an object whatever it says.
  tools = {{"h", "", ojson::parse(R"({"$ref": "#/$defs/A", "$defs": {"A": {"type": "object"}}})")}};
  auto root = forced_call(ToolSyntax::kLlama3, tools, "", false).schema;
  EXPECT_EQ(root["properties"]["parameters"]["type"], "object");
  EXPECT_EQ(root["properties"]["parameters"]["$ref"], "#/properties/parameters/$defs/A");
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
