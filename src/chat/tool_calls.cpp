// Tool calls in replies: the incremental reply parser (one state machine;
// parse_reply is ReplyStream over the whole text, so the two cannot disagree),
// and a forced call read back. What templates teach (syntax detection, the
// tools list and system prompt, call ids) is tool_templates.cpp; the forced
// calls' schemas are forced_calls.cpp.
#include "chat/tool_calls.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>

namespace hearth::chat {

using ojson = nlohmann::ordered_json;

namespace {

constexpr int kMaxJsonDepth = 64;           // nlohmann's parser recurses once per level
constexpr size_t kMaxCallBytes = 1u << 20;  // one call's text; a longer one is content
constexpr size_t kMaxNameBytes = 256;       // a tool or parameter name

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameBytes && std::all_of(s.begin(), s.end(), is_name_char);
}

// Whether `s` can be a JSON string in a reply: well-formed UTF-8 (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF), exactly what
// nlohmann's serializer accepts. A call holding anything else could not be
// written out (dump() throws), so it stays content, which is written with
// replacement characters.
bool valid_utf8(std::string_view s) {
  try {
    (void)ojson(std::string(s)).dump();
    return true;
  } catch (const ojson::type_error&) {
    return false;
  }
}

// Whether `text` is a candidate for nlohmann's parser: bounded in size, its
// brackets balanced (outside strings) and nested at most kMaxJsonDepth deep.
bool bounded_json(std::string_view text) {
  if (text.size() > kMaxCallBytes) return false;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) return false;
    }
  }
  return depth == 0 && !in_string;
}

std::optional<ojson> parse_json(std::string_view text) {
  if (!bounded_json(text)) return std::nullopt;
  ojson j = ojson::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// One call object: {"name", "arguments" | "parameters"} or OpenAI's
// {"type": "function", "function": {...}}. `bare` (JSON with no markup around
// it): the arguments key must be there and nothing else may be, so that a reply
// that merely is JSON stays content.
bool add_call(const ojson& j, bool bare, std::vector<ToolCall>& out) {
  if (!j.is_object()) return false;
  const ojson* f = &j;
  if (auto it = j.find("function"); it != j.end() && it->is_object()) f = &*it;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (bare && it.key() != "name" && it.key() != "arguments" && it.key() != "parameters" &&
        it.key() != "id" && it.key() != "type" && it.key() != "function")
      return false;
  auto name = f->find("name");
  if (name == f->end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    return false;
  auto args = f->find("arguments");
  if (args == f->end()) args = f->find("parameters");
  ToolCall call;
  call.name = name->get<std::string>();
  if (args == f->end() || args->is_null()) {
    if (bare) return false;
  } else if (args->is_object()) {
    call.arguments = *args;
  } else if (args->is_string()) {  // OpenAI's shape: the arguments as a JSON string
    auto parsed = parse_json(args->get_ref<const std::string&>());
    if (!parsed || !parsed->is_object()) return false;
    call.arguments = std::move(*parsed);
  } else {
    return false;
  }
  call.id = new_call_id();
  out.push_back(std::move(call));
  return true;
}

// A call, an array of calls or {"tool_calls": [...]}; all or nothing.
bool json_calls(std::string_view text, bool bare, std::vector<ToolCall>& out) {
  auto j = parse_json(trim(text));
  if (!j) return false;
  const ojson* list = nullptr;
  if (j->is_array()) list = &*j;
  if (auto it = j->find("tool_calls"); j->is_object() && it != j->end() && it->is_array())
    list = &*it;
  std::vector<ToolCall> calls;
  if (list) {
    if (list->empty()) return false;
    for (const ojson& x : *list)
      if (!add_call(x, bare, calls)) return false;
  } else if (!add_call(*j, bare, calls)) {
    return false;
  }
  for (ToolCall& c : calls) out.push_back(std::move(c));
  return true;
}

// A parameter value as Qwen3-Coder's template writes it: JSON for numbers,
// booleans, null, objects and arrays, the bare text for strings.
std::optional<ojson> parameter_value(std::string_view v) {
  if (auto j = parse_json(trim(v)); j && !j->is_string()) return j;
  if (!valid_utf8(v)) return std::nullopt;
  return ojson(std::string(v));
}

// "NAME>" then a JSON object or <parameter=KEY>\nVALUE\n</parameter> blocks.
bool function_call(std::string_view s, std::vector<ToolCall>& out) {
  const size_t gt = s.find('>');
  if (gt == std::string_view::npos || !valid_name(s.substr(0, gt))) return false;
  ToolCall call;
  call.name = std::string(s.substr(0, gt));
  std::string_view inner = trim(s.substr(gt + 1));
  if (!inner.empty() && inner.front() == '{') {
    auto j = parse_json(inner);
    if (!j || !j->is_object()) return false;
    call.arguments = std::move(*j);
  }
  while (!inner.empty() && inner.front() != '{') {
    constexpr std::string_view kOpen = "<parameter=", kClose = "</parameter>";
    if (inner.substr(0, kOpen.size()) != kOpen) return false;
    inner.remove_prefix(kOpen.size());
    const size_t key_end = inner.find('>');
    const size_t end = inner.find(kClose);
    if (key_end == std::string_view::npos || end == std::string_view::npos || key_end > end)
      return false;
    const std::string_view key = inner.substr(0, key_end);
    if (key.empty() || key.size() > kMaxNameBytes || !valid_utf8(key)) return false;
    std::string_view value = inner.substr(key_end + 1, end - key_end - 1);
    if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
    if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
    auto v = parameter_value(value);
    if (!v) return false;
    call.arguments[std::string(key)] = std::move(*v);
    inner = trim(inner.substr(end + kClose.size()));
  }
  call.id = new_call_id();
  out.push_back(std::move(call));
  return true;
}

// The inside of <tool_call>..</tool_call>: one or more <function=..>..</function>.
bool function_blocks(std::string_view body, std::vector<ToolCall>& out) {
  constexpr std::string_view kOpen = "<function=", kClose = "</function>";
  body = trim(body);
  std::vector<ToolCall> calls;
  if (body.empty()) return false;
  while (!body.empty()) {
    if (body.substr(0, kOpen.size()) != kOpen) return false;
    const size_t end = body.find(kClose);
    if (end == std::string_view::npos ||
        !function_call(body.substr(kOpen.size(), end - kOpen.size()), calls))
      return false;
    body = trim(body.substr(end + kClose.size()));
  }
  for (ToolCall& c : calls) out.push_back(std::move(c));
  return true;
}

// GLM 4.x inside <tool_call>..</tool_call>: NAME then
// <arg_key>KEY</arg_key><arg_value>VALUE</arg_value> pairs.
bool arg_key_call(std::string_view body, std::vector<ToolCall>& out) {
  constexpr std::string_view kKey = "<arg_key>", kKeyEnd = "</arg_key>", kValue = "<arg_value>",
                             kValueEnd = "</arg_value>";
  body = trim(body);
  const size_t first = body.find(kKey);
  ToolCall call;
  call.name = std::string(trim(body.substr(0, first)));
  if (!valid_name(call.name)) return false;
  body = first == std::string_view::npos ? std::string_view() : body.substr(first);
  while (!body.empty()) {
    const size_t key_end = body.find(kKeyEnd);
    if (!starts_with(body, kKey) || key_end == std::string_view::npos) return false;
    const std::string_view key = body.substr(kKey.size(), key_end - kKey.size());
    body = trim(body.substr(key_end + kKeyEnd.size()));
    const size_t value_end = body.find(kValueEnd);
    if (!starts_with(body, kValue) || value_end == std::string_view::npos || key.empty() ||
        key.size() > kMaxNameBytes || !valid_utf8(key))
      return false;
    auto v = parameter_value(body.substr(kValue.size(), value_end - kValue.size()));
    if (!v) return false;
    call.arguments[std::string(key)] = std::move(*v);
    body = trim(body.substr(value_end + kValueEnd.size()));
  }
  call.id = new_call_id();
  out.push_back(std::move(call));
  return true;
}

// Where a call starts in the text and how its body ends.
struct Opener {
  enum class Body {
    kTag,        // up to `closer`; parsed as JSON calls (or <function=..> blocks)
    kJson,       // one balanced JSON value, then `closer` if present (optional)
    kMistral,    // a JSON value, or name[ARGS]{..} / name[CALL_ID]id[ARGS]{..}
    kFunction,   // "<function=" NAME>..</function>
    kFunctions,  // "<tool_call>" <function=..>..</function>... "</tool_call>"
  };
  std::string_view text;  // "" for a bare JSON value at the start of the reply
  Body body;
  std::string_view closer;
  bool bare;  // no markup says it is a call: the JSON must look exactly like one
};

std::vector<Opener> openers(ToolSyntax syntax) {
  using B = Opener::Body;
  switch (syntax) {
    case ToolSyntax::kHermes:
      return {{"<tool_call>", B::kTag, "</tool_call>", false}};
    case ToolSyntax::kLlama3:
      return {{"<|python_tag|>", B::kJson, ";", false}, {"", B::kJson, ";", true}};
    case ToolSyntax::kMistral:
      return {{"[TOOL_CALLS]", B::kMistral, "", false}};
    case ToolSyntax::kFunctionTag:
      return {{"<tool_call>", B::kFunctions, "</tool_call>", false},
              {"<function=", B::kFunction, "</function>", false}};
    case ToolSyntax::kGeneric:
      break;
  }
  return {{"<tool_call>", B::kTag, "</tool_call>", false},
          {"<tool_calls>", B::kJson, "</tool_calls>", false},
          {"<TOOLCALL>", B::kJson, "</TOOLCALL>", false},
          {"<|function_call|>", B::kJson, "", false},
          {"functools", B::kJson, "", false},
          {"", B::kJson, "", true}};
}

// `rest` could still grow into `word` (a proper prefix of it).
bool could_become(std::string_view rest, std::string_view word) {
  return rest.size() < word.size() && starts_with(word, rest);
}

}  // namespace

std::string new_call_id() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  for (int i = 0; i < 8; ++i) id += kChars[rng() % 36];
  return id;
}

// --- the reply state machine --------------------------------------------------

struct ReplyStream::State {
  using Kind = Event::Kind;
  enum class Mode { kContent, kThinking, kCall };
  enum class Phase { kLead, kName, kCallId, kArgsLead, kValue, kTail, kBody };

  ToolSyntax syntax;
  std::vector<Opener> calls;  // empty when no tools were given
  std::vector<std::pair<std::string_view, std::string_view>> think_tags;

  Mode mode = Mode::kContent;
  std::string buf;       // text not yet decided
  std::string ws;        // whitespace held back: dropped if markup follows
  bool fresh = true;     // only whitespace since the start, a think block or a call
  bool at_start = true;  // no markup and no text yet: leading whitespace is held, not dropped
  std::string_view think_close;

  // The call being read. `raw` is all the text it consumed (with the held
  // whitespace before it): the content it becomes if it does not parse.
  const Opener* op = nullptr;
  Phase phase = Phase::kLead;
  std::string raw;
  size_t json_start = 0;  // where the JSON value (or the tag body) begins in raw
  size_t json_end = 0;    // and where the JSON value ends
  size_t scanned = 0;     // kBody: how much of buf was searched for the closer
  int depth = 0;
  bool in_string = false, escaped = false;
  std::string name;  // kMistral's name[ARGS] form

  std::vector<Event> out;

  void emit(Kind kind, std::string text) {
    if (text.empty()) return;
    if (!out.empty() && out.back().kind == kind && kind != Kind::kToolCall)
      out.back().text += text;
    else
      out.push_back({kind, std::move(text), {}});
  }

  // Text decided to be content or thinking (no markup in it).
  void text(Kind kind, std::string_view t) {
    if (t.empty()) return;
    const size_t last = t.find_last_not_of(" \n\r\t");
    if (last == std::string_view::npos) {
      if (!fresh) ws += t;
      return;
    }
    emit(kind, ws + std::string(t.substr(0, last + 1)));
    ws.assign(t.substr(last + 1));
    fresh = at_start = false;
  }

  // Whitespace after markup is dropped; at the start of the reply it is held
  // (content unless markup follows). True if there was some.
  bool drop_leading_ws() {
    if (!fresh) return false;
    size_t i = 0;
    while (i < buf.size() && is_ws(buf[i])) ++i;
    if (at_start) ws.append(buf, 0, i);
    buf.erase(0, i);
    return i > 0;
  }

  void start_call(const Opener& o) {
    at_start = false;
    op = &o;
    raw = ws + std::string(o.text);
    ws.clear();
    buf.erase(0, o.text.size());
    mode = Mode::kCall;
    name.clear();
    depth = 0;
    in_string = escaped = false;
    scanned = 0;
    json_start = raw.size();
    phase = (o.body == Opener::Body::kTag || o.body == Opener::Body::kFunction ||
             o.body == Opener::Body::kFunctions)
                ? Phase::kBody
                : Phase::kLead;
  }

  void call_done(std::vector<ToolCall> parsed) {
    for (ToolCall& c : parsed) out.push_back({Kind::kToolCall, {}, std::move(c)});
    raw.clear();
    mode = Mode::kContent;
    fresh = true;
  }

  // Not a call after all: what it consumed is content; the rest of buf is
  // scanned again as content.
  void call_failed() {
    mode = Mode::kContent;
    std::string r = std::move(raw);
    raw.clear();
    fresh = at_start = false;
    text(Kind::kContent, r);
  }

  // The call's body (for tag-closed ones without the closer) -> calls, or
  // content if it does not parse.
  void parse_call(std::string body) {
    std::vector<ToolCall> parsed;
    bool ok = false;
    switch (op->body) {
      case Opener::Body::kTag:
        ok = json_calls(body, false, parsed) || arg_key_call(body, parsed);
        break;
      case Opener::Body::kFunctions:
        ok = function_blocks(body, parsed);
        break;
      case Opener::Body::kFunction:
        ok = function_call(body, parsed);
        break;
      case Opener::Body::kJson:
      case Opener::Body::kMistral:
        if (!name.empty()) {  // name[ARGS]{..}
          auto args = parse_json(body);
          ok = args && args->is_object();
          if (ok) parsed.push_back({new_call_id(), name, std::move(*args)});
        } else {
          ok = json_calls(body, op->bare, parsed);
        }
        break;
    }
    if (ok)
      call_done(std::move(parsed));
    else
      call_failed();
  }

  // Finds the earliest opener in buf: {position, opener, complete}. With
  // several at one position the longest complete one wins unless a longer one
  // could still match (then it waits).
  struct Match {
    size_t at = std::string::npos;
    const Opener* opener = nullptr;
    bool partial = false;
  };
  Match find_opener(bool final) const {
    for (size_t i = 0; i < buf.size(); ++i) {
      const std::string_view rest = std::string_view(buf).substr(i);
      Match m;
      for (const Opener& o : calls) {
        if (o.text.empty()) continue;
        if (!final && could_become(rest, o.text)) return {i, nullptr, true};
        if (starts_with(rest, o.text) && (!m.opener || o.text.size() > m.opener->text.size()))
          m = {i, &o, false};
      }
      if (m.opener) return m;
    }
    return {};
  }

  bool step_content(bool final) {
    if (buf.empty()) return false;
    if (drop_leading_ws()) return true;
    if (fresh) {
      for (const auto& [open, close] : think_tags) {
        if (starts_with(buf, open)) {
          at_start = false;
          ws.clear();
          buf.erase(0, open.size());
          mode = Mode::kThinking;
          think_close = close;
          return true;
        }
        if (!final && could_become(buf, open)) return false;
      }
      for (const Opener& o : calls)
        if (o.text.empty() &&
            (buf[0] == '{' || (buf[0] == '[' && syntax == ToolSyntax::kGeneric))) {
          start_call(o);
          return true;
        }
    }
    const Match m = find_opener(final);
    if (m.at == std::string::npos) {
      text(Kind::kContent, buf);
      buf.clear();
      return true;
    }
    const bool progress = m.at > 0 || !m.partial;
    text(Kind::kContent, std::string_view(buf).substr(0, m.at));
    buf.erase(0, m.at);
    if (!m.partial) start_call(*m.opener);
    return progress;
  }

  bool step_thinking(bool final) {
    if (buf.empty()) return false;
    if (drop_leading_ws()) return true;
    const size_t at = buf.find(think_close);
    if (at != std::string::npos) {
      text(Kind::kThinking, std::string_view(buf).substr(0, at));
      ws.clear();
      buf.erase(0, at + think_close.size());
      mode = Mode::kContent;
      fresh = true;
      return true;
    }
    size_t keep = 0;  // a partial closer at the end
    if (!final)
      for (size_t n = std::min(buf.size(), think_close.size() - 1); n > 0; --n)
        if (could_become(std::string_view(buf).substr(buf.size() - n), think_close)) {
          keep = n;
          break;
        }
    if (keep == buf.size()) return false;
    text(Kind::kThinking, std::string_view(buf).substr(0, buf.size() - keep));
    buf.erase(0, buf.size() - keep);
    return true;
  }

  void consume(size_t n) {
    raw.append(buf, 0, n);
    buf.erase(0, n);
  }

  bool step_call(bool final) {
    switch (phase) {
      case Phase::kBody: {  // a tag-closed body: search for the closer
        const size_t from = scanned >= op->closer.size() ? scanned - op->closer.size() + 1 : 0;
        const size_t at = buf.find(op->closer, from);
        if (at != std::string::npos) {
          consume(at + op->closer.size());
          parse_call(raw.substr(json_start, raw.size() - json_start - op->closer.size()));
          return true;
        }
        scanned = buf.size();
        if (buf.size() > kMaxCallBytes) {
          consume(buf.size());
          call_failed();
          return true;
        }
        if (!final) return false;
        // The end without the closer (a stop string may have taken it).
        consume(buf.size());
        parse_call(raw.substr(json_start));
        return true;
      }
      case Phase::kLead: {
        size_t i = 0;
        while (i < buf.size() && is_ws(buf[i])) ++i;
        consume(i);
        if (buf.empty()) {
          if (!final) return i > 0;
          call_failed();
          return true;
        }
        json_start = raw.size();
        if (buf[0] == '{' || buf[0] == '[') {
          phase = Phase::kValue;
        } else if (op->body == Opener::Body::kMistral && is_name_char(buf[0])) {
          phase = Phase::kName;
        } else {
          call_failed();
        }
        return true;
      }
      case Phase::kName:
      case Phase::kCallId: {
        size_t i = 0;
        while (i < buf.size() && is_name_char(buf[i])) ++i;
        if (phase == Phase::kName) name.append(buf, 0, i);
        consume(i);
        if (name.size() > kMaxNameBytes || raw.size() > kMaxCallBytes) {
          call_failed();
          return true;
        }
        if (buf.empty()) {
          if (!final) return i > 0;
          call_failed();
          return true;
        }
        for (std::string_view tag : {std::string_view("[ARGS]"), std::string_view("[CALL_ID]")}) {
          if (tag == "[CALL_ID]" && phase == Phase::kCallId) continue;
          if (starts_with(buf, tag)) {
            consume(tag.size());
            phase = tag == "[ARGS]" ? Phase::kArgsLead : Phase::kCallId;
            return true;
          }
          if (!final && could_become(buf, tag)) return i > 0;
        }
        call_failed();
        return true;
      }
      case Phase::kArgsLead: {
        size_t i = 0;
        while (i < buf.size() && is_ws(buf[i])) ++i;
        consume(i);
        if (buf.empty()) {
          if (!final) return i > 0;
          call_failed();
          return true;
        }
        json_start = raw.size();
        if (buf[0] == '{')
          phase = Phase::kValue;
        else
          call_failed();
        return true;
      }
      case Phase::kValue: {
        size_t i = 0;
        bool done = false, bad = false;
        for (; i < buf.size() && !done && !bad; ++i) {
          const char c = buf[i];
          if (in_string) {
            if (escaped)
              escaped = false;
            else if (c == '\\')
              escaped = true;
            else if (c == '"')
              in_string = false;
          } else if (c == '"') {
            in_string = true;
          } else if (c == '{' || c == '[') {
            bad = ++depth > kMaxJsonDepth;
          } else if (c == '}' || c == ']') {
            done = --depth == 0;
          }
        }
        consume(i);
        if (bad || raw.size() - json_start > kMaxCallBytes) {
          call_failed();
          return true;
        }
        if (done) {
          json_end = raw.size();
          phase = Phase::kTail;
          return true;
        }
        if (final) call_failed();
        return final || i > 0;
      }
      case Phase::kTail: {  // whitespace, then the optional closer
        size_t i = 0;
        while (i < buf.size() && is_ws(buf[i]) && !op->closer.empty()) ++i;
        consume(i);
        if (!op->closer.empty() && !final && (buf.empty() || could_become(buf, op->closer)))
          return i > 0;
        if (!op->closer.empty() && starts_with(buf, op->closer)) consume(op->closer.size());
        parse_call(raw.substr(json_start, json_end - json_start));
        return true;
      }
    }
    return false;
  }

  bool step(bool final) {
    switch (mode) {
      case Mode::kContent:
        return step_content(final);
      case Mode::kThinking:
        return step_thinking(final);
      case Mode::kCall:
        return step_call(final);
    }
    return false;
  }

  std::vector<Event> run(bool final) {
    while (step(final)) {
    }
    if (final) {
      if (mode == Mode::kContent) emit(Kind::kContent, std::move(ws));
      ws.clear();
    }
    std::vector<Event> events = std::move(out);
    out.clear();
    return events;
  }
};

ReplyStream::ReplyStream(ToolSyntax syntax, bool tools_given, bool thinking_open)
    : s_(std::make_unique<State>()) {
  s_->syntax = syntax;
  if (tools_given) s_->calls = openers(syntax);
  s_->think_tags.emplace_back("<think>", "</think>");
  if (syntax == ToolSyntax::kMistral) s_->think_tags.emplace_back("[THINK]", "[/THINK]");
  if (thinking_open) {
    s_->at_start = false;
    s_->mode = State::Mode::kThinking;
    s_->think_close = "</think>";
  }
}

ReplyStream::~ReplyStream() = default;

std::vector<ReplyStream::Event> ReplyStream::feed(std::string_view piece) {
  s_->buf.append(piece);
  return s_->run(false);
}

std::vector<ReplyStream::Event> ReplyStream::finish() { return s_->run(true); }

ParsedReply parse_reply(std::string_view text, ToolSyntax syntax, bool tools_given,
                        bool thinking_open) {
  ReplyStream stream(syntax, tools_given, thinking_open);
  std::vector<ReplyStream::Event> events = stream.feed(text);
  for (auto& e : stream.finish()) events.push_back(std::move(e));
  ParsedReply reply;
  for (auto& e : events) {
    switch (e.kind) {
      case ReplyStream::Event::Kind::kContent:
        reply.content += e.text;
        break;
      case ReplyStream::Event::Kind::kThinking:
        reply.thinking += e.text;
        break;
      case ReplyStream::Event::Kind::kToolCall:
        reply.calls.push_back(std::move(e.call));
        break;
    }
  }
  return reply;
}

bool prompt_opens_thinking(std::string_view prompt) {
  prompt = trim(prompt);
  constexpr std::string_view kOpen = "<think>";
  return prompt.size() >= kOpen.size() && prompt.substr(prompt.size() - kOpen.size()) == kOpen;
}

// --- forced calls (their schemas: forced_calls.cpp) ----------------------------

std::vector<ToolCall> parse_forced(std::string_view generated, ToolSyntax) {
  std::vector<ToolCall> calls;
  if (!json_calls(generated, false, calls)) calls.clear();
  return calls;
}

}  // namespace hearth::chat
