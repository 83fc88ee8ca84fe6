#include "store/resolve.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

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

std::string resolve_model(const std::string& model) {
  std::error_code ec;
  if (model.empty()) throw std::runtime_error("no model given");
  if (fs::is_regular_file(model, ec)) return model;
  std::string name = model;
  if (auto colon = name.find(':'); colon != std::string::npos && name.substr(colon) == ":latest")
    name = name.substr(0, colon);
  const std::string dir = bundled_models_dir();
  for (const Bundled& b : kBundled)
    if (name == b.name) {
      fs::path p = fs::path(dir) / b.file;
      if (fs::is_regular_file(p, ec)) return p.string();
      throw std::runtime_error("model '" + model + "': bundled file " + p.string() + " is missing");
    }
  if (fs::path(model).has_extension() || model.find('/') != std::string::npos)
    throw std::runtime_error("model '" + model + "': no such file");
  throw std::runtime_error("model '" + model +
                           "': not a file and not a known model name (known: tiny-kjv)");
}

}  // namespace hearth::store
