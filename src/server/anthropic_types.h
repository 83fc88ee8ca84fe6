// Anthropic's Messages API wire types: POST /v1/messages and
// /v1/messages/count_tokens read into hearth's neutral InferenceRequest, and
// the message object and stream events built back. Parsers throw HttpError
// 400 naming the field; unknown fields are ignored.
#pragma once

#include <cstdint>
#include <string>

#include "server/inference.h"
#include "server/server_impl.h"

namespace hearth::server::anthropic {

using Json = nlohmann::ordered_json;

// POST /v1/messages (`count_only`: /v1/messages/count_tokens, where max_tokens
// is not required).
InferenceRequest parse_messages_request(const Json& body, bool count_only = false);

// "msg_" / "toolu_" followed by 24 random characters.
std::string new_id(std::string_view prefix);

// end_turn, max_tokens, stop_sequence, tool_use.
std::string stop_reason(const Choice& c);
// The stop sequence that ended the reply when stop_reason says so, else null.
Json stop_sequence(const Choice& c);

// The content blocks of a finished reply: thinking, text, tool_use.
Json content_blocks(const Choice& c);

// The message object; `content` and `stop_reason` null while streaming starts.
Json message_object(const std::string& id, const std::string& model, const Json& content,
                    const Json& stop_reason, const Json& stop_sequence, int64_t input_tokens,
                    int64_t output_tokens);

}  // namespace hearth::server::anthropic
