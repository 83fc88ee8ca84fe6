// Writes the seed corpora of the text fuzzers from the repository's test data:
//   text_seed_corpus tokenizer DIR  the texts of tests/data/vocab/*.inp (split at
//                                   "\n__ggml_vocab_test__\n"), one file each
//   text_seed_corpus template DIR   each template of tests/data/templates/golden.json,
//                                   and each case of features.json as its
//                                   template, a NUL byte and its context JSON
//   text_seed_corpus schema DIR     JSON schemas of the kinds grammar/ supports
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void save(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

int tokenizer_seeds(const fs::path& dir) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(HEARTH_SOURCE_DIR) / "tests/data/vocab")) {
    if (e.path().extension() != ".inp") continue;
    const std::string all = slurp(e.path());
    const std::string stem = e.path().stem().stem().string();  // ggml-vocab-NAME
    size_t pos = 0;
    for (int i = 0; pos <= all.size(); ++i) {
      size_t hit = all.find(sep, pos);
      if (hit == std::string::npos) hit = all.size();
      save(dir / (stem + "-" + std::to_string(i)), all.substr(pos, hit - pos));
      ++n;
      pos = hit + sep.size();
    }
  }
  return n;
}

int template_seeds(const fs::path& dir) {
  const fs::path data = fs::path(HEARTH_SOURCE_DIR) / "tests/data/templates";
  const auto golden = nlohmann::json::parse(slurp(data / "golden.json"));
  int n = 0;
  for (const auto& [name, t] : golden.at("templates").items()) {
    save(dir / ("golden-" + std::to_string(n++)), t.at("template").get<std::string>());
  }
  const auto features = nlohmann::json::parse(slurp(data / "features.json"));
  int i = 0;
  for (const auto& c : features.at("cases")) {
    std::string bytes = c.at("template").get<std::string>();
    if (c.contains("context")) bytes += '\0' + c.at("context").dump();
    save(dir / ("feature-" + std::to_string(i++)), bytes);
    ++n;
  }
  return n;
}

int schema_seeds(const fs::path& dir) {
  static const char* const kSchemas[] = {
      "null",
      R"("json")",
      (R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},)"
       R"("age":{"type":"integer","minimum":0,"maximum":150},"role":{"enum":["a","b"]},)"
       R"("ok":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"},"maxItems":3}},)"
       R"("required":["name","age"]})"),
      R"({"type":"integer","minimum":-5,"maximum":5})",
      R"({"type":"number","minimum":0.5,"exclusiveMaximum":2.5})",
      R"({"anyOf":[{"type":"string","minLength":2},{"type":"null"},{"type":"number"}]})",
      (R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},)"
       R"("kids":{"type":"array","items":{"$ref":"#/$defs/n"}}},"required":["v"]}},)"
       R"("$ref":"#/$defs/n"})"),
      R"({"type":"object","properties":{"a":{"const":1}},"additionalProperties":{"type":"null"}})",
      R"({"type":["string","integer"],"enum":["x",1,2.5,null,{"k":[]}]})",
  };
  int n = 0;
  for (const char* s : kSchemas) save(dir / ("schema-" + std::to_string(n++)), s);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s tokenizer|template|schema DIR\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[1];
  const fs::path dir = argv[2];
  try {
    fs::create_directories(dir);
    int n;
    if (kind == "tokenizer") {
      n = tokenizer_seeds(dir);
    } else if (kind == "template") {
      n = template_seeds(dir);
    } else if (kind == "schema") {
      n = schema_seeds(dir);
    } else {
      std::fprintf(stderr, "unknown corpus '%s' (tokenizer, template or schema)\n", kind.c_str());
      return 2;
    }
    std::printf("wrote %d %s seeds to %s\n", n, kind.c_str(), dir.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "text_seed_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
