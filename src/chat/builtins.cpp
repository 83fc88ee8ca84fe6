// Global functions templates can call: Jinja2's range/dict/namespace/cycler/
// joiner and Hugging Face's raise_exception and strftime_now. Nothing here
// touches files, the environment or the clock except strftime_now, which reads
// the render's `now`.
#include <ctime>

#include "chat/interp.h"

namespace hearth::chat::detail {

namespace {

constexpr std::int64_t kMaxRange = 100000;  // Jinja2's sandbox MAX_RANGE

Value range_fn(Interp& in, Args& a) {
  for (const Value& v : a.pos)
    if (!v.is_int())
      fail(std::string("TypeError: '") + type_name(v) +
           "' object cannot be interpreted as an integer");
  std::int64_t start = 0, stop = 0, step = 1;
  if (a.pos.size() == 1) {
    stop = a.pos[0].as_int();
  } else if (a.pos.size() == 2 || a.pos.size() == 3) {
    start = a.pos[0].as_int();
    stop = a.pos[1].as_int();
    if (a.pos.size() == 3) step = a.pos[2].as_int();
  } else {
    fail("TypeError: range expected 1 to 3 arguments, got " + std::to_string(a.pos.size()));
  }
  if (step == 0) fail("ValueError: range() arg 3 must not be zero");
  // Count without overflow: (stop - start) may not fit in int64.
  long double span = static_cast<long double>(stop) - static_cast<long double>(start);
  long double count = step > 0 ? (span > 0 ? (span + step - 1) / step : 0)
                               : (span < 0 ? (span + step + 1) / step : 0);
  if (count > kMaxRange)
    fail("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  List out;
  // Stepping (not start + k * step) keeps every value between start and stop,
  // so nothing overflows; the step after the last one is not taken.
  const auto n = static_cast<std::int64_t>(count);
  std::int64_t value = start;
  for (std::int64_t k = 0; k < n; ++k) {
    out.push_back(Value::integer(value));
    if (k + 1 < n) value += step;
  }
  return in.list(std::move(out));
}

void fill_dict(Interp& in, Dict& d, Args& a) {
  for (const Value& p : a.pos) {
    if (p.is_dict()) {
      for (const auto& [k, v] : p.dict().items) d.set(k, v);
    } else {
      for (const Value& pair : in.iterate(p)) {
        List kv = in.iterate(pair);
        if (kv.size() != 2) fail("ValueError: dictionary update sequence element has wrong length");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kw) d.set(Value::string(k), v);
  in.charge(d.items.size() * 2 * sizeof(Value));
}

}  // namespace

std::string py_strftime(const std::tm& tm, const std::string& fmt) {
  if (fmt.empty()) return {};
  for (std::size_t cap = 256; cap <= (1u << 20); cap *= 4) {
    std::string buf(cap, '\0');
    std::size_t n = std::strftime(buf.data(), cap, fmt.c_str(), &tm);
    if (n > 0) return buf.substr(0, n);
  }
  return {};
}

Value make_globals(Interp& in) {
  Value g = in.dict();
  Dict& d = g.dict();
  d.set(Value::string("range"), in.callable("range", range_fn));
  d.set(Value::string("dict"), in.callable("dict", [](Interp& in, Args& a) {
    Value r = in.dict();
    fill_dict(in, r.dict(), a);
    return r;
  }));
  d.set(Value::string("namespace"), in.callable("namespace", [](Interp& in, Args& a) {
    Value r = in.dict(Kind::Namespace);
    fill_dict(in, r.dict(), a);
    return r;
  }));
  d.set(Value::string("raise_exception"),
        in.callable("raise_exception", [](Interp&, Args& a) -> Value {
          throw TemplateError(to_str(a.get(0, "message")));
        }));
  d.set(Value::string("strftime_now"), in.callable("strftime_now", [](Interp& in, Args& a) {
    return in.str(py_strftime(in.now(), to_str(a.get(0, "format"))));
  }));
  d.set(Value::string("cycler"), in.callable("cycler", [](Interp& in, Args& a) {
    Value self = in.dict(Kind::Namespace);
    auto items = std::make_shared<List>(a.pos);
    auto pos = std::make_shared<std::size_t>(0);
    auto current = [items, pos](Interp&, Args&) -> Value {
      return items->empty() ? Value::none() : (*items)[*pos % items->size()];
    };
    self.dict().set(Value::string("next"),
                    in.callable("next", [items, pos](Interp&, Args&) -> Value {
                      if (items->empty()) return Value::none();
                      Value v = (*items)[*pos % items->size()];
                      ++*pos;
                      return v;
                    }));
    self.dict().set(Value::string("reset"), in.callable("reset", [pos](Interp&, Args&) {
      *pos = 0;
      return Value::none();
    }));
    Args none;
    self.dict().set(Value::string("current"), current(in, none));
    return self;
  }));
  d.set(Value::string("joiner"), in.callable("joiner", [](Interp& in, Args& a) {
    std::string sep = a.has(0, "sep") ? to_str(a.get(0, "sep")) : ", ";
    auto used = std::make_shared<bool>(false);
    return in.callable("joiner", [sep, used](Interp&, Args&) {
      if (!*used) {
        *used = true;
        return Value::string("");
      }
      return Value::string(sep);
    });
  }));
  return g;
}

}  // namespace hearth::chat::detail
