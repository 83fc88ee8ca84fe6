// Ollama's model-management routes over the model store: /api/tags,
// /api/show, /api/copy, /api/delete, /api/create and /api/blobs/:digest.
// Wire shapes come from ollama_types.h; the work from store::Store. What a
// GGUF is (family, size, quantization) is read from the file once per path,
// size and mtime, so that /api/tags stays cheap.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "chat/chat_template.h"
#include "chat/tool_calls.h"
#include "gguf/model_info.h"
#include "gguf/reader.h"
#include "quant/mix.h"
#include "server/go_format.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using ollama::Json;
using Clock = std::chrono::system_clock;

Clock::time_point from_ns(int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string hex_digest(const std::string& digest) {
  return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
}

// Ollama's format.HumanNumber: "15.19M", "8.0B", "7B", "512K".
std::string human_number(uint64_t n) {
  const double x = static_cast<double>(n);
  if (n >= 1'000'000'000) {
    const double b = x / 1e9;
    return b == std::floor(b) ? fmt::format("{:.0f}B", b) : fmt::format("{:.1f}B", b);
  }
  if (n >= 1'000'000) {
    const double m = x / 1e6;
    return m == std::floor(m) ? fmt::format("{:.0f}M", m) : fmt::format("{:.2f}M", m);
  }
  if (n >= 1'000) return fmt::format("{:.0f}K", x / 1e3);
  return std::to_string(n);
}

ollama::ModelDetails details_of(const gguf::ModelInfo& info) {
  ollama::ModelDetails d;
  d.family = info.architecture;
  if (!info.architecture.empty()) d.families = {info.architecture};
  d.parameter_size = human_number(info.n_params);
  d.quantization_level = info.quantization;
  return d;
}

// A model file's details, read once per (path, size, mtime). A file that
// cannot be read gets the bare details (format only) and a warning.
ollama::ModelDetails cached_details(const std::string& path) {
  static std::mutex mu;
  struct Entry {
    int64_t size, mtime_ns;
    ollama::ModelDetails details;
  };
  static std::map<std::string, Entry> cache;
  struct stat st;
  if (path.empty() || stat(path.c_str(), &st) != 0) return {};
  const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard lk(mu);
    const auto it = cache.find(path);
    if (it != cache.end() && it->second.size == st.st_size && it->second.mtime_ns == mtime)
      return it->second.details;
  }
  ollama::ModelDetails d;
  try {
    d = details_of(gguf::describe_model(*gguf::GgufFile::open(path)));
  } catch (const std::exception& e) {
    spdlog::warn("cannot describe {}: {}", path, e.what());
    return {};
  }
  std::lock_guard lk(mu);
  cache[path] = {st.st_size, mtime, d};
  return d;
}

// A float as Go's encoding/json writes it: a whole number without ".0".
Json float_json(double x) {
  if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 1e15) return static_cast<int64_t>(x);
  return x;
}

Json scalar_json(const gguf::Value& v) {
  using T = gguf::ValueType;
  switch (v.type()) {
    case T::BOOL:
      return v.as_bool();
    case T::STRING:
      return v.as_string();
    case T::F32:
      return float_json(ollama::float32_decimal(static_cast<float>(v.as_float())));
    case T::F64:
      return float_json(v.as_float());
    case T::I8:
    case T::I16:
    case T::I32:
    case T::I64:
      return v.as_int();
    default:
      return v.as_uint();
  }
}

// GGUF metadata as /api/show's model_info: keys sorted (as Go writes a map),
// general.name and tokenizer.chat_template left out, general.parameter_count
// added, and unless `verbose` every array of more than 5 items shown as [].
Json model_info_json(const gguf::GgufFile& f, uint64_t n_params, bool verbose) {
  std::map<std::string, Json> kv;
  for (const auto& [key, value] : f.metadata()) {
    if (key == "general.name" || key == "tokenizer.chat_template") continue;
    if (value.type() != gguf::ValueType::ARRAY) {
      kv[key] = scalar_json(value);
      continue;
    }
    Json a = Json::array();
    const uint64_t n = value.array_size();
    if (verbose || n <= 5) {
      for (uint64_t i = 0; i < n; ++i)
        a.push_back(value.elem_type() == gguf::ValueType::STRING ? Json(value.string_at(i))
                                                                 : scalar_json(value.at(i)));
    }
    kv[key] = std::move(a);
  }
  kv["general.parameter_count"] = n_params;
  Json out = Json::object();
  for (auto& [k, v] : kv) out[k] = std::move(v);
  return out;
}

// The digest a DigestMismatch says the bytes hashed to ("" when it does not say).
std::string received_digest(const std::string& message, const std::string& expected) {
  std::string got;
  for (size_t at = message.find("sha256:"); at != std::string::npos;
       at = message.find("sha256:", at + 1)) {
    const std::string d = message.substr(at, 7 + 64);
    const bool hex =
        d.size() == 71 && d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
    if (hex && d != expected) got = d;
  }
  return got;
}

// Names a client may not use: 400 naming it.
store::ModelName valid_name(const std::string& text, const char* what) {
  try {
    return store::parse_name(text);
  } catch (const store::InvalidName& e) {
    throw HttpError(400, fmt::format("{} \"{}\" is invalid: {}", what, text, e.what()));
  }
}

// A blob a create names, checked to be there and to be a GGUF (400 else).
std::string gguf_blob(const store::Store& store, const std::string& digest,
                      const std::string& what) {
  const std::string d = store::parse_digest(digest);
  if (!store.has_blob(d))
    throw HttpError(400, fmt::format("{} not found: upload it to /api/blobs/{} first", what, d));
  try {
    gguf::GgufFile::open(store.blob_path(d));
  } catch (const std::exception& e) {
    throw HttpError(400,
                    fmt::format("supplied file was not in GGUF format: {}: {}", what, e.what()));
  }
  return d;
}

// A create's base model as the store takes it: a model name ("alice/foo:q4"
// too) or a blob digest. Paths are refused (and the store is told `from` is
// never one): over HTTP a client could otherwise make the server read any
// GGUF on its disk into the store.
std::string create_base(const ollama::CreateRequest& r, const store::Store& store) {
  if (!r.from.empty()) {
    if (store::is_digest(r.from))
      return gguf_blob(store, r.from, fmt::format("blob \"{}\"", r.from));
    const bool is_name = store::is_valid_name(r.from);
    if (is_name && store.exists(r.from)) return r.from;
    const bool looks_like_path =
        r.from.find('/') != std::string::npos || r.from.find('\\') != std::string::npos ||
        (r.from.size() > 5 && r.from.compare(r.from.size() - 5, 5, ".gguf") == 0);
    if (looks_like_path && (!is_name || r.from.find('/') == std::string::npos))
      throw HttpError(400, fmt::format("cannot create from \"{}\": over the API \"from\" must be a "
                                       "model name or a blob digest; file paths are refused "
                                       "(upload the file to /api/blobs and name it in \"files\", "
                                       "or use `hearth create`)",
                                       r.from));
    valid_name(r.from, "from");
    throw HttpError(404, fmt::format("model \"{}\" not found", r.from));
  }
  if (r.files.empty()) throw HttpError(400, "neither 'from' or 'files' was specified");
  for (const auto& [file, digest] : r.files) {
    if (file.empty() || file[0] == '/' || file.find("..") != std::string::npos)
      throw HttpError(400, "file path must be relative");
    if (!store::is_digest(digest)) throw HttpError(400, "invalid digest format");
  }
  for (const auto& [file, digest] : r.files) {
    std::string lower = file;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.size() < 5 || lower.compare(lower.size() - 5, 5, ".gguf") != 0) continue;
    return gguf_blob(store, digest, fmt::format("blob \"{}\" of file \"{}\"", digest, file));
  }
  throw HttpError(400,
                  "supplied file was not in GGUF format (hearth creates models from GGUF "
                  "files only)");
}

}  // namespace

namespace ollama {

void check_model_template(const std::string& text) {
  store::check_template(text);  // Go syntax first: its message says what to write instead
  try {
    chat::ChatTemplate parsed(text);
  } catch (const chat::TemplateError& e) {
    throw std::invalid_argument(std::string("TEMPLATE is not a valid Jinja template: ") + e.what());
  }
}

}  // namespace ollama

bool Server::Impl::ollama_models(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  const auto& m = req.method;

  if (p == "/api/tags") {
    if (m != "GET" && m != "HEAD") throw method_not_allowed("GET, HEAD");
    std::vector<ollama::LocalModel> out;
    for (const auto& e : store.list()) {
      ollama::LocalModel lm;
      lm.name = e.name;
      lm.modified_at = from_ns(e.modified_ns);
      lm.size = static_cast<int64_t>(e.size);
      lm.digest = hex_digest(e.digest);
      lm.details = cached_details(e.gguf_path);
      out.push_back(std::move(lm));
    }
    send_json(ex, 200, ollama::tags_response(out));
    return true;
  }

  if (p == "/api/ps") {
    if (m != "GET") throw method_not_allowed("GET");
    std::vector<ollama::RunningModel> out;
    // The model's digest as /api/tags gives it (its manifest's), as Ollama
    // does, so that a client can match the two lists; the weights' otherwise.
    std::map<std::string, std::string> digests;
    for (const auto& e : store.list()) digests[e.name] = hex_digest(e.digest);
    for (const auto& s : models.status()) {
      ollama::RunningModel r;
      r.name = s.name;
      r.size = static_cast<int64_t>(s.bytes);
      const auto known = digests.find(s.name);
      r.digest = known != digests.end()           ? known->second
                 : s.key.rfind("sha256:", 0) == 0 ? s.key.substr(7)
                                                  : "";
      if (!s.forever) r.expires_at = s.expires_at;
      r.context_length = s.n_ctx;
      r.details = cached_details(s.path);  // as /api/tags gives them
      r.queue.active = s.scheduler.active;
      r.queue.waiting = s.scheduler.queued;
      out.push_back(r);
    }
    send_json(ex, 200, ollama::ps_response(out));
    return true;
  }
  if (p == "/api/show") {
    if (m != "POST") throw method_not_allowed("POST");
    const auto r = ollama::parse_show_request(ollama::parse_body(req.body));
    ResolvedModel rm;
    try {
      rm = resolve(r.model);
    } catch (const HttpError& e) {
      if (e.status != 404) throw;
      throw HttpError(404, fmt::format("model \"{}\" not found", r.model));
    }
    store::ModelRecord rec;
    try {
      rec = store.resolve(r.model);
    } catch (const store::StoreError& e) {  // removed since resolve(): as resolve() says
      throw HttpError(dynamic_cast<const store::ModelNotFound*>(&e) ? 404 : 500, e.what());
    }
    const auto file = gguf::GgufFile::open(rec.gguf_path);
    const auto info = gguf::describe_model(*file);
    ollama::ModelInfo show;
    show.license = rec.license;
    show.parameters = ollama::format_parameters(rm.parameters);
    show.template_ =
        !rm.template_text.empty() ? rm.template_text : file->get_string("tokenizer.chat_template");
    show.system = r.system.empty() ? rm.system : r.system;
    auto mf = store::modelfile_of(rec);
    if (!show.system.empty()) mf.system = show.system;
    show.modelfile = store::write_modelfile(mf, rec.name);
    show.details = details_of(info);
    for (const auto& [role, content] : rm.messages) {
      ollama::Message msg;
      msg.role = role;
      msg.content = content;
      show.messages.push_back(std::move(msg));
    }
    show.model_info = model_info_json(*file, info.n_params, r.verbose);
    if (r.verbose)
      for (const auto& t : file->tensors()) {
        ollama::TensorInfo ti;
        ti.name = t.name;
        ti.type = std::string(gguf::type_name(t.type));
        std::transform(ti.type.begin(), ti.type.end(), ti.type.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        ti.shape.assign(t.dims, t.dims + t.n_dims);
        show.tensors.push_back(std::move(ti));
      }
    // hearth embeds with any model (mean pooling), but like Ollama lists
    // "embedding" only for embedding models; "tools" and "thinking" when the
    // template has a place for them, as Ollama lists them (hearth also calls
    // tools through any other template, in the system message).
    show.capabilities = {"completion"};
    if (chat::template_takes_tools(show.template_)) show.capabilities.push_back("tools");
    if (chat::template_thinks(show.template_)) show.capabilities.push_back("thinking");
    show.modified_at = from_ns(rec.modified_ns);
    send_json(ex, 200, ollama::show_response(show));
    return true;
  }

  if (p == "/api/copy") {
    if (m != "POST") throw method_not_allowed("POST");
    const auto r = ollama::parse_copy_request(ollama::parse_body(req.body));
    const store::ModelName from = valid_name(r.source, "source");
    if (valid_name(r.destination, "destination").key() == from.key())
      throw HttpError(400, fmt::format("cannot copy \"{}\" onto itself", r.source));
    try {
      store.copy(r.source, r.destination);
    } catch (const store::ModelNotFound&) {
      throw HttpError(404, fmt::format("model \"{}\" not found", r.source));
    } catch (const store::StoreError& e) {
      // The source gone meanwhile, else the store's failure (a damaged
      // manifest, a folder it cannot write): the server's, not the client's.
      if (!store.exists(r.source))
        throw HttpError(404, fmt::format("model \"{}\" not found", r.source));
      throw HttpError(500, e.what());
    }
    ex.respond(200, "", "", {});
    return true;
  }

  if (p == "/api/delete") {
    if (m != "DELETE") throw method_not_allowed("DELETE");
    const auto r = ollama::parse_delete_request(ollama::parse_body(req.body));
    valid_name(r.model, "name");
    const auto not_found = [&] {
      return HttpError(404, fmt::format("model \"{}\" not found", r.model));
    };
    std::string key;
    bool bundled = false;
    try {
      const ResolvedModel rm = resolve(r.model);
      key = rm.key;
      bundled = store.resolve(r.model).bundled;
    } catch (const HttpError& e) {
      if (e.status == 404) throw not_found();
      if (e.status != 500) throw;
      // A damaged entry (a missing blob, a changed imported file) can still be removed.
    }
    try {
      store.remove(r.model);
    } catch (const store::ModelNotFound& e) {
      if (bundled) throw HttpError(400, e.what());
      throw not_found();
    } catch (const store::StoreError& e) {
      throw HttpError(500, e.what());
    }
    // A loaded copy goes once its requests end (another name of the same
    // weights loads them again when asked).
    if (!key.empty()) models.unload(key);
    ex.respond(200, "", "", {});
    return true;
  }

  if (p.rfind("/api/blobs/", 0) == 0) {
    if (m != "HEAD" && m != "POST") throw method_not_allowed("HEAD, POST");
    const std::string given = p.substr(std::string_view("/api/blobs/").size());
    if (!store::is_digest(given)) throw HttpError(400, "invalid digest format");
    const std::string digest = store::parse_digest(given);
    if (m == "HEAD") {
      if (!store.has_blob(digest))
        throw HttpError(404, fmt::format("blob \"{}\" not found", given));
      ex.respond(200, "", "", {});
      return true;
    }
    if (store.has_blob(digest)) {  // as Ollama: the body is not needed
      ex.respond(200, "", "", {});
      return true;
    }
    try {
      store.write_blob(digest, [&ex](char* buf, size_t cap) { return ex.read_body(buf, cap); });
    } catch (const store::DigestMismatch& e) {
      const std::string got = received_digest(e.what(), digest);
      throw HttpError(400, got.empty() ? std::string(e.what())
                                       : fmt::format("digest mismatch, expected \"{}\", got \"{}\"",
                                                     given, got));
    } catch (const BodyError& e) {
      throw HttpError(e.status, e.what());
    }
    ex.respond(201, "", "", {});
    return true;
  }

  if (p == "/api/create") {
    if (m != "POST") throw method_not_allowed("POST");
    const auto r = ollama::parse_create_request(ollama::parse_body(req.body));
    valid_name(r.model, "model");
    if (!r.adapters.empty()) throw HttpError(400, "adapters are not supported");
    store::CreateSpec spec;
    spec.from = create_base(r, store);
    spec.from_paths = false;
    try {
      if (r.template_) ollama::check_model_template(*r.template_);
      if (!r.parameters.empty()) {
        spec.parameters = store::check_parameters(nlohmann::json::parse(r.parameters.dump()));
        settings_of(ollama::parse_options(r.parameters, "parameter").options);  // their ranges
      }
    } catch (const std::invalid_argument& e) {
      throw HttpError(400, e.what());
    }
    spec.template_text = r.template_;
    spec.system = r.system;
    if (r.license) {
      std::string text;
      for (const auto& l : *r.license) text += (text.empty() ? "" : "\n") + l;
      spec.license = text;
    }
    if (!r.messages.empty()) {
      spec.messages.emplace();
      for (const auto& msg : r.messages) {
        if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
          throw HttpError(400,
                          "message role must be one of \"system\", \"user\", or \"assistant\"");
        spec.messages->push_back({msg.role, msg.content});
      }
    }
    if (!r.quantize.empty()) {
      const auto ft = quant::find_file_type(r.quantize);
      if (!ft)
        throw HttpError(400, fmt::format("unsupported quantization type \"{}\"", r.quantize));
      spec.quantize = std::string(ft->name);
    }

    // This handler runs on a work thread, so a long quantization blocks no
    // I/O. Ollama's stream: progress lines, then {"status":"success"}; an
    // error before the first line is an ordinary error response, after it an
    // {"error"} line.
    bool began = false;
    const auto line = [&](const Json& j) {
      if (!began) ex.begin_stream(200, kNdjson);
      began = true;
      ex.write(j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
    };
    store::Progress progress;
    if (r.stream)
      progress = [&](const std::string& status) { line(ollama::progress_response(status)); };
    int status = 0;
    std::string error;
    try {
      store.create(r.model, spec, progress);
    } catch (const store::InvalidName& e) {
      status = 400, error = e.what();
    } catch (const std::invalid_argument& e) {
      status = 400, error = e.what();
    } catch (const store::ModelNotFound& e) {
      status = 404, error = e.what();
    } catch (const std::exception& e) {
      status = 500, error = e.what();
    }
    if (!error.empty()) {
      spdlog::warn("create {}: {}", r.model, error);
      if (!began) throw HttpError(status, error);
      line(ollama::error_response(without_paths(error)));  // as every other error response
      ex.end_stream();
      return true;
    }
    if (!r.stream) {
      send_json(ex, 200, ollama::progress_response("success"));
      return true;
    }
    line(ollama::progress_response("success"));
    ex.end_stream();
    return true;
  }
  return false;
}

}  // namespace hearth::server
