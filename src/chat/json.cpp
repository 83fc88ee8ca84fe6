// Python's json.dumps(obj, ensure_ascii, indent, separators, sort_keys), the
// function behind Hugging Face's tojson filter.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/interp.h"

namespace hearth::chat::detail {

namespace {

struct JsonWriter {
  Interp& in;
  bool ensure_ascii;
  int indent;
  const std::string& item_sep;
  const std::string& key_sep;
  bool sort_keys;
  std::string out;

  void string(const std::string& s) {
    out += '"';
    for (std::size_t k = 0; k < s.size(); ++k) {
      unsigned char c = static_cast<unsigned char>(s[k]);
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else if (c >= 0x80 && ensure_ascii) {
            std::size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
            std::vector<char32_t> cps = utf8_decode(s.substr(k, len));
            char32_t cp = cps.empty() ? 0xFFFD : cps[0];
            char buf[16];
            if (cp >= 0x10000) {
              cp -= 0x10000;
              std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                            0xDC00 + (cp & 0x3FF));
            } else {
              std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
            }
            out += buf;
            k += len - 1;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    out += '"';
  }

  void newline(int level) {
    if (indent < 0) return;
    out += '\n';
    const std::size_t pad = static_cast<std::size_t>(indent) * static_cast<std::size_t>(level);
    if (pad > in.limits().max_value_bytes) in.charge(out.size() + pad);  // throws: too long
    out.append(pad, ' ');
  }

  void check() {
    if (out.size() > in.limits().max_value_bytes) in.charge(out.size());
  }

  std::string key_text(const Value& k) {
    switch (k.kind) {
      case Kind::String:
        return k.str();
      case Kind::None:
        return "null";
      case Kind::Bool:
        return k.b ? "true" : "false";
      case Kind::Int:
      case Kind::Float:
        return to_str(k);
      default:
        fail(std::string("TypeError: keys must be str, int, float, bool or None, not ") +
             type_name(k));
    }
  }

  void value(const Value& v, int level) {
    if (level > 256) fail("RecursionError: value nested too deeply for tojson");
    in.step();
    switch (v.kind) {
      case Kind::None:
        out += "null";
        return;
      case Kind::Bool:
        out += v.b ? "true" : "false";
        return;
      case Kind::Int:
        out += std::to_string(v.i);
        return;
      case Kind::Float:
        if (std::isnan(v.f))
          out += "NaN";
        else if (std::isinf(v.f))
          out += v.f > 0 ? "Infinity" : "-Infinity";
        else
          out += python_float_repr(v.f);
        return;
      case Kind::String:
        string(v.str());
        return;
      case Kind::List:
      case Kind::Tuple: {
        const List& l = v.list();
        if (l.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (std::size_t k = 0; k < l.size(); ++k) {
          if (k) out += item_sep;
          newline(level + 1);
          value(l[k], level + 1);
          check();
        }
        newline(level);
        out += ']';
        return;
      }
      case Kind::Dict: {
        auto items = v.dict().items;
        if (items.empty()) {
          out += "{}";
          return;
        }
        if (sort_keys)
          std::stable_sort(items.begin(), items.end(),
                           [](const auto& a, const auto& b) { return less(a.first, b.first); });
        out += '{';
        bool first = true;
        for (const auto& [k, x] : items) {
          if (!first) out += item_sep;
          first = false;
          newline(level + 1);
          string(key_text(k));
          out += key_sep;
          value(x, level + 1);
          check();
        }
        newline(level);
        out += '}';
        return;
      }
      default:
        fail(std::string("TypeError: Object of type ") + type_name(v) +
             " is not JSON serializable");
    }
  }
};

}  // namespace

std::string to_json(Interp& in, const Value& v, bool ensure_ascii, int indent,
                    const std::string& item_sep, const std::string& key_sep, bool sort_keys) {
  JsonWriter w{in, ensure_ascii, indent, item_sep, key_sep, sort_keys, {}};
  w.value(v, 0);
  return std::move(w.out);
}

}  // namespace hearth::chat::detail
