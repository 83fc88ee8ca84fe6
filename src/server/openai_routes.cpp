// OpenAI's API over the shared inference path: /v1/chat/completions,
// /v1/completions, /v1/responses (stateless), /v1/embeddings, /v1/models.
// Streams are Server-Sent Events ending in `data: [DONE]` (the Responses API:
// typed events ending in response.completed). Wire shapes: openai_types.h.
#include <fmt/format.h>

#include <chrono>

#include "server/inference.h"
#include "server/json_body.h"
#include "server/openai_types.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using openai::Json;
using Kind = chat::ReplyStream::Event::Kind;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Headers stream_headers(int64_t queue, bool cache_hit) {
  Headers h = {{"Cache-Control", "no-cache"}, {"X-Hearth-Queue-Position", std::to_string(queue)}};
  if (cache_hit) h.emplace_back("X-Hearth-Cache", "hit");
  return h;
}

openai::Usage usage_of(const Outcome& o) {
  openai::Usage u;
  u.prompt_tokens = o.prompt_tokens;
  for (const auto& c : o.choices)
    u.completion_tokens += static_cast<int64_t>(c.result.tokens.size());
  return u;
}

Json stream_error(const std::string& message) {
  return Json{
      {"error",
       {{"message", message}, {"type", "server_error"}, {"param", nullptr}, {"code", nullptr}}}};
}

// /v1/chat/completions and /v1/completions.
class ChatSink : public InferenceSink {
 public:
  ChatSink(std::shared_ptr<Exchange> ex, std::string model, bool chat, bool stream, int n,
           bool include_usage, std::string echo)
      : ex_(std::move(ex)),
        model_(std::move(model)),
        id_(openai::new_id(chat ? "chatcmpl-" : "cmpl-")),
        created_(unix_now()),
        chat_(chat),
        stream_(stream),
        include_usage_(include_usage),
        echo_(std::move(echo)),
        calls_(static_cast<size_t>(n), 0) {}

  void begin(int64_t queue, bool cache_hit, int64_t) override {
    ex_->begin_stream(200, kSse, stream_headers(queue, cache_hit));
    for (int i = 0; i < static_cast<int>(calls_.size()); ++i) {
      if (chat_)
        send(openai::chat_chunk(id_, created_, model_, i,
                                Json{{"role", "assistant"}, {"content", ""}}));
      else if (!echo_.empty())
        send(openai::completion_chunk(id_, created_, model_, i, echo_));
    }
  }
  void event(int index, const chat::ReplyStream::Event& e, const Json& logprobs) override {
    if (!chat_) {
      if (e.kind == Kind::kContent)
        send(openai::completion_chunk(id_, created_, model_, index, e.text, nullptr,
                                      openai::completion_logprobs(logprobs)));
      return;
    }
    Json delta = Json::object();
    if (e.kind == Kind::kContent) delta["content"] = e.text;
    if (e.kind == Kind::kThinking) delta["reasoning_content"] = e.text;
    if (e.kind == Kind::kToolCall) {
      Json call = openai::tool_call_json(e.call);
      Json indexed = Json::object();
      indexed["index"] = calls_[static_cast<size_t>(index)]++;
      for (auto it = call.begin(); it != call.end(); ++it) indexed[it.key()] = it.value();
      delta["tool_calls"] = Json::array({std::move(indexed)});
    }
    send(openai::chat_chunk(id_, created_, model_, index, std::move(delta), nullptr,
                            logprobs.is_null() ? Json(nullptr) : Json{{"content", logprobs}}));
  }
  void done(Outcome& o) override {
    if (!stream_) {
      const Json body = chat_ ? openai::chat_completion(id_, created_, model_, o)
                              : openai::completion(id_, created_, model_, o, echo_);
      Headers h;
      if (o.cache_hit) h.emplace_back("X-Hearth-Cache", "hit");
      ex_->respond(200, kJson, dump_json(body), std::move(h));
      return;
    }
    for (const auto& c : o.choices) {
      // The entries no piece carried (a stop string's tokens, held-back markup).
      Json rest = unsent_logprobs(c);
      if (rest.is_array() && rest.empty()) rest = nullptr;
      if (chat_)
        send(openai::chat_chunk(id_, created_, model_, c.index, Json::object(), c.finish_reason,
                                rest.is_null() ? Json(nullptr) : Json{{"content", rest}}));
      else
        send(openai::completion_chunk(id_, created_, model_, c.index, "", c.result.done_reason,
                                      openai::completion_logprobs(rest)));
    }
    if (include_usage_)
      send(openai::usage_chunk(id_, created_, model_,
                               chat_ ? "chat.completion.chunk" : "text_completion", usage_of(o)));
    ex_->write("data: [DONE]\n\n");
    ex_->end_stream();
  }
  void failed(const std::string& message) override {
    if (!stream_) {
      send_error(*ex_, 500, message);
      return;
    }
    send(stream_error(message));
    ex_->end_stream();
  }

 private:
  void send(const Json& j) { ex_->write("data: " + dump_json(j) + "\n\n"); }

  std::shared_ptr<Exchange> ex_;
  std::string model_, id_;
  int64_t created_;
  bool chat_, stream_, include_usage_;
  std::string echo_;
  std::vector<int64_t> calls_;  // per choice: tool calls streamed so far
};

// /v1/responses: typed events, items opened and closed in output order.
class ResponsesSink : public InferenceSink {
 public:
  ResponsesSink(std::shared_ptr<Exchange> ex, std::string model, bool stream, bool parallel)
      : ex_(std::move(ex)),
        model_(std::move(model)),
        id_(openai::new_id("resp_")),
        msg_id_(openai::new_id("msg_")),
        created_(unix_now()),
        stream_(stream),
        parallel_(parallel) {}

  void begin(int64_t queue, bool cache_hit, int64_t) override {
    ex_->begin_stream(200, kSse, stream_headers(queue, cache_hit));
    const Json r =
        openai::response_object(id_, created_, model_, "in_progress", Json::array(), {}, parallel_);
    send("response.created", Json{{"response", r}});
    send("response.in_progress", Json{{"response", r}});
  }
  void event(int, const chat::ReplyStream::Event& e, const Json&) override {
    if (e.kind == Kind::kThinking) {
      thinking_ += e.text;
      return;
    }
    flush_thinking();
    if (e.kind == Kind::kContent) {
      open_message();
      text_ += e.text;
      send("response.output_text.delta", Json{{"item_id", msg_id_},
                                              {"output_index", msg_index_},
                                              {"content_index", 0},
                                              {"delta", e.text},
                                              {"logprobs", Json::array()}});
      return;
    }
    close_message();
    Json item = Json::object();
    item["type"] = "function_call";
    item["id"] = "fc_" + e.call.id.substr(e.call.id.find('_') + 1);
    item["call_id"] = e.call.id;
    item["name"] = e.call.name;
    item["arguments"] = "";
    item["status"] = "in_progress";
    const int64_t index = static_cast<int64_t>(output_.size());
    send("response.output_item.added", Json{{"output_index", index}, {"item", item}});
    const std::string args = e.call.arguments.dump();
    send("response.function_call_arguments.delta",
         Json{{"item_id", item["id"]}, {"output_index", index}, {"delta", args}});
    send("response.function_call_arguments.done",
         Json{{"item_id", item["id"]}, {"output_index", index}, {"arguments", args}});
    item["arguments"] = args;
    item["status"] = "completed";
    send("response.output_item.done", Json{{"output_index", index}, {"item", item}});
    output_.push_back(std::move(item));
  }
  void done(Outcome& o) override {
    const auto& c = o.choices[0];
    const std::string status = c.result.done_reason == "length" ? "incomplete" : "completed";
    if (!stream_) {
      const Json body =
          openai::response_object(id_, created_, model_, status,
                                  openai::response_output(o, msg_id_), usage_of(o), parallel_);
      ex_->respond(200, kJson, dump_json(body), {});
      return;
    }
    flush_thinking();
    if (output_.empty() && !message_open_) open_message();  // an empty answer is an empty message
    close_message();
    send(status == "completed" ? "response.completed" : "response.incomplete",
         Json{{"response", openai::response_object(id_, created_, model_, status, output_,
                                                   usage_of(o), parallel_)}});
    ex_->end_stream();
  }
  void failed(const std::string& message) override {
    if (!stream_) {
      send_error(*ex_, 500, message);
      return;
    }
    send("error", Json{{"code", "server_error"}, {"message", message}, {"param", nullptr}});
    ex_->end_stream();
  }

 private:
  void send(const char* type, Json data) {
    Json j = Json::object();
    j["type"] = type;
    j["sequence_number"] = seq_++;
    for (auto it = data.begin(); it != data.end(); ++it) j[it.key()] = it.value();
    ex_->write(fmt::format("event: {}\ndata: {}\n\n", type, dump_json(j)));
  }
  void flush_thinking() {
    if (thinking_.empty()) return;
    Json item = Json::object();
    item["type"] = "reasoning";
    item["id"] = "rs_" + msg_id_.substr(4);
    item["summary"] = Json::array();
    item["content"] = Json::array({Json{{"type", "reasoning_text"}, {"text", thinking_}}});
    const int64_t index = static_cast<int64_t>(output_.size());
    send("response.output_item.added", Json{{"output_index", index}, {"item", item}});
    send("response.output_item.done", Json{{"output_index", index}, {"item", item}});
    output_.push_back(std::move(item));
    thinking_.clear();
  }
  Json message(const char* status) const {
    Json part = Json::object();
    part["type"] = "output_text";
    part["text"] = text_;
    part["annotations"] = Json::array();
    part["logprobs"] = Json::array();
    Json m = Json::object();
    m["type"] = "message";
    m["id"] = msg_id_;
    m["status"] = status;
    m["role"] = "assistant";
    m["content"] = Json::array({std::move(part)});
    return m;
  }
  void open_message() {
    if (message_open_ || message_done_) return;
    message_open_ = true;
    msg_index_ = static_cast<int64_t>(output_.size());
    Json m = message("in_progress");
    m["content"] = Json::array();
    send("response.output_item.added", Json{{"output_index", msg_index_}, {"item", m}});
    send("response.content_part.added",
         Json{{"item_id", msg_id_},
              {"output_index", msg_index_},
              {"content_index", 0},
              {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}}}});
  }
  void close_message() {
    if (!message_open_) return;
    message_open_ = false;
    message_done_ = true;
    Json m = message("completed");
    send("response.output_text.done", Json{{"item_id", msg_id_},
                                           {"output_index", msg_index_},
                                           {"content_index", 0},
                                           {"text", text_},
                                           {"logprobs", Json::array()}});
    send("response.content_part.done", Json{{"item_id", msg_id_},
                                            {"output_index", msg_index_},
                                            {"content_index", 0},
                                            {"part", m["content"][0]}});
    send("response.output_item.done", Json{{"output_index", msg_index_}, {"item", m}});
    output_.push_back(std::move(m));
  }

  std::shared_ptr<Exchange> ex_;
  std::string model_, id_, msg_id_;
  int64_t created_;
  bool stream_;
  bool parallel_;  // the request's parallel_tool_calls, echoed in the response object
  int64_t seq_ = 0;
  Json output_ = Json::array();
  std::string thinking_, text_;
  bool message_open_ = false, message_done_ = false;
  int64_t msg_index_ = 0;
};

}  // namespace

bool Server::Impl::openai(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  const auto& m = req.method;
  if (!p.starts_with("/v1/") || p.starts_with("/v1/messages")) return false;
  auto post_only = [&] {
    if (m != "POST") throw method_not_allowed("POST");
  };

  if (p == "/v1/models") {
    if (m != "GET") throw method_not_allowed("GET");
    Json data = Json::array();
    for (const auto& e : store.list())
      data.push_back(openai::model_object(e.name, e.modified_ns / 1'000'000'000));
    send_json(ex, 200, openai::models_list(std::move(data)));
    return true;
  }
  if (p.starts_with("/v1/models/")) {
    if (m != "GET") throw method_not_allowed("GET");
    const std::string id = p.substr(std::string("/v1/models/").size());
    const ResolvedModel rm = resolve(id);
    int64_t modified = 0;
    for (const auto& e : store.list())
      if (e.name == rm.name) modified = e.modified_ns / 1'000'000'000;
    send_json(ex, 200, openai::model_object(id, modified));
    return true;
  }
  if (p == "/v1/chat/completions") {
    post_only();
    auto r = openai::parse_chat_request(parse_json_body(req.body));
    auto& ir = r.inference;
    auto sink =
        std::make_shared<ChatSink>(exp, ir.model, true, ir.stream, ir.n, r.include_usage, "");
    infer(exp, std::move(ir), sink);
    return true;
  }
  if (p == "/v1/completions") {
    post_only();
    auto r = openai::parse_completion_request(parse_json_body(req.body));
    auto& ir = r.inference;
    auto sink = std::make_shared<ChatSink>(exp, ir.model, false, ir.stream, ir.n, r.include_usage,
                                           r.echo ? ir.prompt.prompt : "");
    infer(exp, std::move(ir), sink);
    return true;
  }
  if (p == "/v1/responses") {
    post_only();
    auto r = openai::parse_responses_request(parse_json_body(req.body));
    auto& ir = r.inference;
    auto sink = std::make_shared<ResponsesSink>(exp, ir.model, ir.stream, ir.parallel_tool_calls);
    infer(exp, std::move(ir), sink);
    return true;
  }
  if (p.starts_with("/v1/responses/"))
    throw HttpError(404, "hearth stores no responses: /v1/responses is stateless");
  if (p == "/v1/embeddings") {
    post_only();
    auto r = openai::parse_embeddings_request(parse_json_body(req.body));
    const Embedded e = embed_inputs(r.spec, ex);
    if (ex.disconnected()) return true;
    send_json(ex, 200, openai::embeddings_response(r.spec.model, e, r.base64));
    return true;
  }
  throw HttpError(404, fmt::format("unknown endpoint {} {}", m, p));
}

}  // namespace hearth::server
