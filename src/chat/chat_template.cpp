// ChatTemplate: parse once, render many times, each render in a fresh sandboxed
// interpreter. Also the built-in fallback templates and template resolution.
#include "chat/chat_template.h"

#include <filesystem>

#include "chat/ast.h"
#include "chat/interp.h"
#include "fs/read_file.h"

namespace hearth::chat {

namespace detail {

template <typename J>
Value from_json(Interp& in, const J& j, int depth) {
  if (depth > 256) fail("RecursionError: context JSON nested deeper than 256 levels");
  switch (j.type()) {
    case J::value_t::null:
      return Value::none();
    case J::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case J::value_t::number_integer:
      return Value::integer(j.template get<std::int64_t>());
    case J::value_t::number_unsigned: {
      auto u = j.template get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<std::int64_t>(u));
    }
    case J::value_t::number_float:
      return Value::number(j.template get<double>());
    case J::value_t::string:
      return in.str(j.template get<std::string>());
    case J::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(in, x, depth + 1));
      return in.list(std::move(items));
    }
    case J::value_t::object: {
      Value d = in.dict();
      for (auto it = j.begin(); it != j.end(); ++it)
        d.dict().items.emplace_back(Value::string(it.key()), from_json(in, it.value(), depth + 1));
      in.charge(j.size() * 2 * sizeof(Value));
      return d;
    }
    default:
      fail("TypeError: unsupported JSON value in the context");
  }
}

}  // namespace detail

namespace {

std::tm resolve_now(const RenderOptions& options) {
  if (options.now) return *options.now;
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

template <typename J>
std::string render_with(const detail::Program& program, const J& context,
                        const RenderOptions& options) {
  if (!context.is_object()) throw TemplateError("the template context must be a JSON object");
  detail::Interp in(options.limits, resolve_now(options));
  detail::Value vars = detail::from_json(in, context, 0);
  return in.run(program, vars);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source)
    : source_(std::move(source)), program_(detail::parse(source_)) {}

std::string ChatTemplate::render(const nlohmann::json& context,
                                 const RenderOptions& options) const {
  return render_with(*program_, context, options);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context,
                                 const RenderOptions& options) const {
  return render_with(*program_, context, options);
}

namespace {

// A message as Hugging Face's apply_chat_template passes it (OpenAI's shape).
nlohmann::ordered_json message_json(const Message& m) {
  // content stays a string beside tool calls: OpenAI clients send null there,
  // but QwQ, Devstral, Ministral 3 and Bielik fail on a none content.
  nlohmann::ordered_json j = {{"role", m.role}, {"content", m.content}};
  if (!m.thinking.empty()) j["reasoning_content"] = m.thinking;
  if (!m.tool_calls.empty()) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::array();
    for (const ToolCall& c : m.tool_calls)
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    j["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  return j;
}

}  // namespace

std::string ChatTemplate::apply(const std::vector<Message>& messages, bool add_generation_prompt,
                                const std::string& bos_token, const std::string& eos_token,
                                const nlohmann::ordered_json& extra,
                                const RenderOptions& options) const {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Message& m : messages) list.push_back(message_json(m));
  ctx["messages"] = std::move(list);
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos_token;
  ctx["eos_token"] = eos_token;
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
  return render(ctx, options);
}

namespace {

struct Builtin {
  const char* name;
  const char* text;
};

// Short templates of our own for the common formats (system prompts folded
// into the first user turn where the format has no system role).
const Builtin kBuiltins[] = {
    {"chatml",
     "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
     "message['content'] + '<|im_end|>\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
    {"llama2",
     "{% set ns = namespace(system='') %}"
     "{% for message in messages %}"
     "{% if message['role'] == 'system' %}{% set ns.system = message['content'] %}"
     "{% elif message['role'] == 'user' %}"
     "{{ bos_token + '[INST] ' }}"
     "{% if ns.system %}{{ '<<SYS>>\\n' + ns.system + '\\n<</SYS>>\\n\\n' }}{% set ns.system = '' "
     "%}{% endif %}"
     "{{ message['content'] | trim + ' [/INST]' }}"
     "{% else %}{{ ' ' + message['content'] | trim + ' ' + eos_token }}{% endif %}"
     "{% endfor %}"},
    {"llama3",
     "{{ bos_token }}{% for message in messages %}"
     "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
     "message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% "
     "endif %}"},
    {"mistral",
     "{% set ns = namespace(system='') %}{{ bos_token }}"
     "{% for message in messages %}"
     "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\\n\\n' %}"
     "{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.system + message['content'] + ' "
     "[/INST]' }}"
     "{% set ns.system = '' %}"
     "{% else %}{{ message['content'] + eos_token }}{% endif %}"
     "{% endfor %}"},
    {"gemma",
     "{% set ns = namespace(system='') %}{{ bos_token }}"
     "{% for message in messages %}"
     "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\\n\\n' %}"
     "{% else %}{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else "
     "message['role']) + "
     "'\\n' + ns.system + message['content'] | trim + '<end_of_turn>\\n' }}{% set ns.system = '' %}"
     "{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"},
    {"phi3",
     "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + "
     "'<|end|>\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"},
    {"zephyr",
     "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + "
     "eos_token + '\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"},
};

}  // namespace

std::string chatml_template() { return kBuiltins[0].text; }

std::vector<std::string> builtin_template_names() {
  std::vector<std::string> names;
  for (const Builtin& b : kBuiltins) names.emplace_back(b.name);
  return names;
}

std::string builtin_template(std::string_view name) {
  for (const Builtin& b : kBuiltins)
    if (name == b.name) return b.text;
  std::string known;
  for (const Builtin& b : kBuiltins) known += std::string(known.empty() ? "" : ", ") + b.name;
  throw TemplateError("unknown built-in template '" + std::string(name) + "' (known: " + known +
                      ")");
}

// A template file larger than this is a mistake, not a template (the largest
// real ones, Gemma's and Mistral's, are under 20 KB).
constexpr uint64_t kMaxTemplateFile = 16ull << 20;

std::string resolve_template(const std::string& name_or_file, const std::string& model_template) {
  if (name_or_file.empty()) return model_template.empty() ? chatml_template() : model_template;
  for (const Builtin& b : kBuiltins)
    if (name_or_file == b.name) return b.text;
  std::error_code ec;
  if (!std::filesystem::exists(name_or_file, ec)) {
    std::string known;
    for (const Builtin& b : kBuiltins) known += std::string(known.empty() ? "" : ", ") + b.name;
    throw TemplateError("template '" + name_or_file + "' is neither a built-in name (" + known +
                        ") nor a readable file");
  }
  try {
    return fs::read_file(name_or_file, kMaxTemplateFile);
  } catch (const fs::FileError& e) {
    throw TemplateError(std::string("template: ") + e.what());
  }
}

}  // namespace hearth::chat
