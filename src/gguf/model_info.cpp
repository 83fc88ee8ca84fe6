#include "gguf/model_info.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace hearth::gguf {

std::optional<std::string> file_type_name(uint64_t id) {
  // llama.cpp's llama_ftype numbering (ids 4-6 were retired formats).
  static constexpr std::array<std::pair<uint64_t, const char*>, 17> kNames = {{
      {0, "F32"},
      {1, "F16"},
      {2, "Q4_0"},
      {3, "Q4_1"},
      {7, "Q8_0"},
      {8, "Q5_0"},
      {9, "Q5_1"},
      {10, "Q2_K"},
      {11, "Q3_K_S"},
      {12, "Q3_K_M"},
      {13, "Q3_K_L"},
      {14, "Q4_K_S"},
      {15, "Q4_K_M"},
      {16, "Q5_K_S"},
      {17, "Q5_K_M"},
      {18, "Q6_K"},
      {32, "BF16"},
  }};
  for (const auto& [i, name] : kNames)
    if (i == id) return name;
  return std::nullopt;
}

ModelInfo describe_model(const GgufFile& f) {
  ModelInfo m;
  m.path = f.path();
  m.file_size = f.file_size();
  m.architecture = f.get_string("general.architecture");
  m.name = f.get_string("general.name");

  std::map<std::string, uint64_t> bytes_by_type;
  for (const TensorInfo& t : f.tensors()) {
    m.n_params += t.n_elements();
    m.weights_bytes += t.n_bytes;
    const std::string type(type_name(t.type));
    ++m.type_counts[type];
    bytes_by_type[type] += t.n_bytes;
  }

  if (f.has("general.file_type")) {
    const uint64_t id = f.get_uint("general.file_type", 0);
    m.quantization = file_type_name(id).value_or("unknown (" + std::to_string(id) + ")");
  } else if (!bytes_by_type.empty()) {
    auto most = std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                                 [](const auto& x, const auto& y) { return x.second < y.second; });
    m.quantization = most->first;
    std::transform(m.quantization.begin(), m.quantization.end(), m.quantization.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  }

  m.tokenizer_model = f.get_string("tokenizer.ggml.model");
  if (f.has("tokenizer.ggml.bos_token_id")) m.bos_id = f.get_int("tokenizer.ggml.bos_token_id", 0);
  if (f.has("tokenizer.ggml.eos_token_id")) m.eos_id = f.get_int("tokenizer.ggml.eos_token_id", 0);
  m.has_chat_template = !f.get_string("tokenizer.chat_template").empty();
  return m;
}

}  // namespace hearth::gguf
