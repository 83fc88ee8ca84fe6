// OpenAI's wire types: the requests of /v1/chat/completions, /v1/completions,
// /v1/responses and /v1/embeddings read into hearth's neutral InferenceRequest
// and EmbedSpec, and the response objects and stream chunks built back. Every
// parser throws HttpError 400 naming the field (OpenAI's error.param) on a
// wrong type or an out-of-range value; unknown fields are ignored, as
// OpenAI-compatible servers do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/inference.h"
#include "server/server_impl.h"

namespace hearth::server::openai {

using Json = nlohmann::ordered_json;

// A 400 naming the field at fault.
struct FieldError : HttpError {
  FieldError(std::string field, const std::string& message) : HttpError(400, message) {
    param = std::move(field);
  }
};

struct ChatRequest {
  InferenceRequest inference;
  bool include_usage = false;  // stream_options.include_usage
};
ChatRequest parse_chat_request(const Json& body);

struct CompletionRequest {
  InferenceRequest inference;
  bool include_usage = false;
  bool echo = false;  // the prompt is repeated before each choice's text
};
CompletionRequest parse_completion_request(const Json& body);

// /v1/responses, stateless: previous_response_id is refused (hearth stores nothing).
struct ResponsesRequest {
  InferenceRequest inference;
};
ResponsesRequest parse_responses_request(const Json& body);

struct EmbeddingsRequest {
  EmbedSpec spec;
  bool base64 = false;  // encoding_format "base64": little-endian float32 bytes
};
EmbeddingsRequest parse_embeddings_request(const Json& body);

// ------------------------------------------------------------- responses

// "chatcmpl-", "cmpl-", "resp_" ... followed by 24 random [a-zA-Z0-9].
std::string new_id(std::string_view prefix);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};
Json usage_json(const Usage& u);

// choices[].logprobs: {"content": [{token, logprob, bytes, top_logprobs}]} of
// the entries a stream has not sent (unsent_logprobs), or null.
Json logprobs_json(const Choice& c);

// A whole chat completion.
Json chat_completion(const std::string& id, int64_t created, const std::string& model,
                     const Outcome& o);
// One stream chunk with a delta for choice `index` (finish_reason null or given).
Json chat_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                Json delta, const Json& finish_reason = nullptr, const Json& logprobs = nullptr);
// The last chunk of a stream asked for with include_usage: no choices, the usage.
Json usage_chunk(const std::string& id, int64_t created, const std::string& model,
                 const std::string& object, const Usage& u);
// A tool call as OpenAI writes it: {id, type: "function", function: {name, arguments: "<json>"}};
// streamed deltas add "index".
Json tool_call_json(const chat::ToolCall& c);

Json completion(const std::string& id, int64_t created, const std::string& model, const Outcome& o,
                const std::string& echo_prefix);
// A streamed piece; the last chunk of a choice carries its finish_reason and,
// when asked for, all its logprobs (as the chat stream's last chunk does).
Json completion_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                      const std::string& text, const Json& finish_reason = nullptr,
                      const Json& logprobs = nullptr);
// Log-probability entries (logprob_entries) in a completion's legacy shape
// ({tokens, token_logprobs, top_logprobs}); null for null.
Json completion_logprobs(const Json& entries);

// /v1/responses: the output items of a finished response.
Json response_output(const Outcome& o, const std::string& msg_id);
// `parallel_tool_calls`: the request's (true unless it said false), echoed.
Json response_object(const std::string& id, int64_t created, const std::string& model,
                     const std::string& status, const Json& output, const Usage& u,
                     bool parallel_tool_calls);

Json embeddings_response(const std::string& model, const Embedded& e, bool base64);
// A model for /v1/models: OpenAI's {id, object, created, owned_by} and
// Anthropic's {type, id, display_name, created_at} at once (both SDKs list
// models on this route; each ignores the other's fields). `created`: seconds
// since the epoch.
Json model_object(const std::string& id, int64_t created);
// The list of `data`: OpenAI's {object, data} and Anthropic's page
// {data, first_id, last_id, has_more}.
Json models_list(Json data);

}  // namespace hearth::server::openai
