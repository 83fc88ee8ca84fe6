#include "store/modelfile.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "store/name.h"

namespace hearth::store {

namespace {

enum class Kind { Int, Float, Bool, StringList };

struct ParamType {
  const char* name;
  Kind kind;
};

// The options an Ollama Modelfile's PARAMETER may set, and their types.
constexpr ParamType kParams[] = {
    {"num_ctx", Kind::Int},
    {"num_predict", Kind::Int},
    {"top_k", Kind::Int},
    {"seed", Kind::Int},
    {"repeat_last_n", Kind::Int},
    {"num_keep", Kind::Int},
    {"num_batch", Kind::Int},
    {"num_thread", Kind::Int},
    {"num_gpu", Kind::Int},
    {"main_gpu", Kind::Int},
    {"temperature", Kind::Float},
    {"top_p", Kind::Float},
    {"min_p", Kind::Float},
    {"typical_p", Kind::Float},
    {"repeat_penalty", Kind::Float},
    {"presence_penalty", Kind::Float},
    {"frequency_penalty", Kind::Float},
    {"use_mmap", Kind::Bool},
    {"stop", Kind::StringList},
};

const ParamType* find_param(const std::string& name) {
  for (const ParamType& p : kParams)
    if (name == p.name) return &p;
  return nullptr;
}

// A word of the text in an error message: its start only, when it is long
// (a binary file's first "word" can be megabytes), cut at a character's
// start, and control bytes as \xNN (a NUL would end the message).
std::string shown(const std::string& word) {
  constexpr size_t kShown = 40;
  size_t n = std::min(word.size(), kShown);
  if (n < word.size())
    while (n > 0 && (static_cast<unsigned char>(word[n]) & 0xc0) == 0x80) --n;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto u = static_cast<unsigned char>(word[i]);
    if (u >= 0x20 && u != 0x7f) {
      out += word[i];
      continue;
    }
    static const char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[u >> 4];
    out += kHex[u & 15];
  }
  return n < word.size() ? out + "..." : out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// A cursor over the text that knows its line.
class Cursor {
 public:
  Cursor(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  int line() const { return line_; }
  void skip_spaces() {
    while (!done() && is_space(text_[pos_])) ++pos_;
  }
  void next_line() {
    while (!done() && text_[pos_] != '\n') ++pos_;
    if (!done()) {
      ++pos_;
      ++line_;
    }
  }
  // Letters, digits and '_' up to a space.
  std::string word() {
    const size_t start = pos_;
    while (!done() && !is_space(text_[pos_]) && text_[pos_] != '\n') ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  bool at_line_end() {
    skip_spaces();
    return done() || peek() == '\n';
  }

  // The value: """multi-line""", "quoted" or the rest of the line, trimmed.
  std::string value(const std::string& instruction) {
    skip_spaces();
    if (done() || peek() == '\n') fail(instruction + " needs a value");
    if (text_.substr(pos_, 3) == "\"\"\"") {
      const int start_line = line_;
      size_t end = text_.find("\"\"\"", pos_ + 3);
      if (end == std::string_view::npos)
        fail_at(start_line, instruction + ": the \"\"\" opened here is never closed");
      // A text ending in quotes: """say "hi"""" closes at the run's last three.
      while (end + 3 < text_.size() && text_[end + 3] == '"') ++end;
      std::string v(text_.substr(pos_ + 3, end - pos_ - 3));
      for (size_t i = pos_; i < end; ++i)
        if (text_[i] == '\n') ++line_;
      pos_ = end + 3;
      if (!at_line_end()) fail(instruction + ": unexpected text after the closing \"\"\"");
      return v;
    }
    if (peek() == '"') {
      ++pos_;
      std::string v;
      for (;;) {
        if (done() || peek() == '\n') fail(instruction + ": the quoted value is never closed");
        char c = text_[pos_++];
        if (c == '"') break;
        if (c == '\\' && !done() && (peek() == '"' || peek() == '\\')) c = text_[pos_++];
        v += c;
      }
      if (!at_line_end()) fail(instruction + ": unexpected text after the closing quote");
      return v;
    }
    const size_t start = pos_;
    while (!done() && peek() != '\n') ++pos_;
    std::string_view v = text_.substr(start, pos_ - start);
    while (!v.empty() && is_space(v.back())) v.remove_suffix(1);
    return std::string(v);
  }

  [[noreturn]] void fail(const std::string& what) const { fail_at(line_, what); }
  [[noreturn]] void fail_at(int line, const std::string& what) const {
    throw ModelfileError(where_ + ":" + std::to_string(line) + ": " + what);
  }

 private:
  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

nlohmann::json parse_parameter(const std::string& name, const std::string& value) {
  const ParamType* p = find_param(name);
  if (!p) throw std::invalid_argument("unknown parameter '" + shown(name) + "'");
  const auto wrong = [&](const char* want) -> nlohmann::json {
    throw std::invalid_argument("parameter '" + name + "' wants " + want + ", got '" +
                                shown(value) + "'");
  };
  const char* first = value.data();
  const char* last = value.data() + value.size();
  switch (p->kind) {
    case Kind::Int: {
      int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec != std::errc() || ptr != last || value.empty()) return wrong("an integer");
      return v;
    }
    case Kind::Float: {
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(v))
        return wrong("a number");
      return v;
    }
    case Kind::Bool: {
      const std::string l = ascii_lower(value);
      if (l == "true") return true;
      if (l == "false") return false;
      return wrong("true or false");
    }
    case Kind::StringList:
      return nlohmann::json::array({value});
  }
  return nullptr;
}

nlohmann::json check_parameters(const nlohmann::json& parameters) {
  if (!parameters.is_object()) throw std::invalid_argument("parameters must be a JSON object");
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, v] : parameters.items()) {
    const ParamType* p = find_param(name);
    if (!p) throw std::invalid_argument("unknown parameter '" + shown(name) + "'");
    if (v.is_null()) continue;  // as Go's FromMap: null sets nothing
    std::optional<nlohmann::json> typed;
    switch (p->kind) {
      case Kind::Int:
        if (const auto i = option_integer(v)) typed = *i;
        break;
      case Kind::Float:
        if (v.is_number()) typed = v;
        break;
      case Kind::Bool:
        if (v.is_boolean()) typed = v;
        break;
      case Kind::StringList:
        if (v.is_string() || (v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& s) {
                                return s.is_string();
                              })))
          typed = v;
        break;
    }
    if (!typed)
      throw std::invalid_argument("parameter '" + name +
                                  "' has a value of the wrong type: " + v.dump());
    out[name] = std::move(*typed);
  }
  return out;
}

namespace {

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Whether the action between "{{" and "}}" (`a`, its "-" trim marker already
// skipped) is Go template syntax rather than a Jinja expression. Only what a
// Jinja expression cannot be counts: a Go field or variable (".Prompt",
// "$x", " .Messages" after a space or "("), a Go comment, or a Go keyword
// that cannot begin a Jinja expression ("if", "end", ...). A word Jinja also
// has ("not", "range", "len") is not enough: `{{ not loop.last }}` is Jinja.
bool is_go_action(std::string_view a) {
  size_t i = 0;
  while (i < a.size() && blank(a[i])) ++i;
  if (i == a.size()) return false;
  if (a[i] == '.' || a[i] == '$' || a.substr(i, 2) == "/*") return true;
  size_t end = i;
  while (end < a.size() && word_char(a[end])) ++end;
  const std::string_view first = a.substr(i, end - i);
  for (const std::string_view w : {"if", "else", "end", "with", "and", "or"})
    if (first == w) return true;
  size_t next = end;
  while (next < a.size() && blank(a[next])) ++next;
  for (const std::string_view w : {"template", "define", "block"})
    if (first == w && next > end && next < a.size() && a[next] == '"') return true;
  // A field or variable anywhere outside a string literal.
  char quote = 0;
  for (size_t k = i; k < a.size(); ++k) {
    const char c = a[k];
    if (quote) {
      if (c == '\\')
        ++k;
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'' || c == '`')
      quote = c;
    else if (c == '$')
      return true;
    else if (c == '.' && (blank(a[k - 1]) || a[k - 1] == '(') && k + 1 < a.size() &&
             (word_char(a[k + 1]) || blank(a[k + 1]) || a[k + 1] == ')'))
      return true;
  }
  return false;
}

}  // namespace

void check_template(std::string_view text) {
  for (size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at + 2)) {
    size_t start = at + 2;
    if (start < text.size() && text[start] == '-') ++start;
    size_t close = text.find("}}", start);
    if (close == std::string_view::npos) close = text.size();
    if (!is_go_action(text.substr(start, close - start))) continue;
    const size_t end = close == text.size() ? std::min(text.size(), at + 24) : close + 2;
    throw std::invalid_argument(
        "TEMPLATE uses Go template syntax ('" + std::string(text.substr(at, end - at)) +
        "'); hearth's templates are Jinja, the Hugging Face chat template syntax (for example "
        "{% for message in messages %}{{ message['content'] }}{% endfor %})");
  }
}

namespace {

// A value parse_modelfile reads back as `s`: """text""" for a text with
// newlines or quotes, unless it holds """; else "text" with \" and \\ escaped.
std::string quote(const std::string& s) {
  if ((s.find('\n') != std::string::npos || s.find('"') != std::string::npos) &&
      s.find("\"\"\"") == std::string::npos)
    return "\"\"\"" + s + "\"\"\"";
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string parameter_text(const nlohmann::json& v) {
  return v.is_string() ? quote(v.get<std::string>()) : v.dump();
}

}  // namespace

std::string write_modelfile(const Modelfile& mf, const std::string& name) {
  std::string out = "# Modelfile generated by \"hearth show\"\n";
  out += "# To build a new Modelfile based on this, replace FROM with:\n";
  out += "# FROM " + name + "\n\n";
  // A path as it is, unless reading it back would change it.
  const bool plain = !mf.from.empty() && mf.from.front() != '"' && !is_space(mf.from.front()) &&
                     !is_space(mf.from.back()) && mf.from.find('\n') == std::string::npos;
  out += "FROM " + (plain ? mf.from : quote(mf.from)) + "\n";
  if (mf.template_text) out += "TEMPLATE " + quote(*mf.template_text) + "\n";
  if (mf.system) out += "SYSTEM " + quote(*mf.system) + "\n";
  for (const auto& [k, v] : mf.parameters.items()) {
    if (v.is_array())
      for (const auto& e : v) out += "PARAMETER " + k + " " + parameter_text(e) + "\n";
    else
      out += "PARAMETER " + k + " " + parameter_text(v) + "\n";
  }
  if (mf.license) out += "LICENSE " + quote(*mf.license) + "\n";
  for (const auto& msg : mf.messages)
    out += "MESSAGE " + msg.role + " " + quote(msg.content) + "\n";
  return out;
}

Modelfile parse_modelfile(std::string_view text, const std::string& where) {
  Modelfile mf;
  Cursor c(text, where);
  bool has_from = false;
  int from_line = 0;
  for (; !c.done(); c.next_line()) {
    c.skip_spaces();
    if (c.done() || c.peek() == '\n' || c.peek() == '#') continue;
    const int line = c.line();
    const std::string word = c.word();
    const std::string instruction = ascii_lower(word);
    try {
      if (instruction == "from") {
        if (has_from)
          c.fail("a second FROM (the first is on line " + std::to_string(from_line) + ")");
        mf.from = c.value("FROM");
        has_from = true;
        from_line = line;
      } else if (instruction == "parameter") {
        c.skip_spaces();
        const std::string name = ascii_lower(c.word());
        if (name.empty()) c.fail("PARAMETER needs a name and a value");
        const std::string value = c.value("PARAMETER " + name);
        nlohmann::json v = parse_parameter(name, value);
        if (v.is_array() && mf.parameters.contains(name))
          mf.parameters[name].push_back(v[0]);
        else
          mf.parameters[name] = std::move(v);
      } else if (instruction == "template") {
        std::string t = c.value("TEMPLATE");
        check_template(t);
        mf.template_text = std::move(t);
      } else if (instruction == "system") {
        mf.system = c.value("SYSTEM");
      } else if (instruction == "license") {
        std::string l = c.value("LICENSE");
        mf.license = mf.license ? *mf.license + "\n\n" + l : l;
      } else if (instruction == "message") {
        c.skip_spaces();
        const std::string role = ascii_lower(c.word());
        if (role != "system" && role != "user" && role != "assistant")
          c.fail("MESSAGE role must be system, user or assistant, not '" + shown(role) + "'");
        mf.messages.push_back({role, c.value("MESSAGE " + role)});
      } else if (instruction == "adapter") {
        c.fail("ADAPTER is not supported yet");
      } else {
        c.fail("unknown instruction '" + shown(word) +
               "' (expected FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE or LICENSE)");
      }
    } catch (const std::invalid_argument& e) {
      c.fail_at(line, e.what());
    }
  }
  if (!has_from) throw ModelfileError(where + ": no FROM line (FROM names the base model)");
  return mf;
}

}  // namespace hearth::store
