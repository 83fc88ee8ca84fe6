// Ollama's wire contract: requests as docs/api.md's examples send them, the
// type errors a client gets back, keep_alive's forms, option merging, and the
// key order and formats of every response.
#include "server/ollama_types.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "server/go_format.h"

namespace hearth::server::ollama {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Json body(std::string_view text) { return parse_body(text); }

// The message of the WireError that `f` throws, and its status.
template <typename F>
std::pair<std::string, int> error_of(F&& f) {
  try {
    f();
  } catch (const WireError& e) {
    return {e.what(), e.status};
  }
  ADD_FAILURE() << "no WireError thrown";
  return {"", 0};
}

std::vector<std::string> keys(const Json& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items()) out.push_back(k);
  return out;
}

// 2023-08-04T19:22:45.499127Z, docs/api.md's timestamp.
Clock::time_point doc_time() {
  using namespace std::chrono;
  return sys_days{2023y / August / 4} + 19h + 22min + 45s + microseconds(499127);
}

// ---------------------------------------------------------------- bodies

TEST(Body, EmptyIsMissing) {
  EXPECT_EQ(error_of([] { parse_body(""); }).first, "missing request body");
  EXPECT_EQ(error_of([] { parse_body(" \n"); }).first, "missing request body");
}

TEST(Body, MalformedAndNonObjectsAre400) {
  EXPECT_EQ(error_of([] { parse_body("{\"model\":"); }).second, 400);
  EXPECT_THAT(error_of([] { parse_body("[1]"); }).first, HasSubstr("got array"));
}

TEST(Body, KeepsKeyOrder) {
  EXPECT_THAT(keys(body(R"({"z":1,"a":2,"m":3})")), ElementsAre("z", "a", "m"));
}

// ---------------------------------------------------------------- generate

TEST(GenerateRequest, DocsStreamingExample) {
  const auto r =
      parse_generate_request(body(R"({"model": "llama3.2", "prompt": "Why is the sky blue?"})"));
  EXPECT_EQ(r.model, "llama3.2");
  EXPECT_EQ(r.prompt, "Why is the sky blue?");
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.raw);
  EXPECT_EQ(r.format.kind, Format::Kind::kNone);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_FALSE(r.think);
  EXPECT_EQ(r.options, Options{});
}

TEST(GenerateRequest, DocsSuffixExample) {
  const auto r = parse_generate_request(body(R"({
    "model": "codellama:code", "prompt": "def compute_gcd(a, b):",
    "suffix": "    return result", "options": {"temperature": 0}, "stream": false})"));
  EXPECT_EQ(r.suffix, "    return result");
  EXPECT_EQ(r.options.temperature, 0.0f);
  EXPECT_FALSE(r.stream);
}

TEST(GenerateRequest, DocsStructuredOutputKeepsSchemaOrder) {
  const auto r = parse_generate_request(body(R"({
    "model": "llama3.1:8b", "prompt": "Ollama is 22 years old", "stream": false,
    "format": {"type": "object",
               "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
               "required": ["age", "available"]}})"));
  ASSERT_EQ(r.format.kind, Format::Kind::kSchema);
  EXPECT_THAT(keys(r.format.schema["properties"]), ElementsAre("age", "available"));
}

TEST(GenerateRequest, FormatForms) {
  auto kind = [](std::string_view f) {
    return parse_generate_request(body(fmt::format(R"({{"model":"m","format":{}}})", f)))
        .format.kind;
  };
  EXPECT_EQ(kind(R"("json")"), Format::Kind::kJson);
  EXPECT_EQ(kind(R"("")"), Format::Kind::kNone);
  EXPECT_EQ(kind("null"), Format::Kind::kNone);
  EXPECT_EQ(kind("{}"), Format::Kind::kSchema);
  EXPECT_THAT(error_of([&] { kind(R"("xml")"); }).first,
              HasSubstr(R"(invalid format: "xml"; expected "json" or a valid JSON Schema object)"));
  EXPECT_THAT(error_of([&] { kind("[1]"); }).first, HasSubstr("invalid format: [1]"));
}

TEST(GenerateRequest, DocsRawAndContext) {
  const auto r = parse_generate_request(body(R"({
    "model": "mistral", "prompt": "[INST] why is the sky blue? [/INST]", "raw": true,
    "stream": false, "context": [1, 2, 3], "system": "s", "template": "t"})"));
  EXPECT_TRUE(r.raw);
  EXPECT_THAT(r.context, ElementsAre(1, 2, 3));
  EXPECT_EQ(r.system, "s");
  EXPECT_EQ(r.template_, "t");
}

TEST(GenerateRequest, DocsEveryOption) {
  const auto r = parse_generate_request(body(R"({
    "model": "llama3.2", "prompt": "Why is the sky blue?", "stream": false,
    "options": {"num_keep": 5, "seed": 42, "num_predict": 100, "draft_num_predict": 4,
      "top_k": 20, "top_p": 0.9, "min_p": 0.0, "typical_p": 0.7, "repeat_last_n": 33,
      "temperature": 0.8, "repeat_penalty": 1.2, "presence_penalty": 1.5,
      "frequency_penalty": 1.0, "penalize_newline": true, "stop": ["\n", "user:"],
      "numa": false, "num_ctx": 1024, "num_batch": 2, "num_gpu": 1, "main_gpu": 0,
      "use_mmap": true, "num_thread": 8}})"));
  const Options& o = r.options;
  EXPECT_EQ(o.num_keep, 5);
  EXPECT_EQ(o.seed, 42);
  EXPECT_EQ(o.num_predict, 100);
  EXPECT_EQ(o.draft_num_predict, 4);
  EXPECT_EQ(o.top_k, 20);
  EXPECT_EQ(o.top_p, 0.9f);
  EXPECT_EQ(o.min_p, 0.0f);
  EXPECT_EQ(o.typical_p, 0.7f);
  EXPECT_EQ(o.repeat_last_n, 33);
  EXPECT_EQ(o.temperature, 0.8f);
  EXPECT_EQ(o.repeat_penalty, 1.2f);
  EXPECT_EQ(o.presence_penalty, 1.5f);
  EXPECT_EQ(o.frequency_penalty, 1.0f);
  EXPECT_EQ(o.stop, (std::vector<std::string>{"\n", "user:"}));
  EXPECT_EQ(o.num_ctx, 1024);
  EXPECT_EQ(o.num_batch, 2);
  EXPECT_EQ(o.num_gpu, 1);
  EXPECT_EQ(o.main_gpu, 0);
  EXPECT_EQ(o.use_mmap, true);
  EXPECT_EQ(o.num_thread, 8);
  // penalize_newline and numa are options Ollama removed: ignored, not "unknown".
  EXPECT_TRUE(r.unknown_options.empty());
}

TEST(GenerateRequest, LoadAndUnloadForms) {
  const auto load = parse_generate_request(body(R"({"model": "llama3.2"})"));
  EXPECT_TRUE(load.prompt.empty());
  EXPECT_FALSE(load.keep_alive);
  const auto unload = parse_generate_request(body(R"({"model": "llama3.2", "keep_alive": 0})"));
  ASSERT_TRUE(unload.keep_alive);
  EXPECT_TRUE(unload.keep_alive->unloads_now());
}

TEST(GenerateRequest, NullFieldsAreAbsent) {
  const auto r = parse_generate_request(body(
      R"({"model":"m","prompt":null,"stream":null,"options":null,"keep_alive":null,"think":null})"));
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_FALSE(r.think);
}

TEST(GenerateRequest, UnknownFieldsAreIgnored) {
  EXPECT_NO_THROW(parse_generate_request(body(R"({"model":"m","whatever":[1,{}]})")));
}

TEST(GenerateRequest, ModelIsRequired) {
  EXPECT_EQ(error_of([] { parse_generate_request(body(R"({"prompt":"x"})")); }),
            std::make_pair(std::string("model is required"), 400));
  EXPECT_EQ(error_of([] { parse_generate_request(body(R"({"model":"  "})")); }).first,
            "model is required");
}

TEST(GenerateRequest, TypeErrorsNameTheField) {
  auto err = [](std::string_view b) { return error_of([&] { parse_generate_request(body(b)); }); };
  EXPECT_EQ(err(R"({"model": 7})").first, R"(field "model" must be a string, got number)");
  EXPECT_EQ(err(R"({"model":"m","prompt":["a"]})").first,
            R"(field "prompt" must be a string, got array)");
  EXPECT_EQ(err(R"({"model":"m","suffix":1})").first,
            R"(field "suffix" must be a string, got number)");
  EXPECT_EQ(err(R"({"model":"m","system":{}})").first,
            R"(field "system" must be a string, got object)");
  EXPECT_EQ(err(R"({"model":"m","template":true})").first,
            R"(field "template" must be a string, got boolean)");
  EXPECT_EQ(err(R"({"model":"m","stream":"no"})").first,
            R"(field "stream" must be a boolean, got string)");
  EXPECT_EQ(err(R"({"model":"m","raw":1})").first, R"(field "raw" must be a boolean, got number)");
  EXPECT_EQ(err(R"({"model":"m","context":"1,2"})").first,
            R"(field "context" must be an array, got string)");
  EXPECT_EQ(err(R"({"model":"m","context":[1,2.5]})").first,
            R"(field "context[1]" must be an integer, got number)");
  EXPECT_EQ(err(R"({"model":"m","context":[1,"2"]})").first,
            R"(field "context[1]" must be an integer, got string)");
  EXPECT_THAT(err(R"({"model":"m","context":[4294967296]})").first, HasSubstr("context[0]"));
  EXPECT_EQ(err(R"({"model":"m","options":[]})").first, "options must be an object, got array");
  EXPECT_EQ(err(R"({"model":"m","images":"abc"})").first,
            R"(field "images" must be an array, got string)");
  EXPECT_EQ(err(R"({"model":"m","images":[1]})").first,
            R"(field "images[0]" must be a base64 string, got number)");
  EXPECT_EQ(err(R"({"model":"m","truncate":"yes"})").first,
            R"(field "truncate" must be a boolean, got string)");
  EXPECT_EQ(err(R"({"model":"m","top_logprobs":21})").first,
            "top_logprobs must be between 0 and 20");
  for (const auto& [b, e] : std::vector<std::pair<std::string, std::string>>{
           {R"({"model":"m","prompt":1})", "prompt"}, {R"({"model":"m","raw":"x"})", "raw"}})
    EXPECT_EQ(err(b).second, 400) << e;
}

TEST(GenerateRequest, ImagesAreRefused) {
  EXPECT_NO_THROW(parse_generate_request(body(R"({"model":"tiny-kjv","images":[]})")));
  const auto [message, status] = error_of(
      [] { parse_generate_request(body(R"({"model":"tiny-kjv","images":["iVBORw0KGgo="]})")); });
  EXPECT_EQ(status, 400);
  EXPECT_THAT(message, HasSubstr(R"("tiny-kjv" does not support images)"));
}

TEST(GenerateRequest, ThinkForms) {
  auto think = [](std::string_view v) {
    return parse_generate_request(body(fmt::format(R"({{"model":"m","think":{}}})", v))).think;
  };
  EXPECT_EQ(think("true")->enabled, true);
  EXPECT_EQ(think("false")->enabled, false);
  EXPECT_EQ(think(R"("high")")->level, "high");
  EXPECT_EQ(think(R"("max")")->enabled, true);
  EXPECT_THAT(error_of([&] { think(R"("extreme")"); }).first,
              HasSubstr(R"(invalid think value: "extreme")"));
  EXPECT_THAT(error_of([&] { think("1"); }).first,
              HasSubstr("think must be a boolean or a string"));
}

// ---------------------------------------------------------------- chat

TEST(ChatRequest, DocsHistoryExample) {
  const auto r = parse_chat_request(body(R"({
    "model": "llama3.2",
    "messages": [
      {"role": "user", "content": "why is the sky blue?"},
      {"role": "assistant", "content": "due to rayleigh scattering."},
      {"role": "User", "content": "how is that different than mie scattering?"}]})"));
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1].role, "assistant");
  EXPECT_EQ(r.messages[2].role, "user");  // lower-cased, as Ollama does
  EXPECT_EQ(r.messages[2].content, "how is that different than mie scattering?");
  EXPECT_TRUE(r.stream);
}

TEST(ChatRequest, DocsToolsExample) {
  const auto r = parse_chat_request(body(R"({
    "model": "llama3.2",
    "messages": [
      {"role": "user", "content": "What is the weather today in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_current_weather",
        "arguments": {"location": "Paris, FR", "format": "celsius"}}}]},
      {"role": "tool", "content": "22", "tool_name": "get_current_weather"}],
    "stream": false,
    "tools": [{"type": "function", "function": {"name": "get_current_weather",
      "description": "Get the current weather for a location",
      "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                     "required": ["location"]}}}]})"));
  ASSERT_EQ(r.messages.size(), 3u);
  ASSERT_EQ(r.messages[1].tool_calls.size(), 1u);
  const ToolCall& call = r.messages[1].tool_calls[0];
  EXPECT_EQ(call.name, "get_current_weather");
  EXPECT_EQ(call.index, 0);
  EXPECT_THAT(keys(call.arguments), ElementsAre("location", "format"));
  EXPECT_EQ(r.messages[2].tool_name, "get_current_weather");
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0]["function"]["name"], "get_current_weather");
}

TEST(ChatRequest, LoadFormHasNoMessages) {
  const auto r =
      parse_chat_request(body(R"({"model": "llama3.2", "messages": [], "keep_alive": 0})"));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.keep_alive->unloads_now());
}

TEST(ChatRequest, TypeErrorsNameTheField) {
  auto err = [](std::string_view b) {
    return error_of([&] { parse_chat_request(body(b)); }).first;
  };
  EXPECT_EQ(err(R"({"messages":[]})"), "model is required");
  EXPECT_EQ(err(R"({"model":"m","messages":{}})"),
            R"(field "messages" must be an array, got object)");
  EXPECT_EQ(err(R"({"model":"m","messages":["hi"]})"),
            R"(field "messages[0]" must be an object, got string)");
  EXPECT_EQ(err(R"({"model":"m","messages":[{"role":"user","content":5}]})"),
            R"(field "messages[0].content" must be a string, got number)");
  EXPECT_EQ(err(R"({"model":"m","messages":[{"role":1}]})"),
            R"(field "messages[0].role" must be a string, got number)");
  EXPECT_EQ(err(R"({"model":"m","messages":[{"role":"assistant","tool_calls":{}}]})"),
            R"(field "messages[0].tool_calls" must be an array, got object)");
  EXPECT_EQ(
      err(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"x"}}]}]})"),
      R"(field "messages[0].tool_calls[0].function.arguments" must be an object, got string)");
  EXPECT_EQ(err(R"({"model":"m","tools":{}})"), R"(field "tools" must be an array, got object)");
  EXPECT_EQ(err(R"({"model":"m","tools":[1]})"),
            R"(field "tools[0]" must be an object, got number)");
  EXPECT_THAT(err(R"({"model":"m","messages":[{"role":"user","content":"x","images":["aGk="]}]})"),
              HasSubstr(R"("m" does not support images)"));
  EXPECT_EQ(err(R"({"model":"m","options":{"temperature":"hot"}})"),
            R"(option "temperature" must be a number, got string)");
}

// ---------------------------------------------------------------- embed

TEST(EmbedRequest, DocsExamples) {
  const auto one =
      parse_embed_request(body(R"({"model": "all-minilm", "input": "Why is the sky blue?"})"));
  EXPECT_THAT(one.input, ElementsAre("Why is the sky blue?"));
  EXPECT_TRUE(one.truncate);
  EXPECT_FALSE(one.dimensions);
  const auto two = parse_embed_request(body(
      R"({"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"],
          "truncate": false, "dimensions": 16})"));
  EXPECT_EQ(two.input.size(), 2u);
  EXPECT_FALSE(two.truncate);
  EXPECT_EQ(two.dimensions, 16);
}

TEST(EmbedRequest, EmptyInputs) {
  EXPECT_TRUE(parse_embed_request(body(R"({"model":"m","input":""})")).input.empty());
  EXPECT_TRUE(parse_embed_request(body(R"({"model":"m"})")).input.empty());
  EXPECT_FALSE(parse_embed_request(body(R"({"model":"m","dimensions":0})")).dimensions);
}

TEST(EmbedRequest, TypeErrors) {
  auto err = [](std::string_view b) {
    return error_of([&] { parse_embed_request(body(b)); }).first;
  };
  EXPECT_THAT(err(R"({"model":"m","input":5})"), HasSubstr("invalid input type"));
  EXPECT_THAT(err(R"({"model":"m","input":["a",1]})"), HasSubstr("input[1]"));
  EXPECT_EQ(err(R"({"model":"m","truncate":0})"),
            R"(field "truncate" must be a boolean, got number)");
  EXPECT_EQ(err(R"({"model":"m","dimensions":"8"})"),
            R"(field "dimensions" must be an integer, got string)");
}

TEST(EmbeddingsRequest, DocsExample) {
  const auto r = parse_embeddings_request(
      body(R"({"model": "all-minilm", "prompt": "Here is an article about llamas..."})"));
  EXPECT_EQ(r.prompt, "Here is an article about llamas...");
  EXPECT_EQ(error_of([] { parse_embeddings_request(body(R"({"model":"m","prompt":[]})")); }).first,
            R"(field "prompt" must be a string, got array)");
}

// ---------------------------------------------------------------- model management

TEST(ShowRequest, ModelOrDeprecatedName) {
  EXPECT_EQ(parse_show_request(body(R"({"model": "llava"})")).model, "llava");
  EXPECT_EQ(parse_show_request(body(R"({"name": "llava", "verbose": true})")).model, "llava");
  EXPECT_TRUE(parse_show_request(body(R"({"name": "llava", "verbose": true})")).verbose);
  EXPECT_EQ(error_of([] { parse_show_request(body("{}")); }).first, "model is required");
  EXPECT_EQ(error_of([] { parse_show_request(body(R"({"model":"m","verbose":"yes"})")); }).first,
            R"(field "verbose" must be a boolean, got string)");
}

TEST(CopyRequest, DocsExample) {
  const auto r =
      parse_copy_request(body(R"({"source": "llama3.2", "destination": "llama3-backup"})"));
  EXPECT_EQ(r.source, "llama3.2");
  EXPECT_EQ(r.destination, "llama3-backup");
  EXPECT_EQ(error_of([] { parse_copy_request(body(R"({"destination":"x"})")); }).first,
            R"(source "" is invalid)");
  EXPECT_EQ(error_of([] { parse_copy_request(body(R"({"source":"x"})")); }).first,
            R"(destination "" is invalid)");
}

TEST(DeleteRequest, ModelOrName) {
  EXPECT_EQ(parse_delete_request(body(R"({"model": "llama3:13b"})")).model, "llama3:13b");
  EXPECT_EQ(parse_delete_request(body(R"({"name": "llama3:13b"})")).model,
            "llama3:13b");  // ollama-js
  EXPECT_EQ(error_of([] { parse_delete_request(body("{}")); }).first, "model is required");
}

TEST(CreateRequest, DocsExamples) {
  const auto mario = parse_create_request(body(
      R"({"model": "mario", "from": "llama3.2", "system": "You are Mario from Super Mario Bros."})"));
  EXPECT_EQ(mario.model, "mario");
  EXPECT_EQ(mario.from, "llama3.2");
  EXPECT_EQ(mario.system, "You are Mario from Super Mario Bros.");
  EXPECT_FALSE(mario.template_);
  EXPECT_TRUE(mario.stream);

  const auto gguf = parse_create_request(body(R"({"model": "my-gguf-model", "files": {
    "test.gguf": "sha256:432f310a77f4650a88d0fd59ecdd7cebed8d684bafea53cbff0473542964f0c3"}})"));
  ASSERT_EQ(gguf.files.size(), 1u);
  EXPECT_EQ(gguf.files[0].first, "test.gguf");

  const auto full =
      parse_create_request(body(R"({"name": "x", "from": "y", "license": ["MIT", "BSD"],
    "template": "{{ .Prompt }}", "parameters": {"temperature": 0.5, "stop": ["a"]},
    "messages": [{"role": "user", "content": "hi"}], "quantization": "q8_0", "stream": false})"));
  EXPECT_EQ(full.model, "x");
  EXPECT_THAT(*full.license, ElementsAre("MIT", "BSD"));
  EXPECT_EQ(full.template_, "{{ .Prompt }}");
  EXPECT_THAT(keys(full.parameters), ElementsAre("temperature", "stop"));
  EXPECT_EQ(full.messages.size(), 1u);
  EXPECT_EQ(full.quantize, "q8_0");
  EXPECT_FALSE(full.stream);
  EXPECT_THAT(*parse_create_request(body(R"({"model":"x","license":"MIT"})")).license,
              ElementsAre("MIT"));
}

TEST(CreateRequest, Errors) {
  auto err = [](std::string_view b) {
    return error_of([&] { parse_create_request(body(b)); }).first;
  };
  EXPECT_EQ(err(R"({"from":"y"})"), "model is required");
  EXPECT_EQ(err(R"({"model":"x","license":3})"),
            R"(field "license" must be a string or an array of strings, got number)");
  EXPECT_EQ(err(R"({"model":"x","parameters":{"temperature":"hot"}})"),
            R"(parameter "temperature" must be a number, got string)");
  EXPECT_EQ(err(R"({"model":"x","parameters":[]})"),
            R"(field "parameters" must be an object, got array)");
  EXPECT_EQ(err(R"({"model":"x","files":{"a.gguf":1}})"),
            R"(field "files.a.gguf" must be a digest string, got number)");
  EXPECT_THAT(err(R"({"model":"x","files":{"../a.gguf":"sha256:00"}})"),
              HasSubstr("file path must be relative"));
  EXPECT_THAT(err(R"({"model":"x","files":{"/a.gguf":"sha256:00"}})"),
              HasSubstr("file path must be relative"));
  EXPECT_THAT(err(R"({"model":"x","adapters":{"a.gguf":""}})"), HasSubstr("invalid digest format"));
}

TEST(PullPushRequest, ParsedToBeRefused) {
  const auto pull = parse_pull_request(body(R"({"name": "llama3.2", "stream": false})"));
  EXPECT_EQ(pull.model, "llama3.2");
  EXPECT_FALSE(pull.stream);
  EXPECT_EQ(parse_push_request(body(R"({"model": "mattw/pygmalion:latest"})")).model,
            "mattw/pygmalion:latest");
  const WireError e = registry_refusal("pull", pull.model);
  EXPECT_EQ(e.status, 501);
  EXPECT_THAT(e.what(), HasSubstr(R"(cannot pull "llama3.2")"));
}

// ---------------------------------------------------------------- keep_alive

TEST(KeepAlive, GoDurations) {
  EXPECT_EQ(parse_go_duration("5m"), minutes(5));
  EXPECT_EQ(parse_go_duration("1h30m"), hours(1) + minutes(30));
  EXPECT_EQ(parse_go_duration("300ms"), milliseconds(300));
  EXPECT_EQ(parse_go_duration("-1s"), seconds(-1));
  EXPECT_EQ(parse_go_duration("0"), Nanos::zero());
  EXPECT_EQ(parse_go_duration("+0"), Nanos::zero());
  EXPECT_EQ(parse_go_duration("1.5h"), minutes(90));
  EXPECT_EQ(parse_go_duration(".5s"), milliseconds(500));
  EXPECT_EQ(parse_go_duration("1us"), Nanos(1000));
  EXPECT_EQ(parse_go_duration("1\xC2\xB5s"), Nanos(1000));  // µ (micro sign)
  EXPECT_EQ(parse_go_duration("1\xCE\xBCs"), Nanos(1000));  // μ (Greek mu)
  EXPECT_EQ(parse_go_duration("2h45m30.5s"), hours(2) + minutes(45) + milliseconds(30500));
  EXPECT_EQ(parse_go_duration("2562047h47m16.854775807s"), Nanos::max());
  EXPECT_EQ(parse_go_duration("-2562047h47m16.854775808s"), Nanos::min());
}

TEST(KeepAlive, BadGoDurations) {
  for (const char* bad : {"", "5", "m", "5x", "1.s.", ".s", "-", "5m-", "1h 30m",
                          "9223372036854775808ns", "2562048h"}) {
    const auto [message, status] = error_of([&] { parse_go_duration(bad); });
    EXPECT_EQ(status, 400) << bad;
    EXPECT_THAT(message, HasSubstr("keep_alive")) << bad;
  }
  EXPECT_THAT(error_of([] { parse_go_duration("5x"); }).first, HasSubstr(R"(unknown unit "x")"));
  EXPECT_THAT(error_of([] { parse_go_duration("5"); }).first, HasSubstr("missing unit"));
}

TEST(KeepAlive, WireForms) {
  EXPECT_EQ(parse_keep_alive(Json("5m")), KeepAlive::after(minutes(5)));
  EXPECT_EQ(parse_keep_alive(Json(300)), KeepAlive::after(minutes(5)));
  EXPECT_EQ(parse_keep_alive(Json(1.5)), KeepAlive::after(milliseconds(1500)));
  EXPECT_TRUE(parse_keep_alive(Json(0)).unloads_now());
  EXPECT_TRUE(parse_keep_alive(Json("0s")).unloads_now());
  EXPECT_TRUE(parse_keep_alive(Json(-1)).is_forever());
  EXPECT_TRUE(parse_keep_alive(Json("-1s")).is_forever());
  EXPECT_TRUE(parse_keep_alive(Json("-5m")).is_forever());
  EXPECT_TRUE(parse_keep_alive(Json(1e300)).is_forever());
  EXPECT_FALSE(parse_keep_alive(Json("5m")).is_forever());
  EXPECT_EQ(KeepAlive::forever().duration(), Nanos::max());
  EXPECT_THAT(error_of([] { parse_keep_alive(Json(true)); }).first,
              HasSubstr("keep_alive must be a duration string"));
  EXPECT_THAT(error_of([] { parse_keep_alive(Json::array()); }).first, HasSubstr("got array"));
  EXPECT_THAT(
      error_of([] { parse_generate_request(body(R"({"model":"m","keep_alive":"soon"})")); }).first,
      HasSubstr(R"(invalid keep_alive "soon")"));
}

// ---------------------------------------------------------------- options

TEST(Options, NumbersCrossIntegerAndFloat) {
  // Ollama decodes every JSON number as float64: an integer option takes 8.9 as 8,
  // a float option takes 1 as 1.0.
  const auto p = parse_options(Json::parse(R"({"num_predict": 8.9, "top_k": -3.7, "temperature": 1,
                                               "seed": 18446744073709551})"));
  EXPECT_EQ(p.options.num_predict, 8);
  EXPECT_EQ(p.options.top_k, -3);
  EXPECT_EQ(p.options.temperature, 1.0f);
  EXPECT_EQ(p.options.seed, 18446744073709551);
}

TEST(Options, WrongTypesNameTheOption) {
  auto err = [](std::string_view o) {
    return error_of([&] { parse_options(Json::parse(o)); }).first;
  };
  EXPECT_EQ(err(R"({"temperature": "0.5"})"),
            R"(option "temperature" must be a number, got string)");
  EXPECT_EQ(err(R"({"top_p": true})"), R"(option "top_p" must be a number, got boolean)");
  EXPECT_EQ(err(R"({"num_predict": "8"})"),
            R"(option "num_predict" must be an integer, got string)");
  EXPECT_EQ(err(R"({"num_ctx": [1]})"), R"(option "num_ctx" must be an integer, got array)");
  EXPECT_EQ(err(R"({"use_mmap": 1})"), R"(option "use_mmap" must be a boolean, got number)");
  EXPECT_EQ(err(R"({"stop": "\n"})"), R"(option "stop" must be an array of strings, got string)");
  EXPECT_EQ(err(R"({"stop": ["a", 1]})"),
            R"(option "stop" must be an array of strings, got an array holding a number)");
  EXPECT_THAT(err(R"({"seed": 1e30})"), HasSubstr(R"(option "seed" is out of range)"));
  EXPECT_THAT(err(R"({"seed": 18446744073709551615})"), HasSubstr("out of range"));
  EXPECT_EQ(err("[]"), "options must be an object, got array");
}

TEST(Options, RemovedAreIgnoredUnknownAreListed) {
  const auto p = parse_options(Json::parse(
      R"({"mirostat": 2, "mirostat_tau": "x", "tfs_z": 1, "low_vram": true, "f16_kv": true,
          "vocab_only": false, "use_mlock": true, "numa": false, "logits_all": false,
          "embedding_only": false, "rope_frequency_base": 1e4, "rope_frequency_scale": 1,
          "num_gqa": 8, "penalize_newline": true, "mirostat_eta": 0.1,
          "colour": "blue", "temprature": 0.1, "top_k": null})"));
  EXPECT_THAT(p.unknown, ElementsAre("colour", "temprature"));
  EXPECT_EQ(p.options, Options{});  // a null option stays unset
}

TEST(Options, ModelParametersAreDefaults) {
  const auto model =
      parse_options(Json::parse(R"({"temperature": 0.2, "stop": ["a", "b"], "num_ctx": 512})"),
                    "parameter")
          .options;
  const auto request = parse_options(Json::parse(R"({"temperature": 0.9, "stop": ["c"]})")).options;
  const Options merged = merge_options(model, request);
  EXPECT_EQ(merged.temperature, 0.9f);
  EXPECT_EQ(merged.stop, std::vector<std::string>{"c"});  // replaced, not appended
  EXPECT_EQ(merged.num_ctx, 512);
  EXPECT_FALSE(merged.seed);
  EXPECT_EQ(merge_options(model, Options{}), model);
}

TEST(Options, RoundTripThroughJson) {
  const Json in = Json::parse(R"({"num_keep": 4, "top_p": 0.5, "stop": ["x"], "use_mmap": false,
                                  "num_thread": 2})");
  const Options o = parse_options(in).options;
  const Json out = to_json(o);
  EXPECT_THAT(keys(out), ElementsAre("num_keep", "top_p", "stop", "use_mmap", "num_thread"));
  EXPECT_EQ(parse_options(out).options, o);
}

// ---------------------------------------------------------------- responses

const std::regex kCreatedAt(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)");

TEST(Responses, Rfc3339Nano) {
  using namespace std::chrono;
  EXPECT_EQ(rfc3339_nano(doc_time()), "2023-08-04T19:22:45.499127Z");
  EXPECT_EQ(rfc3339_nano(sys_days{2024y / January / 1}), "2024-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339_nano(sys_days{2024y / February / 29} + 23h + 59min + 59s + nanoseconds(1)),
            "2024-02-29T23:59:59.000000001Z");
  EXPECT_EQ(rfc3339_nano(Clock::time_point::max()), "2262-04-11T23:47:16.854775807Z");
  EXPECT_TRUE(std::regex_match(rfc3339_nano(Clock::now()), kCreatedAt));
}

TEST(Responses, GenerateChunkAndFinal) {
  const Json chunk = generate_chunk("llama3.2", doc_time(), "The");
  EXPECT_EQ(
      chunk.dump(),
      R"({"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","response":"The","done":false})");

  const std::vector<int32_t> context = {1, 2, 3};
  const GenerateStats stats{Nanos(10706818083), Nanos(6338219291), 26, Nanos(130079000), 259,
                            Nanos(4232710000)};
  const Json last = generate_final("llama3.2", doc_time(), "", "stop", context, stats);
  EXPECT_THAT(keys(last),
              ElementsAre("model", "created_at", "response", "done", "done_reason", "context",
                          "total_duration", "load_duration", "prompt_eval_count",
                          "prompt_eval_duration", "eval_count", "eval_duration"));
  EXPECT_EQ(last["total_duration"], 10706818083);
  EXPECT_TRUE(last["eval_duration"].is_number_integer());
  EXPECT_EQ(last["context"], Json::parse("[1,2,3]"));
  EXPECT_FALSE(generate_final("m", doc_time(), "x", "length", {}, {}).contains("context"));
}

TEST(Responses, GenerateLoadAndUnload) {
  EXPECT_EQ(
      generate_load("llama3.2", doc_time(), "unload").dump(),
      R"({"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","response":"","done":true,"done_reason":"unload"})");
}

TEST(Responses, ChatChunkFinalAndLoad) {
  EXPECT_EQ(
      chat_chunk("llama3.2", doc_time(), "The").dump(),
      R"({"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":"The"},"done":false})");
  Message m;
  m.role = "assistant";
  m.tool_calls.push_back({.id = "",
                          .index = 0,
                          .name = "get_weather",
                          .arguments = Json::parse(R"({"city": "Paris", "unit": "c"})")});
  const Json last = chat_final("llama3.2", doc_time(), m, "stop", GenerateStats{});
  EXPECT_THAT(keys(last), ElementsAre("model", "created_at", "message", "done", "done_reason",
                                      "total_duration", "load_duration", "prompt_eval_count",
                                      "prompt_eval_duration", "eval_count", "eval_duration"));
  EXPECT_EQ(
      last["message"].dump(),
      R"({"role":"assistant","content":"","tool_calls":[{"function":{"index":0,"name":"get_weather","arguments":{"city":"Paris","unit":"c"}}}]})");
  EXPECT_EQ(chat_load("m", doc_time(), "load")["message"].dump(),
            R"({"role":"assistant","content":""})");
  EXPECT_THAT(keys(chat_load("m", doc_time(), "load")),
              ElementsAre("model", "created_at", "message", "done", "done_reason"));
}

TEST(Responses, EmbedWritesFloat32Shortest) {
  const std::vector<std::vector<float>> e = {{0.010071029f, -0.0017594862f}, {1.0f, 0.5f}};
  const Json j = embed_response("all-minilm", e, EmbedStats{Nanos(14143917), Nanos(1019500), 8});
  EXPECT_EQ(
      j.dump(),
      R"({"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862],[1.0,0.5]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8})");
  // What a client reads back is the same float32.
  EXPECT_EQ(Json::parse(j.dump())["embeddings"][0][0].get<float>(), 0.010071029f);
}

TEST(Responses, LegacyEmbeddingWidensToDouble) {
  const std::vector<float> e = {0.5f, 0.1f};
  const Json j = embeddings_response(e);
  EXPECT_THAT(keys(j), ElementsAre("embedding"));
  EXPECT_EQ(j["embedding"][1].get<double>(), static_cast<double>(0.1f));
}

ModelDetails llama_details() {
  return {.parent_model = "",
          .format = "gguf",
          .family = "llama",
          .families = {"llama"},
          .parameter_size = "3.2B",
          .quantization_level = "Q4_K_M"};
}

TEST(Responses, Tags) {
  const std::vector<LocalModel> models = {{.name = "llama3.2:latest",
                                           .modified_at = doc_time(),
                                           .size = 2019393189,
                                           .digest = "a80c4f17",
                                           .details = llama_details()}};
  const Json j = tags_response(models);
  ASSERT_EQ(j["models"].size(), 1u);
  const Json& m = j["models"][0];
  EXPECT_THAT(keys(m), ElementsAre("name", "model", "modified_at", "size", "digest", "details"));
  EXPECT_EQ(m["model"], "llama3.2:latest");
  EXPECT_EQ(m["size"], 2019393189);
  EXPECT_THAT(keys(m["details"]), ElementsAre("parent_model", "format", "family", "families",
                                              "parameter_size", "quantization_level"));
  EXPECT_EQ(tags_response({}).dump(), R"({"models":[]})");
}

TEST(Responses, PsWithHearthQueue) {
  std::vector<RunningModel> models(2);
  models[0] = {.name = "tiny-kjv:latest",
               .size = 5137025024,
               .digest = "2ae6f6dd",
               .details = llama_details(),
               .expires_at = doc_time(),
               .size_vram = 0,
               .context_length = 2048,
               .queue = {.active = 1, .waiting = 3}};
  models[1].name = "forever:latest";
  const Json j = ps_response(models);
  const Json& m = j["models"][0];
  EXPECT_THAT(keys(m), ElementsAre("name", "model", "size", "digest", "details", "expires_at",
                                   "size_vram", "context_length", "queue"));
  EXPECT_EQ(m["expires_at"], "2023-08-04T19:22:45.499127Z");
  EXPECT_EQ(m["queue"].dump(), R"({"active":1,"waiting":3})");
  EXPECT_EQ(j["models"][1]["expires_at"], "2262-04-11T23:47:16.854775807Z");
}

TEST(Responses, ShowOmitsEmptyStrings) {
  ModelInfo info;
  info.parameters = format_parameters(Json::parse(R"({"stop": ["[INST]"]})"));
  info.template_ = "{{ .Prompt }}";
  info.details = llama_details();
  info.model_info =
      Json::parse(R"({"general.architecture": "llama", "llama.context_length": 2048})");
  info.capabilities = {"completion"};
  info.modified_at = doc_time();
  const Json j = show_response(info);
  EXPECT_THAT(keys(j), ElementsAre("parameters", "template", "details", "model_info",
                                   "capabilities", "modified_at"));
  EXPECT_EQ(j["parameters"], R"(stop                           "[INST]")");
  EXPECT_THAT(keys(j["model_info"]), ElementsAre("general.architecture", "llama.context_length"));

  info.license = "MIT";
  info.modelfile = "FROM x\n";
  info.system = "Be brief.";
  info.messages.resize(1);
  info.messages[0].role = "user";
  info.messages[0].content = "hi";
  info.tensors = {{.name = "token_embd.weight", .type = "Q4_0", .shape = {2048, 32000}}};
  const Json full = show_response(info);
  EXPECT_THAT(keys(full),
              ElementsAre("license", "modelfile", "parameters", "template", "system", "details",
                          "messages", "model_info", "tensors", "capabilities", "modified_at"));
  EXPECT_EQ(full["tensors"][0]["shape"], Json::parse("[2048, 32000]"));
}

TEST(Responses, ParametersAsOllamaPrintsThem) {
  const Json params = Json::parse(R"({
    "num_keep": 24, "stop": ["<|start_header_id|>", "<|eot_id|>"], "temperature": 0.7,
    "top_p": 1.0, "num_ctx": 1e6, "min_p": 0.00001, "repeat_penalty": 123456.5,
    "use_mmap": false, "system_hint": "say \"hi\"\n\ttab"})");
  EXPECT_EQ(format_parameters(params),
            "num_keep                       24\n"
            "stop                           \"<|start_header_id|>\"\n"
            "stop                           \"<|eot_id|>\"\n"
            "temperature                    0.7\n"
            "top_p                          1\n"
            "num_ctx                        1e+06\n"
            "min_p                          1e-05\n"
            "repeat_penalty                 123456.5\n"
            "use_mmap                       false\n"
            "system_hint                    \"say \\\"hi\\\"\\n\\ttab\"");
  EXPECT_EQ(format_parameters(Json::object()), "");
}

TEST(Responses, SmallBodies) {
  EXPECT_EQ(version_response("0.1.0").dump(), R"({"version":"0.1.0"})");
  EXPECT_EQ(error_response(R"(model 'x' not found)").dump(), R"({"error":"model 'x' not found"})");
  EXPECT_EQ(progress_response("success").dump(), R"({"status":"success"})");
  EXPECT_EQ(progress_response("pulling", "sha256:ab", 100, 5).dump(),
            R"({"status":"pulling","digest":"sha256:ab","total":100,"completed":5})");
}

TEST(RoundTrip, GenerateFinalReadsBack) {
  const Json sent = generate_final("m", Clock::now(), "hello", "length", std::vector<int32_t>{5, 6},
                                   GenerateStats{Nanos(3), Nanos(1), 2, Nanos(1), 1, Nanos(1)});
  const Json read = Json::parse(sent.dump());
  EXPECT_EQ(read, sent);
  EXPECT_TRUE(std::regex_match(read["created_at"].get<std::string>(), kCreatedAt));
  // What a client sends back as `context` parses as the next request's context.
  Json next = Json::object();
  next["model"] = "m";
  next["context"] = read["context"];
  EXPECT_THAT(parse_generate_request(next).context, ElementsAre(5, 6));
}

TEST(RoundTrip, ChatMessageFromResponseIsAValidRequestMessage) {
  Message m;
  m.role = "assistant";
  m.content = "ok";
  m.thinking = "hmm";
  m.tool_calls.push_back({.id = "call_1", .index = 2, .name = "f", .arguments = Json::object()});
  Json req = Json::object();
  req["model"] = "m";
  req["messages"] = Json::array({to_json(m)});
  const auto back = parse_chat_request(req).messages.at(0);
  EXPECT_EQ(back.content, "ok");
  EXPECT_EQ(back.thinking, "hmm");
  ASSERT_EQ(back.tool_calls.size(), 1u);
  EXPECT_EQ(back.tool_calls[0].id, "call_1");
  EXPECT_EQ(back.tool_calls[0].index, 2);
}

}  // namespace
}  // namespace hearth::server::ollama
