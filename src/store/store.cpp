#include "store/store.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "fs/atomic_file.h"
#include "fs/read_file.h"
#include "gguf/model_info.h"
#include "gguf/reader.h"
#include "model/hparams.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"
#include "store/resolve.h"
#include "store/sha256.h"
#include "store/store_internal.h"
#include "threads/thread_pool.h"

namespace stdfs = std::filesystem;

namespace hearth::store {

using namespace detail;  // NOLINT: the module's own helpers

namespace {

int64_t stat_mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// The in-place import record of a GGUF (the blob of a kModelLink layer).
struct Link {
  std::string path, digest;
  uint64_t size = 0, inode = 0, dev = 0;
  int64_t mtime_ns = 0;

  std::string to_json() const {
    return nlohmann::json{{"path", path},   {"size", size}, {"mtime_ns", mtime_ns},
                          {"inode", inode}, {"dev", dev},   {"digest", digest}}
               .dump(2) +
           "\n";
  }
  static Link parse(const std::string& text, const std::string& where) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    try {
      if (!j.is_object()) throw std::runtime_error("not a JSON object");
      Link l;
      l.path = j.at("path").get<std::string>();
      l.digest = parse_digest(j.at("digest").get<std::string>());
      l.size = j.at("size").get<uint64_t>();
      l.inode = j.at("inode").get<uint64_t>();
      l.dev = j.value("dev", uint64_t{0});
      l.mtime_ns = j.at("mtime_ns").get<int64_t>();
      if (l.path.empty() || l.path[0] != '/') throw std::runtime_error("path is not absolute");
      return l;
    } catch (const std::exception& e) {
      throw StoreError("damaged import record " + where + ": " + e.what());
    }
  }
  // "" when the file is as imported; else why not.
  std::string changed() const {
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
      return std::string("which is gone (") + std::strerror(errno) + ")";
    if (static_cast<uint64_t>(st.st_size) != size || static_cast<uint64_t>(st.st_ino) != inode ||
        (dev != 0 && static_cast<uint64_t>(st.st_dev) != dev) ||
        stat_mtime_ns(st) != this->mtime_ns)
      return "which has changed since";
    return "";
  }
};

}  // namespace

CreateSpec CreateSpec::from_modelfile(const Modelfile& mf, std::string base_dir) {
  CreateSpec s;
  s.from = mf.from;
  s.base_dir = std::move(base_dir);
  s.template_text = mf.template_text;
  s.system = mf.system;
  s.license = mf.license;
  if (!mf.parameters.empty()) s.parameters = mf.parameters;
  if (!mf.messages.empty()) s.messages = mf.messages;
  return s;
}

Modelfile modelfile_of(const ModelRecord& rec) {
  Modelfile mf;
  mf.from = rec.gguf_path;
  if (!rec.template_text.empty()) mf.template_text = rec.template_text;
  if (!rec.system.empty()) mf.system = rec.system;
  if (!rec.license.empty()) mf.license = rec.license;
  mf.parameters = rec.parameters;
  mf.messages = rec.messages;
  return mf;
}

Store::Store(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Store::default_root() {
  if (const char* home = std::getenv("HEARTH_HOME"); home && *home)
    return std::string(home) + "/models";
  const char* user_home = std::getenv("HOME");
  if (!user_home || !*user_home) {
    const struct passwd* pw = getpwuid(getuid());
    user_home = pw ? pw->pw_dir : "/";
  }
  return std::string(user_home) + "/.hearth/models";
}

// ---- blobs ----

std::string Store::blob_path(std::string_view digest) const {
  return root_ + "/blobs/" + blob_file_name(parse_digest(digest));
}

bool Store::has_blob(std::string_view digest) const {
  struct stat st;
  return lstat(blob_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

namespace detail {

std::string read_small(const std::string& path, uint64_t max) {
  try {
    return fs::read_file(path, max, /*regular_only=*/true);
  } catch (const fs::FileError& e) {
    throw StoreError(e.what());
  }
}

void check_gguf(const std::string& path) {
  try {
    gguf::GgufFile::open(path);
  } catch (const std::exception& e) {
    throw StoreError(fs::quoted_path(path) + " is not a readable GGUF model: " + e.what());
  }
}

fs::AtomicFileOptions blob_options() {
  fs::AtomicFileOptions o;
  o.force = true;  // a verified blob may replace a damaged one of the same name
  return o;
}

void make_dirs(const std::string& dir) {
  // The folders the store makes are its user's alone (0700): manifests name
  // the models a person keeps, and `hearth doctor` warns of a store others
  // can read. A folder that exists keeps its mode.
  stdfs::path p;
  for (const auto& part : stdfs::path(dir)) {
    p /= part;
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
      throw StoreError("cannot create the folder " + fs::quoted_path(p.string()) + ": " +
                       std::strerror(errno));
  }
  std::error_code ec;
  if (!stdfs::is_directory(dir, ec))
    throw StoreError("cannot create the folder " + fs::quoted_path(dir) + ": not a folder");
}

StoreLock::StoreLock(const std::string& root) {
  make_dirs(root);
  const std::string path = root + "/store.lock";
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);  // a read-only store
  if (fd_ < 0)
    throw StoreError("cannot open " + fs::quoted_path(path) + ": " + std::strerror(errno));
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    close(fd_);
    throw StoreError("cannot lock " + fs::quoted_path(path) + ": " + std::strerror(err));
  }
}

StoreLock::~StoreLock() { close(fd_); }  // releases the lock

}  // namespace detail

void Store::write_blob(std::string_view digest, const ByteSource& source) {
  const std::string want = parse_digest(digest);
  make_dirs(root_ + "/blobs");
  fs::AtomicFile f(blob_path(want), blob_options());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const size_t n = source(buf.data(), buf.size());
    if (n == 0) break;
    h.update(buf.data(), n);
    f.write(buf.data(), n);
  }
  const std::string got = h.digest();
  if (got != want)
    throw DigestMismatch("blob " + want + ": the bytes received hash to " + got +
                         " (nothing was stored)");
  f.commit();
}

void Store::import_blob_from_file(const std::string& path, std::string_view expected_digest) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw StoreError("cannot read " + fs::quoted_path(path) + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  write_blob(expected_digest, [&](char* buf, size_t cap) -> size_t {
    for (;;) {
      const ssize_t n = read(fd, buf, cap);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR)
        throw StoreError("cannot read " + fs::quoted_path(path) + ": " + std::strerror(errno));
    }
  });
}

std::string Store::add_blob(std::string_view bytes) {
  const std::string digest = sha256_digest(bytes);
  if (has_blob(digest)) {
    struct stat st;
    if (stat(blob_path(digest).c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.st_size) == bytes.size())
      return digest;
  }
  make_dirs(root_ + "/blobs");
  fs::write_file_atomic(blob_path(digest), bytes, blob_options());
  return digest;
}

Layer Store::model_blob_from_file(const std::string& path, const Progress& progress,
                                  std::string& fresh) {
  check_gguf(path);
  if (progress) progress("copying " + path + " into the store");
  make_dirs(root_ + "/blobs");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw StoreError("cannot read " + fs::quoted_path(path) + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  fs::AtomicFile f(root_ + "/blobs/" + kIncoming, blob_options());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t size = 0;
  for (;;) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw StoreError("cannot read " + fs::quoted_path(path) + ": " + std::strerror(errno));
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    f.write(buf.data(), static_cast<size_t>(n));
    size += static_cast<uint64_t>(n);
  }
  const std::string digest = h.digest();
  if (!has_blob(digest)) fresh = digest;
  f.commit_as(blob_path(digest));
  return {std::string(media::kModel), digest, size};
}

Layer Store::link_layer(const std::string& path, const std::string& digest, Progress progress,
                        std::vector<std::string>& small) {
  struct stat before;
  if (stat(path.c_str(), &before) != 0)
    throw StoreError("cannot read " + fs::quoted_path(path) + ": " + std::strerror(errno));
  Link l;
  l.path = path;
  l.digest = digest;
  if (l.digest.empty()) {
    if (progress) progress("computing the SHA-256 of " + path);
    l.digest = sha256_file(path);
  }
  l.size = static_cast<uint64_t>(before.st_size);
  l.inode = static_cast<uint64_t>(before.st_ino);
  l.dev = static_cast<uint64_t>(before.st_dev);
  l.mtime_ns = stat_mtime_ns(before);
  if (const std::string why = l.changed(); !why.empty())
    throw StoreError(fs::quoted_path(path) + " changed while it was being read; try again");
  std::string json = l.to_json();
  const Layer layer{std::string(media::kModelLink), sha256_digest(json), json.size()};
  small.push_back(std::move(json));
  return layer;
}

Layer Store::config_layer(const std::string& gguf_path, const Manifest& m,
                          std::vector<std::string>& small) {
  nlohmann::json c = {{"model_format", "gguf"}};
  try {
    const auto file = gguf::GgufFile::open(gguf_path);
    const gguf::ModelInfo info = gguf::describe_model(*file);
    c["model_family"] = info.architecture;
    c["model_families"] = nlohmann::json::array({info.architecture});
    c["file_type"] = info.quantization;
    c["parameter_count"] = info.n_params;
  } catch (const std::exception& e) {
    throw StoreError(fs::quoted_path(gguf_path) + " is not a readable GGUF model: " + e.what());
  }
  nlohmann::json ids = nlohmann::json::array();
  for (const Layer& l : m.layers) ids.push_back(l.digest);
  c["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
  std::string json = c.dump();
  const Layer layer{std::string(media::kConfig), sha256_digest(json), json.size()};
  small.push_back(std::move(json));
  return layer;
}

std::string Store::read_blob_text(const Layer& layer, const std::string& model) const {
  const std::string path = blob_path(layer.digest);
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    throw StoreError("model " + fs::quoted_path(model) + ": its blob " +
                     blob_file_name(layer.digest) +
                     " is missing from the store (create or import the model again)");
  std::string text = read_small(path, kMaxTextBlob);
  if (text.size() != layer.size)
    throw StoreError("model " + fs::quoted_path(model) + ": blob " + blob_file_name(layer.digest) +
                     " has " + std::to_string(text.size()) + " bytes, its manifest says " +
                     std::to_string(layer.size));
  return text;
}

// ---- manifests ----

std::optional<Store::Found> Store::find_manifest(const ModelName& name) const {
  const std::string exact = root_ + "/" + name.manifest_path();
  struct stat st;
  if (lstat(exact.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return Found{name, exact};
  // Names match case-insensitively: look for another spelling, level by level.
  const std::string want[4] = {ascii_lower(name.host), ascii_lower(name.ns),
                               ascii_lower(name.model), ascii_lower(name.tag)};
  std::string dir = root_ + "/manifests";
  std::string got[4];
  for (int level = 0; level < 4; ++level) {
    std::error_code ec;
    bool found = false;
    for (const auto& e : stdfs::directory_iterator(dir, ec)) {
      const std::string n = e.path().filename().string();
      if (ascii_lower(n) == want[level]) {
        got[level] = n;
        dir += "/" + n;
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  if (lstat(dir.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return Found{ModelName{got[0], got[1], got[2], got[3]}, dir};
}

std::vector<std::pair<std::string, Manifest>> Store::all_manifests(bool strict) const {
  std::vector<std::pair<std::string, Manifest>> out;
  const std::string top = root_ + "/manifests";
  std::error_code ec;
  if (!stdfs::is_directory(top, ec)) return out;
  stdfs::recursive_directory_iterator it(top, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it.depth() != 3 || !it->is_regular_file(ec)) continue;
    const stdfs::path rel = stdfs::relative(it->path(), top, ec);
    std::vector<std::string> parts;
    for (const auto& p : rel) parts.push_back(p.string());
    if (parts.size() != 4) continue;
    const std::string text = parts[0] + "/" + parts[1] + "/" + parts[2] + ":" + parts[3];
    if (!is_valid_name(text)) continue;  // a temporary file, or not ours
    try {
      out.emplace_back(text, Manifest::parse(read_small(it->path().string(), kMaxTextBlob),
                                             it->path().string()));
    } catch (const std::exception& e) {
      if (strict) throw StoreError(e.what());
    }
  }
  if (ec && strict) throw StoreError("cannot read " + fs::quoted_path(top) + ": " + ec.message());
  return out;
}

namespace {

// Every blob a manifest references: its config and its layers.
std::vector<std::string> digests_of(const Manifest& m) {
  std::vector<std::string> out = {m.config.digest};
  for (const Layer& l : m.layers) out.push_back(l.digest);
  return out;
}

}  // namespace

void Store::write_manifest(const ModelName& name, const Manifest& m) {
  // Replace another spelling of the same name in place.
  const auto found = find_manifest(name);
  const std::string path = found ? found->path : root_ + "/" + name.manifest_path();
  make_dirs(stdfs::path(path).parent_path().string());
  fs::AtomicFileOptions o;
  o.force = true;
  fs::write_file_atomic(path, m.to_json(), o);
}

void Store::commit(const ModelName& name, const Manifest& m,
                   const std::vector<std::string>& small) {
  const std::vector<std::string> digests = digests_of(m);
  for (const std::string& bytes : small)  // those `m` still references
    if (std::find(digests.begin(), digests.end(), sha256_digest(bytes)) != digests.end())
      add_blob(bytes);
  // A blob written before the lock (a copy, a quantization) or inherited
  // from the base model may have gone since, with a model removed meanwhile
  // that was the only other one to use it.
  for (const std::string& d : digests)
    if (!has_blob(d))
      throw StoreError("model " + fs::quoted_path(name.display()) + ": its blob " +
                       blob_file_name(d) +
                       " was removed while the model was being made (a model that used it was "
                       "removed meanwhile); nothing was written, try again");
  std::optional<Manifest> old;
  if (const auto found = find_manifest(name)) try {
      old = Manifest::parse(read_small(found->path, kMaxTextBlob), found->path);
    } catch (const std::exception&) {
    }
  write_manifest(name, m);
  if (old) remove_unreferenced(digests_of(*old));
}

size_t Store::remove_unreferenced(const std::vector<std::string>& digests) {
  std::set<std::string> used;
  try {
    for (const auto& [text, m] : all_manifests(true))
      for (const std::string& d : digests_of(m)) used.insert(d);
  } catch (const StoreError&) {
    return 0;  // a manifest we cannot read may use any blob: keep them all
  }
  size_t n = 0;
  for (const std::string& d : std::set<std::string>(digests.begin(), digests.end()))
    if (!used.count(d) && unlink(blob_path(d).c_str()) == 0) ++n;
  return n;
}

void Store::discard(const std::string& digest) {
  if (digest.empty()) return;
  try {
    const StoreLock lock(root_);
    remove_unreferenced({digest});
  } catch (const std::exception&) {  // the error that brought us here matters more
  }
}

// ---- models ----

namespace {

// The bundled model's file when `n` names one ("tiny-kjv", "TINY-KJV:Latest":
// names match without case, as the store's own do).
std::optional<std::string> bundled_file_of(const ModelName& n) {
  if (ascii_lower(n.host) != kDefaultHost || ascii_lower(n.ns) != kDefaultNamespace ||
      ascii_lower(n.tag) != kDefaultTag)
    return std::nullopt;
  return bundled_model_file(ascii_lower(n.model));
}

}  // namespace

ModelRecord Store::resolve(std::string_view text) const {
  const ModelName name = parse_name(text);
  const auto found = find_manifest(name);
  if (!found) {
    if (const auto file = bundled_file_of(name)) {
      ModelRecord r;
      r.name = name.display();
      r.gguf_path = *file;
      r.bundled = true;
      struct stat st;
      if (stat(file->c_str(), &st) != 0)
        throw StoreError("model " + fs::quoted_path(r.name) + ": bundled file " +
                         fs::quoted_path(*file) + " is missing");
      r.size = static_cast<uint64_t>(st.st_size);
      r.modified_ns = stat_mtime_ns(st);
      r.model_digest = bundled_model_digest(*file);
      return r;
    }
    throw ModelNotFound("model " + fs::quoted_path(std::string(text)) +
                        ": not a known model name (`hearth list` shows the models; "
                        "`hearth import NAME FILE.gguf` adds one)");
  }
  const std::string display = found->name.display();
  const std::string manifest_text = read_small(found->path, kMaxTextBlob);
  Manifest m;
  try {
    m = Manifest::parse(manifest_text, found->path);
  } catch (const std::exception& e) {
    throw StoreError("model " + fs::quoted_path(display) + ": " + e.what());
  }
  ModelRecord r;
  r.name = display;
  r.manifest_digest = sha256_digest(manifest_text);
  struct stat st;
  if (stat(found->path.c_str(), &st) == 0) r.modified_ns = stat_mtime_ns(st);
  if (const Layer* l = m.find(media::kModel)) {
    r.gguf_path = blob_path(l->digest);
    r.model_digest = l->digest;
    r.size = l->size;
    if (stat(r.gguf_path.c_str(), &st) != 0)
      throw StoreError("model " + fs::quoted_path(display) + ": its model blob " +
                       blob_file_name(l->digest) + " is missing from the store");
  } else if (const Layer* l = m.find(media::kModelLink)) {
    const Link link = Link::parse(read_blob_text(*l, display), blob_file_name(l->digest));
    if (const std::string why = link.changed(); !why.empty())
      throw StoreError("model " + fs::quoted_path(display) + " was imported from " +
                       fs::quoted_path(link.path) + ", " + why + " (re-import it: hearth import " +
                       display + " " + link.path + ")");
    r.gguf_path = link.path;
    r.model_digest = link.digest;
    r.size = link.size;
    r.imported_from = link.path;
  } else {
    throw StoreError("model " + fs::quoted_path(display) + ": its manifest has no model layer");
  }
  if (const Layer* l = m.find(media::kTemplate)) r.template_text = read_blob_text(*l, display);
  if (const Layer* l = m.find(media::kSystem)) r.system = read_blob_text(*l, display);
  if (const Layer* l = m.find(media::kLicense)) r.license = read_blob_text(*l, display);
  if (const Layer* l = m.find(media::kParams)) {
    r.parameters = nlohmann::json::parse(read_blob_text(*l, display), nullptr, false);
    if (!r.parameters.is_object())
      throw StoreError("model " + fs::quoted_path(display) +
                       ": its parameters are not a JSON object");
  }
  if (const Layer* l = m.find(media::kMessages)) {
    const auto j = nlohmann::json::parse(read_blob_text(*l, display), nullptr, false);
    if (!j.is_array())
      throw StoreError("model " + fs::quoted_path(display) + ": its messages are not a list");
    for (const auto& msg : j) {
      if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string() ||
          !msg.contains("content") || !msg["content"].is_string())
        throw StoreError("model " + fs::quoted_path(display) + ": a message lacks role or content");
      r.messages.push_back({msg["role"], msg["content"]});
    }
  }
  return r;
}

bool Store::exists(std::string_view name) const {
  try {
    const ModelName n = parse_name(name);
    return find_manifest(n) || bundled_file_of(n);
  } catch (const InvalidName&) {
    return false;
  }
}

std::vector<ModelEntry> Store::list() const {
  std::vector<ModelEntry> out;
  std::set<std::string> keys;
  for (const auto& [text, m] : all_manifests(false)) {
    const ModelName name = parse_name(text);
    ModelEntry e;
    e.name = name.display();
    const std::string path = root_ + "/" + name.manifest_path();
    try {
      e.digest = sha256_digest(read_small(path, kMaxTextBlob));
    } catch (const StoreError&) {
      continue;
    }
    struct stat st;
    if (stat(path.c_str(), &st) == 0) e.modified_ns = stat_mtime_ns(st);
    for (const Layer& l : m.layers) {
      if (l.media_type == media::kModelLink) {
        try {
          const Link link = Link::parse(read_blob_text(l, e.name), blob_file_name(l.digest));
          e.size += link.size;
          if (link.changed().empty()) e.gguf_path = link.path;
        } catch (const StoreError&) {
        }
        continue;
      }
      e.size += l.size;
      if (l.media_type == media::kModel) e.gguf_path = blob_path(l.digest);
    }
    keys.insert(name.key());
    out.push_back(std::move(e));
  }
  for (const std::string& b : bundled_model_names()) {
    const ModelName name = parse_name(b);
    if (keys.count(name.key())) continue;
    const auto file = bundled_model_file(b);
    struct stat st;
    if (!file || stat(file->c_str(), &st) != 0) continue;
    ModelEntry e;
    e.name = name.display();
    e.digest = bundled_model_digest(*file);
    e.size = static_cast<uint64_t>(st.st_size);
    e.modified_ns = stat_mtime_ns(st);
    e.gguf_path = *file;
    e.bundled = true;
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const ModelEntry& a, const ModelEntry& b) {
    if (a.bundled != b.bundled) return !a.bundled;
    if (a.modified_ns != b.modified_ns) return a.modified_ns > b.modified_ns;
    return a.name < b.name;
  });
  return out;
}

void Store::copy(std::string_view src, std::string_view dst) {
  const ModelName from = parse_name(src);
  const ModelName to = parse_name(dst);
  if (from.key() == to.key())
    throw StoreError("cannot copy " + fs::quoted_path(from.display()) + " onto itself");
  if (!find_manifest(from)) {
    const ModelRecord r = resolve(src);  // a bundled model, or ModelNotFound
    import_gguf(dst, r.gguf_path, false);
    return;
  }
  const StoreLock lock(root_);
  const auto found = find_manifest(from);  // again: it may have been removed meanwhile
  if (!found) throw ModelNotFound("model " + fs::quoted_path(std::string(src)) + " was removed");
  const std::string text = read_small(found->path, kMaxTextBlob);
  const Manifest m = Manifest::parse(text, found->path);  // refuse to copy a damaged one
  commit(to, m, {});
}

void Store::remove(std::string_view name) {
  const ModelName n = parse_name(name);
  const StoreLock lock(root_);
  const auto found = find_manifest(n);
  if (!found) {
    if (exists(name))
      throw ModelNotFound("model " + fs::quoted_path(n.display()) +
                          " is bundled with hearth and cannot be removed");
    throw ModelNotFound("model " + fs::quoted_path(std::string(name)) + ": not a known model name");
  }
  std::optional<Manifest> removed;
  try {
    removed = Manifest::parse(read_small(found->path, kMaxTextBlob), found->path);
  } catch (const std::exception&) {
  }
  if (unlink(found->path.c_str()) != 0)
    throw StoreError("cannot remove " + fs::quoted_path(found->path) + ": " + std::strerror(errno));
  // Empty folders up to manifests/.
  stdfs::path dir = stdfs::path(found->path).parent_path();
  const stdfs::path top = stdfs::path(root_) / "manifests";
  for (int i = 0; i < 3 && dir != top; ++i, dir = dir.parent_path())
    if (rmdir(dir.c_str()) != 0) break;
  if (removed) remove_unreferenced(digests_of(*removed));
}

size_t Store::prune() {
  all_manifests(true);  // throws StoreError naming a manifest it cannot read
  std::vector<std::string> blobs;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(root_ + "/blobs", ec)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("sha256-", 0) == 0 && is_digest(f)) blobs.push_back(parse_digest(f));
  }
  if (blobs.empty()) return 0;
  const StoreLock lock(root_);
  return remove_unreferenced(blobs);
}

}  // namespace hearth::store
