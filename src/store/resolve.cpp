#include "store/resolve.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

#include "store/name.h"
#include "store/sha256.h"
#include "store/store.h"

namespace fs = std::filesystem;

namespace hearth::store {

namespace {

// Bundled names and the file each stands for.
struct Bundled {
  const char* name;
  const char* file;
};
constexpr Bundled kBundled[] = {{"tiny-kjv", "tiny-kjv-f16.gguf"}};

fs::path exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p.parent_path();
}

bool looks_like_path(const std::string& model) {
  return model.find('/') != std::string::npos ||
         (model.size() >= 5 && model.compare(model.size() - 5, 5, ".gguf") == 0);
}

}  // namespace

std::string bundled_models_dir() {
  if (const char* env = std::getenv("HEARTH_MODELS"); env && *env) return env;
  fs::path exe = exe_dir();
  for (const fs::path& candidate : {exe / ".." / "models", exe / "models"}) {
    std::error_code ec;
    if (fs::exists(candidate / kBundled[0].file, ec))
      return fs::weakly_canonical(candidate).string();
  }
  return fs::path(HEARTH_SOURCE_DIR) / "models";
}

std::vector<std::string> bundled_model_names() {
  std::vector<std::string> names;
  for (const Bundled& b : kBundled) names.push_back(b.name);
  return names;
}

std::optional<std::string> bundled_model_file(const std::string& model) {
  for (const Bundled& b : kBundled)
    if (model == b.name) return (fs::path(bundled_models_dir()) / b.file).string();
  return std::nullopt;
}

std::string bundled_model_digest(const std::string& path) {
  static std::mutex mu;
  static std::map<std::tuple<std::string, off_t, int64_t>, std::string> cache;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  const auto key = std::make_tuple(
      path, st.st_size, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  {
    const std::lock_guard lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const std::string digest = sha256_file(path);
  const std::lock_guard lock(mu);
  cache[key] = digest;
  return digest;
}

ModelRecord resolve_model_record(const std::string& model) {
  if (model.empty()) throw std::runtime_error("no model given");
  if (looks_like_path(model)) {
    std::error_code ec;
    if (fs::is_regular_file(model, ec)) {
      ModelRecord file;
      file.gguf_path = model;
      return file;
    }
    // "alice/foo" is also a model name: a path only when it names no file.
    const bool gguf = model.size() >= 5 && model.compare(model.size() - 5, 5, ".gguf") == 0;
    if (gguf || !is_valid_name(model) || fs::exists(model, ec))
      throw std::runtime_error("model '" + model + "': no such file");
  }
  try {
    return Store(Store::default_root()).resolve(model);
  } catch (const InvalidName& e) {
    throw std::runtime_error(e.what());
  }
}

std::string resolve_model(const std::string& model) {
  return resolve_model_record(model).gguf_path;
}

}  // namespace hearth::store
