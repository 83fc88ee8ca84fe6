// The reply parser (chat/tool_calls.h) on arbitrary model output: no crash, no
// hang, and streaming in arbitrary pieces gives exactly what parsing the whole
// reply gives. The first byte picks the syntax and the flags, the second the
// piece size; the rest is the reply.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/tool_calls.h"

using hearth::chat::ReplyStream;
using hearth::chat::ToolSyntax;

namespace {
// Joins consecutive events of a kind, as parse_reply reports them.
struct Joined {
  std::string content, thinking;
  std::string calls;  // name and arguments of each call, in order
  void add(const ReplyStream::Event& e) {
    switch (e.kind) {
      case ReplyStream::Event::Kind::kContent:
        content += e.text;
        break;
      case ReplyStream::Event::Kind::kThinking:
        thinking += e.text;
        break;
      case ReplyStream::Event::Kind::kToolCall:
        calls += e.call.name + '\x1f' + e.call.arguments.dump() + '\x1e';
        break;
    }
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const ToolSyntax syntax = static_cast<ToolSyntax>(data[0] % 5);
  const bool tools = data[0] & 0x08, thinking_open = data[0] & 0x10;
  const size_t piece = 1 + data[1] % 16;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  const auto whole = hearth::chat::parse_reply(text, syntax, tools, thinking_open);
  Joined streamed;
  ReplyStream rs(syntax, tools, thinking_open);
  for (size_t at = 0; at < text.size(); at += piece)
    for (const auto& e : rs.feed(text.substr(at, piece))) streamed.add(e);
  for (const auto& e : rs.finish()) streamed.add(e);

  std::string calls;
  for (const auto& c : whole.calls) calls += c.name + '\x1f' + c.arguments.dump() + '\x1e';
  if (streamed.content != whole.content || streamed.thinking != whole.thinking ||
      streamed.calls != calls)
    std::abort();  // the stream and the whole reply disagree
  return 0;
}
