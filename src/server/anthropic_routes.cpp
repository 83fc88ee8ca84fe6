// Anthropic's Messages API over the shared inference path: POST /v1/messages
// (streamed as message_start, content_block_start/delta/stop, message_delta,
// message_stop) and POST /v1/messages/count_tokens. Wire shapes:
// anthropic_types.h.
#include <fmt/format.h>

#include "server/anthropic_types.h"
#include "server/inference.h"
#include "server/json_body.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using anthropic::Json;
using Kind = chat::ReplyStream::Event::Kind;

class MessagesSink : public InferenceSink {
 public:
  MessagesSink(std::shared_ptr<Exchange> ex, std::string model, bool stream)
      : ex_(std::move(ex)),
        model_(std::move(model)),
        id_(anthropic::new_id("msg_")),
        stream_(stream) {}

  void begin(int64_t queue, bool cache_hit, int64_t prompt_tokens) override {
    prompt_tokens_ = prompt_tokens;
    Headers h = {{"Cache-Control", "no-cache"}, {"X-Hearth-Queue-Position", std::to_string(queue)}};
    if (cache_hit) h.emplace_back("X-Hearth-Cache", "hit");
    ex_->begin_stream(200, kSse, std::move(h));
    send("message_start",
         Json{{"message", anthropic::message_object(id_, model_, Json::array(), nullptr, nullptr,
                                                    prompt_tokens_, 0)}});
  }
  void event(int, const chat::ReplyStream::Event& e, const Json&) override {
    if (e.kind == Kind::kToolCall) {
      close_block();
      Json block = Json::object();
      block["type"] = "tool_use";
      block["id"] = "toolu_" + e.call.id.substr(e.call.id.find('_') + 1);
      block["name"] = e.call.name;
      block["input"] = Json::object();
      send("content_block_start", Json{{"index", index_}, {"content_block", block}});
      send("content_block_delta",
           Json{{"index", index_},
                {"delta",
                 {{"type", "input_json_delta"}, {"partial_json", e.call.arguments.dump()}}}});
      send("content_block_stop", Json{{"index", index_}});
      ++index_;
      return;
    }
    const bool thinking = e.kind == Kind::kThinking;
    const std::string type = thinking ? "thinking" : "text";
    if (open_ != type) {
      close_block();
      open_ = type;
      send("content_block_start",
           Json{{"index", index_},
                {"content_block",
                 thinking ? Json{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}
                          : Json{{"type", "text"}, {"text", ""}}}});
    }
    send("content_block_delta",
         Json{{"index", index_},
              {"delta", thinking ? Json{{"type", "thinking_delta"}, {"thinking", e.text}}
                                 : Json{{"type", "text_delta"}, {"text", e.text}}}});
  }
  void done(Outcome& o) override {
    const auto& c = o.choices[0];
    const int64_t out_tokens = static_cast<int64_t>(c.result.tokens.size());
    if (!stream_) {
      const Json body = anthropic::message_object(
          id_, model_, anthropic::content_blocks(c), anthropic::stop_reason(c),
          anthropic::stop_sequence(c), o.prompt_tokens, out_tokens);
      Headers h;
      if (o.cache_hit) h.emplace_back("X-Hearth-Cache", "hit");
      ex_->respond(200, "application/json", dump_json(body), std::move(h));
      return;
    }
    if (index_ == 0 && open_.empty()) {  // an empty answer is one empty text block
      open_ = "text";
      send("content_block_start",
           Json{{"index", index_}, {"content_block", Json{{"type", "text"}, {"text", ""}}}});
    }
    close_block();
    send("message_delta", Json{{"delta",
                                {{"stop_reason", anthropic::stop_reason(c)},
                                 {"stop_sequence", anthropic::stop_sequence(c)}}},
                               {"usage", {{"output_tokens", out_tokens}}}});
    send("message_stop", Json::object());
    ex_->end_stream();
  }
  void failed(const std::string& message) override {
    if (!stream_) {
      send_error(*ex_, 500, message);
      return;
    }
    send("error", Json{{"error", {{"type", "api_error"}, {"message", message}}}});
    ex_->end_stream();
  }

 private:
  void send(const char* type, Json data) {
    Json j = Json::object();
    j["type"] = type;
    for (auto it = data.begin(); it != data.end(); ++it) j[it.key()] = it.value();
    ex_->write(fmt::format("event: {}\ndata: {}\n\n", type, dump_json(j)));
  }
  void close_block() {
    if (open_.empty()) return;
    if (open_ == "thinking")
      send("content_block_delta",
           Json{{"index", index_}, {"delta", {{"type", "signature_delta"}, {"signature", ""}}}});
    send("content_block_stop", Json{{"index", index_}});
    open_.clear();
    ++index_;
  }

  std::shared_ptr<Exchange> ex_;
  std::string model_, id_;
  bool stream_;
  int64_t prompt_tokens_ = 0;
  std::string open_;  // the open block's type ("" none)
  int64_t index_ = 0;
};

}  // namespace

bool Server::Impl::anthropic(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  if (p != "/v1/messages" && p != "/v1/messages/count_tokens") {
    if (p.starts_with("/v1/messages/"))
      throw HttpError(404, fmt::format("unknown endpoint {} {}", req.method, p));
    return false;
  }
  if (req.method != "POST") throw method_not_allowed("POST");
  const auto body = parse_json_body(req.body);
  if (p == "/v1/messages/count_tokens") {
    auto r = anthropic::parse_messages_request(body, /*count_only=*/true);
    const int64_t n = count_tokens(std::move(r));
    send_json(ex, 200, Json{{"input_tokens", n}});
    return true;
  }
  auto r = anthropic::parse_messages_request(body);
  auto sink = std::make_shared<MessagesSink>(exp, r.model, r.stream);
  infer(exp, std::move(r), std::move(sink));
  return true;
}

}  // namespace hearth::server
