// Store::create and Store::import_gguf: a model made from a Modelfile's
// spec or a GGUF file, its big blob written outside the store's lock and the
// manifest committed under it (store.h).
#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fs/atomic_file.h"
#include "gguf/reader.h"
#include "model/hparams.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"
#include "store/sha256.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "threads/thread_pool.h"

namespace stdfs = std::filesystem;

namespace hearth::store {

using namespace detail;  // NOLINT: the module's own helpers

namespace {

// The quantization type a create asks for ("" for none) by its canonical
// name, checked before anything is copied or written.
std::string quantize_type(const std::string& type) {
  if (type.empty()) return "";
  if (const auto ft = quant::find_file_type(type)) return std::string(ft->name);
  std::string known;
  for (const quant::FileType& f : quant::file_types())
    known += (known.empty() ? "" : ", ") + std::string(f.name);
  throw std::invalid_argument("unknown quantization type " + fs::quoted_path(type) +
                              " (expected one of: " + known + ")");
}

// What quant::quantize_model would refuse in the middle of its work, refused
// before it (and before a create's stream of progress begins): converting
// tensors already quantized, which adds a second rounding to the first.
void check_not_quantized(const std::string& gguf_path, const std::string& type,
                         const std::string& from) {
  const auto file = gguf::GgufFile::open(gguf_path);
  if (const auto r =
          quant::find_requantized(*file, model::mix_shape(*file), *quant::find_file_type(type)))
    throw std::invalid_argument("cannot quantize " + fs::quoted_path(from) + " to " + type +
                                ": it is already quantized (tensor " + fs::quoted_path(r->tensor) +
                                " is " + std::string(gguf::type_name(r->type)) +
                                "), and quantizing again adds a second rounding to the first; "
                                "start from an F16 or F32 model");
}

// The file a create's FROM names, when there is one (Ollama's rule: a file
// first, else a model name). A relative path is relative to base_dir.
std::optional<std::string> from_file(const CreateSpec& spec) {
  if (!spec.from_paths) return std::nullopt;
  stdfs::path p = spec.from;
  if (p.is_relative() && !spec.base_dir.empty() && spec.base_dir != ".")
    p = stdfs::path(spec.base_dir) / p;
  std::error_code ec;
  if (!stdfs::is_regular_file(p, ec)) return std::nullopt;
  return p.string();
}

}  // namespace

void Store::create(std::string_view name_text, const CreateSpec& spec, const Progress& progress) {
  const ModelName name = parse_name(name_text);
  if (spec.template_text) check_template(*spec.template_text);
  std::optional<nlohmann::json> parameters;
  if (spec.parameters) parameters = check_parameters(*spec.parameters);
  if (spec.messages)
    for (const Message& msg : *spec.messages)
      if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
        throw std::invalid_argument("message role must be system, user or assistant, not " +
                                    fs::quoted_path(msg.role));
  if (spec.from.empty()) throw std::invalid_argument("no base model given (FROM)");
  const std::string quantize = quantize_type(spec.quantize);

  // The base: its layers, and the GGUF they stand for. The small blobs the
  // new manifest needs are kept in memory and written at the commit, so that
  // removing the base meanwhile cannot take them.
  Manifest m;
  std::string gguf_path;
  std::vector<std::string> small;
  std::string fresh;  // a model blob this create wrote: it goes again if the create fails
  if (is_digest(spec.from)) {
    const std::string d = parse_digest(spec.from);
    if (!has_blob(d)) throw ModelNotFound("blob " + d + " is not in the store (upload it first)");
    gguf_path = blob_path(d);
    check_gguf(gguf_path);
    struct stat st;
    stat(gguf_path.c_str(), &st);
    m.layers.push_back({std::string(media::kModel), d, static_cast<uint64_t>(st.st_size)});
  } else if (const auto file = from_file(spec)) {
    check_gguf(*file);
    gguf_path = *file;  // a quantization reads it where it is: no copy of the original
    if (quantize.empty()) {
      const Layer l = model_blob_from_file(*file, progress, fresh);
      m.layers.push_back(l);
      gguf_path = blob_path(l.digest);
    }
  } else {
    if (!is_valid_name(spec.from)) {
      std::string why;
      try {
        parse_name(spec.from);
      } catch (const InvalidName& e) {
        why = e.what();
      }
      const bool elsewhere = spec.from_paths && stdfs::path(spec.from).is_relative() &&
                             !spec.base_dir.empty() && spec.base_dir != ".";
      throw ModelNotFound("FROM " + fs::quoted_path(spec.from) + ": " +
                          (spec.from_paths
                               ? std::string("no such file") +
                                     (elsewhere ? " in " + fs::quoted_path(spec.base_dir) : "") +
                                     ", and not a model name either (" + why + ")"
                               : why));
    }
    if (!exists(spec.from))
      throw ModelNotFound(
          "FROM " + fs::quoted_path(spec.from) + ": " +
          (spec.from_paths ? "no such file, and no model of that name" : "no model of that name") +
          " (`hearth list` shows the models)");
    const ModelName base = parse_name(spec.from);
    if (const auto found = find_manifest(base)) {
      m = Manifest::parse(read_small(found->path, kMaxTextBlob), found->path);
      for (const Layer& l : m.layers)
        for (const std::string_view text : {media::kTemplate, media::kSystem, media::kLicense,
                                            media::kParams, media::kMessages, media::kModelLink})
          if (l.media_type == text) small.push_back(read_blob_text(l, spec.from));
    } else {
      const ModelRecord r = resolve(spec.from);  // bundled, or ModelNotFound
      if (quantize.empty())                      // else the quantized blob replaces the link
        m.layers.push_back(link_layer(r.gguf_path, r.model_digest, progress, small));
    }
    gguf_path = resolve(spec.from).gguf_path;  // checks the blobs and links it uses
  }

  try {
    if (!quantize.empty()) {
      check_not_quantized(gguf_path, quantize, spec.from);
      if (progress) progress("quantizing to " + quantize);
      make_dirs(root_ + "/blobs");
      fs::AtomicFile out(root_ + "/blobs/" + kIncoming, blob_options());
      out.clear_for_writer();
      quant::QuantizeOptions qo;
      qo.type = quantize;
      // Quantizing is a rare, long job of its own: its pool lives as long as it.
      threads::ThreadPool pool(std::nullopt);
      quant::quantize_model(gguf_path, model::mix_shape(*gguf::GgufFile::open(gguf_path)),
                            out.temp_path(), qo, pool);
      const std::string digest = sha256_file(out.temp_path());
      struct stat st;
      if (stat(out.temp_path().c_str(), &st) != 0)
        throw StoreError("quantizing wrote no file at " + fs::quoted_path(out.temp_path()));
      if (!has_blob(digest)) fresh = digest;
      out.commit_as(blob_path(digest));
      m.erase(media::kModelLink);
      m.set({std::string(media::kModel), digest, static_cast<uint64_t>(st.st_size)});
      gguf_path = blob_path(digest);
    }

    const auto set_blob = [&](std::string_view type, std::string bytes) {
      m.set({std::string(type), sha256_digest(bytes), bytes.size()});
      small.push_back(std::move(bytes));
    };
    const auto set_text = [&](std::string_view type, const std::optional<std::string>& v) {
      if (!v) return;
      if (v->empty()) {
        m.erase(type);
        return;
      }
      set_blob(type, *v);
    };
    set_text(media::kTemplate, spec.template_text);
    set_text(media::kSystem, spec.system);
    set_text(media::kLicense, spec.license);
    if (parameters) {
      nlohmann::json params = nlohmann::json::object();
      if (const Layer* l = m.find(media::kParams)) {
        for (const std::string& bytes : small)
          if (sha256_digest(bytes) == l->digest)
            params = nlohmann::json::parse(bytes, nullptr, false);
        if (!params.is_object()) params = nlohmann::json::object();
      }
      for (const auto& [k, v] : parameters->items())
        params[k] = k == "stop" && v.is_string() ? nlohmann::json::array({v}) : v;
      set_blob(media::kParams, params.dump());
    }
    if (spec.messages) {
      if (spec.messages->empty()) {
        m.erase(media::kMessages);
      } else {
        nlohmann::json j = nlohmann::json::array();
        for (const Message& msg : *spec.messages)
          j.push_back({{"role", msg.role}, {"content", msg.content}});
        set_blob(media::kMessages, j.dump());
      }
    }
  } catch (...) {
    discard(fresh);
    throw;
  }
  commit_new(name, m, gguf_path, small, fresh);
}

void Store::commit_new(const ModelName& name, Manifest& m, const std::string& gguf_path,
                       std::vector<std::string>& small, const std::string& fresh) {
  try {
    m.config = config_layer(gguf_path, m, small);
    const StoreLock lock(root_);
    commit(name, m, small);
  } catch (...) {
    discard(fresh);
    throw;
  }
}

void Store::import_gguf(std::string_view name_text, const std::string& path, bool copy,
                        const Progress& progress) {
  const ModelName name = parse_name(name_text);
  std::error_code ec;
  const stdfs::path real = stdfs::canonical(path, ec);
  if (ec) throw StoreError("cannot import " + fs::quoted_path(path) + ": " + ec.message());
  if (!stdfs::is_regular_file(real, ec))
    throw StoreError("cannot import " + fs::quoted_path(path) + ": not a regular file");
  check_gguf(real.string());
  Manifest m;
  std::string gguf_path;
  std::vector<std::string> small;
  std::string fresh;  // a model blob this import wrote: it goes again if the import fails
  try {
    if (copy) {
      const Layer l = model_blob_from_file(real.string(), progress, fresh);
      m.layers.push_back(l);
      gguf_path = blob_path(l.digest);
    } else {
      m.layers.push_back(link_layer(real.string(), "", progress, small));
      gguf_path = real.string();
    }
  } catch (...) {
    discard(fresh);
    throw;
  }
  commit_new(name, m, gguf_path, small, fresh);
}

}  // namespace hearth::store
