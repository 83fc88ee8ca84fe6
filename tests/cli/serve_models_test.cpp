// `hearth serve`'s model-management routes, as Ollama's: /api/tags, /api/show,
// /api/copy, /api/delete, /api/create and /api/blobs/:digest, over real HTTP
// against a real server with its own store. Model: the bundled tiny-kjv.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "cli/hearth_server.h"
#include "gguf/reader.h"
#include "gguf/writer.h"

namespace hearth::test {
namespace {

using nlohmann::json;

const std::string kModelFile = std::string(HEARTH_TINY_KJV);

HearthServer& shared() {
  static HearthServer s("--parallel 2");
  return s;
}

json greedy(int n) { return {{"temperature", 0}, {"num_predict", n}}; }

HttpResponse send(HearthServer& s, const std::string& method, const std::string& path,
                  const json& body) {
  return http_request(s.port(), method, path, body.dump());
}

std::string read_file(const std::string& path) { return slurp(path); }

// POST `bytes` to `target` as one request with a chunked body, `chunk` bytes a chunk.
HttpResponse post_chunked(int port, const std::string& target, const std::string& bytes,
                          size_t chunk) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                        static_cast<unsigned short>(port)));
  stream.expires_after(std::chrono::seconds(120));
  http::request<http::empty_body> req(http::verb::post, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/octet-stream");
  req.chunked(true);
  http::request_serializer<http::empty_body> sr(req);
  http::write_header(stream, sr);
  for (size_t i = 0; i < bytes.size(); i += chunk)
    net::write(stream,
               http::make_chunk(net::buffer(bytes.data() + i, std::min(chunk, bytes.size() - i))));
  net::write(stream, http::make_chunk_last());
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return {static_cast<int>(res.result_int()), res.body(), {}};
}

// The status of a HEAD request (whose answer has a Content-Length but no body).
int head(int port, const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                        static_cast<unsigned short>(port)));
  stream.expires_after(std::chrono::seconds(30));
  http::request<http::empty_body> req(http::verb::head, target, 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::empty_body> p;
  p.skip(true);
  http::read(stream, buf, p);
  return static_cast<int>(p.get().result_int());
}

json generate(HearthServer& s, const std::string& model, const json& options) {
  auto r = s.post("/api/generate", {{"model", model},
                                    {"prompt", "In the beginning"},
                                    {"raw", true},
                                    {"stream", false},
                                    {"options", options}});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json();
}

std::vector<std::string> tag_names(HearthServer& s) {
  std::vector<std::string> out;
  const json tags = s.get("/api/tags").json();
  for (const auto& m : tags["models"]) out.push_back(m["name"]);
  return out;
}

bool listed(HearthServer& s, const std::string& name) {
  const auto names = tag_names(s);
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(ServeModels, TagsListsTheBundledModelWithItsDetails) {
  auto& s = shared();
  auto r = s.get("/api/tags");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json; charset=utf-8");
  json kjv;
  const json tags = r.json();
  for (const auto& m : tags["models"])
    if (m["name"] == "tiny-kjv:latest") kjv = m;
  ASSERT_TRUE(kjv.is_object()) << r.body;
  EXPECT_EQ(kjv["model"], "tiny-kjv:latest");
  EXPECT_TRUE(std::regex_match(kjv["digest"].get<std::string>(), std::regex("[0-9a-f]{64}")));
  EXPECT_EQ(kjv["size"], read_file(kModelFile).size());
  EXPECT_TRUE(std::regex_match(kjv["modified_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));
  const json details = {{"parent_model", ""},         {"format", "gguf"},
                        {"family", "llama"},          {"families", {"llama"}},
                        {"parameter_size", "14.65M"}, {"quantization_level", "F16"}};
  EXPECT_EQ(kjv["details"], details);
  EXPECT_EQ(head(s.port(), "/api/tags"), 200);
  EXPECT_EQ(s.post("/api/tags", json::object()).status, 405);
}

TEST(ServeModels, ShowDescribesTheModel) {
  auto& s = shared();
  auto r = s.post("/api/show", {{"model", "tiny-kjv"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  const std::string mf = j["modelfile"];
  EXPECT_EQ(mf.rfind("# Modelfile generated by \"hearth show\"\n# To build a new Modelfile based "
                     "on this, replace FROM with:\n# FROM tiny-kjv:latest\n\nFROM ",
                     0),
            0u)
      << mf;
  EXPECT_NE(j["template"].get<std::string>().find("[INST]"), std::string::npos);
  EXPECT_EQ(j["details"]["family"], "llama");
  EXPECT_EQ(j["details"]["quantization_level"], "F16");
  EXPECT_EQ(j["capabilities"], json::array({"completion"}));
  EXPECT_FALSE(j.contains("parameters"));  // the bundled model stores none
  EXPECT_FALSE(j.contains("tensors"));
  const auto& info = j["model_info"];
  EXPECT_EQ(info["general.architecture"], "llama");
  EXPECT_EQ(info["general.parameter_count"], 14649792);
  EXPECT_EQ(info["llama.block_count"], 6);
  EXPECT_EQ(info["llama.rope.freq_base"], 10000);
  EXPECT_FALSE(info.contains("general.name"));
  EXPECT_FALSE(info.contains("tokenizer.chat_template"));
  EXPECT_EQ(info["tokenizer.ggml.tokens"], json::array());  // long arrays only when verbose
  // Keys sorted, as Go writes a map.
  std::vector<std::string> keys;
  for (const auto& [k, v] : info.items()) keys.push_back(k);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));

  r = s.post("/api/show", {{"model", "tiny-kjv"}, {"verbose", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto v = r.json();
  EXPECT_EQ(v["model_info"]["tokenizer.ggml.tokens"].size(), 32000u);
  ASSERT_TRUE(v["tensors"].is_array());
  bool found = false;
  for (const auto& t : v["tensors"])
    if (t["name"] == "token_embd.weight") {
      found = true;
      EXPECT_EQ(t["shape"], json::array({192, 32000}));
      EXPECT_TRUE(t["type"] == "F16" || t["type"] == "F32") << t;
    }
  EXPECT_TRUE(found);

  r = s.post("/api/show", {{"model", "tiny-kjv"}, {"system", "Be brief."}});
  EXPECT_EQ(r.json()["system"], "Be brief.");
  // A template with a place for tools and for thinking lists both, as Ollama does.
  const std::string tmpl =
      "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m.content }}"
      "{% endfor %}<think>";
  r = s.post("/api/create", {{"model", "thinker"}, {"from", "tiny-kjv"}, {"template", tmpl}});
  ASSERT_EQ(r.status, 200) << r.body;
  r = s.post("/api/show", {{"model", "thinker"}});
  EXPECT_EQ(r.json()["capabilities"], json::array({"completion", "tools", "thinking"}));
  EXPECT_EQ(send(s, "DELETE", "/api/delete", {{"model", "thinker"}}).status, 200);
  r = s.post("/api/show", {{"model", "nope"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"], "model \"nope\" not found");
  r = http_request(s.port(), "POST", "/api/show");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "missing request body");
  EXPECT_EQ(s.get("/api/show").status, 405);
}

TEST(ServeModels, CopyGenerateDelete) {
  auto& s = shared();
  auto r = s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "kjv-copy"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(listed(s, "tiny-kjv:latest"));
  EXPECT_TRUE(listed(s, "kjv-copy:latest"));
  EXPECT_EQ(generate(s, "kjv-copy", greedy(8))["response"],
            generate(s, "tiny-kjv", greedy(8))["response"]);

  r = send(s, "DELETE", "/api/delete", {{"model", "kjv-copy"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "");
  EXPECT_FALSE(listed(s, "kjv-copy:latest"));
  EXPECT_TRUE(listed(s, "tiny-kjv:latest"));
  r = send(s, "DELETE", "/api/delete", {{"name", "kjv-copy"}});  // ollama-js sends `name`
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"], "model \"kjv-copy\" not found");

  r = s.post("/api/copy", {{"source", "missing"}, {"destination", "other"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"], "model \"missing\" not found");
  EXPECT_EQ(send(s, "DELETE", "/api/delete", {{"model", "tiny-kjv"}}).status, 400);  // bundled
  EXPECT_EQ(s.post("/api/delete", {{"model", "tiny-kjv"}}).status, 405);
  EXPECT_EQ(s.get("/api/copy").status, 405);
}

TEST(ServeModels, DeletingALoadedModelUnloadsIt) {
  HearthServer s;
  ASSERT_EQ(s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "loaded"}}).status, 200);
  generate(s, "loaded", greedy(2));
  EXPECT_EQ(s.get("/api/ps").json()["models"].size(), 1u);
  ASSERT_EQ(send(s, "DELETE", "/api/delete", {{"model", "loaded"}}).status, 200);
  // Unloaded once its last request has let go of it (just after its answer).
  size_t loaded = 1;
  for (int i = 0; i < 100 && loaded > 0; ++i) {
    loaded = s.get("/api/ps").json()["models"].size();
    if (loaded > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(loaded, 0u);
}

TEST(ServeModels, UploadABlobInChunksThenCreateFromFiles) {
  auto& s = shared();
  const std::string bytes = read_file(kModelFile);
  ASSERT_GT(bytes.size(), 1000000u);
  const std::string digest = digest_of(bytes);
  auto r = post_chunked(s.port(), "/api/blobs/" + digest, bytes, 100000);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(head(s.port(), "/api/blobs/" + digest), 200);
  // The dashed form names the same blob; posting it again needs no body.
  std::string dashed = digest;
  dashed[6] = '-';
  EXPECT_EQ(head(s.port(), "/api/blobs/" + dashed), 200);
  EXPECT_EQ(http_request(s.port(), "POST", "/api/blobs/" + digest, "").status, 200);

  r = s.post("/api/create", {{"model", "from-blob"}, {"files", {{"tiny.gguf", digest}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/x-ndjson");
  EXPECT_EQ(r.ndjson().back(), json({{"status", "success"}}));
  EXPECT_EQ(generate(s, "from-blob", greedy(8))["response"],
            generate(s, "tiny-kjv", greedy(8))["response"]);
  const auto show = s.post("/api/show", {{"model", "from-blob"}}).json();
  EXPECT_EQ(show["details"]["parameter_size"], "14.65M");
}

// Ollama's `suffix` (code completion, as Continue sends it): a model whose
// vocabulary has fill-in-the-middle markers gets prefix and suffix around
// them; one without is told it does not support insert.
TEST(ServeModels, ASuffixFillsInTheMiddleWhereTheModelCan) {
  auto& s = shared();
  auto r = s.post(
      "/api/generate",
      {{"model", "tiny-kjv"}, {"prompt", "In the"}, {"suffix", "the earth"}, {"stream", false}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("does not support insert"), std::string::npos) << r.body;

  // The bundled model with three of its tokens named as the markers.
  const auto in = gguf::GgufFile::open(kModelFile);
  gguf::GgufWriter w;
  w.copy_metadata(*in);
  w.set_u32("tokenizer.ggml.fim_pre_token_id", 31997);
  w.set_u32("tokenizer.ggml.fim_suf_token_id", 31998);
  w.set_u32("tokenizer.ggml.fim_mid_token_id", 31999);
  w.copy_tensors(*in);
  const auto image = w.to_bytes();
  const std::string bytes(image.begin(), image.end());
  const std::string digest = digest_of(bytes);
  ASSERT_EQ(http_request(s.port(), "POST", "/api/blobs/" + digest, bytes).status, 201);
  r = s.post("/api/create", {{"model", "kjv-fim"}, {"files", {{"fim.gguf", digest}}}});
  ASSERT_EQ(r.status, 200) << r.body;

  r = s.post("/api/generate", {{"model", "kjv-fim"},
                               {"prompt", "In the"},
                               {"suffix", "the earth"},
                               {"stream", false},
                               {"options", greedy(3)}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto context = r.json()["context"].get<std::vector<int32_t>>();
  // BOS, <pre> "In the" <suf> "the earth" <mid>, then the 3 generated tokens.
  const std::vector<int32_t> prompt = {1, 31997, 512, 278, 31998, 278, 8437, 31999};
  ASSERT_EQ(context.size(), prompt.size() + 3) << r.body;
  EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), context.begin())) << r.body;

  // OpenAI's completions take `suffix` the same way.
  r = s.post("/v1/completions", {{"model", "kjv-fim"},
                                 {"prompt", "In the"},
                                 {"suffix", "the earth"},
                                 {"max_tokens", 3},
                                 {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["usage"]["prompt_tokens"], prompt.size());
  r = s.post("/v1/completions", {{"model", "tiny-kjv"}, {"prompt", "In"}, {"suffix", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("does not support insert"), std::string::npos) << r.body;
}

TEST(ServeModels, ABlobWithTheWrongDigestIsRefusedAndNotKept) {
  auto& s = shared();
  const std::string bytes(3 << 20, 'x');  // bigger than a read-ahead chunk
  const std::string claimed = digest_of("something else");
  auto r = http_request(s.port(), "POST", "/api/blobs/" + claimed, bytes,
                        {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"],
            "digest mismatch, expected \"" + claimed + "\", got \"" + digest_of(bytes) + "\"");
  EXPECT_EQ(head(s.port(), "/api/blobs/" + claimed), 404);
  EXPECT_EQ(head(s.port(), "/api/blobs/" + digest_of(bytes)), 404);
  // The server goes on answering.
  EXPECT_EQ(s.get("/api/version").status, 200);
}

TEST(ServeModels, AnUploadCutShortLeavesNothingBehind) {
  auto& s = shared();
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  const std::string digest = digest_of("a blob never finished");
  {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                          static_cast<unsigned short>(s.port())));
    http::request<http::empty_body> req(http::verb::post, "/api/blobs/" + digest, 11);
    req.set(http::field::host, "127.0.0.1");
    req.content_length(10u << 20);
    http::request_serializer<http::empty_body> sr(req);
    http::write_header(stream, sr);
    const std::string part(1 << 20, 'z');
    net::write(stream, net::buffer(part));
  }  // hangs up 9 MiB short
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(head(s.port(), "/api/blobs/" + digest), 404);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(s.home() + "/models/blobs", ec))
    EXPECT_EQ(e.path().filename().string().rfind("sha256-", 0), 0u) << e.path();
  EXPECT_EQ(s.get("/api/version").status, 200);
}

TEST(ServeModels, BlobDigestsThatAreNotDigestsAre400) {
  auto& s = shared();
  for (const std::string& bad : std::vector<std::string>{
           "sha256:1234", "md5:abc", "sha256:..%2f..%2fetc%2fpasswd", "..%2F..%2Fetc%2Fpasswd",
           "sha256-" + std::string(64, 'g'), "sha256:" + std::string(64, 'A')}) {
    EXPECT_EQ(head(s.port(), "/api/blobs/" + bad), 400) << bad;
    auto r = http_request(s.port(), "POST", "/api/blobs/" + bad, "data");
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
  }
  EXPECT_EQ(http_request(s.port(), "POST", "/api/blobs/../../etc/passwd", "x").status, 400);
  EXPECT_EQ(s.get("/api/blobs/" + digest_of("x")).status, 405);
}

TEST(ServeModels, CreateWithSystemAndParametersIsWhatShowAndGenerateSee) {
  auto& s = shared();
  auto r = s.post("/api/create", {{"model", "kjv-tuned"},
                                  {"from", "tiny-kjv"},
                                  {"system", "You are the King James Bible."},
                                  {"parameters", {{"num_predict", 3}, {"temperature", 0}}},
                                  {"stream", false}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json; charset=utf-8");
  EXPECT_EQ(r.json(), json({{"status", "success"}}));
  auto show = s.post("/api/show", {{"model", "kjv-tuned"}}).json();
  EXPECT_EQ(show["system"], "You are the King James Bible.");
  const std::string params = show["parameters"];
  EXPECT_NE(params.find("num_predict                    3"), std::string::npos) << params;
  EXPECT_NE(params.find("temperature                    0"), std::string::npos) << params;
  const std::string mf = show["modelfile"];
  EXPECT_NE(mf.find("SYSTEM \"You are the King James Bible.\"\n"), std::string::npos) << mf;
  EXPECT_NE(mf.find("PARAMETER num_predict 3\n"), std::string::npos) << mf;
  // The stored num_predict applies when the request gives none.
  auto g = generate(s, "kjv-tuned", json::object());
  EXPECT_EQ(g["eval_count"], 3);
  EXPECT_EQ(g["response"], ", and the");

  r = s.post("/api/create", {{"model", "kjv-stop"},
                             {"from", "kjv-tuned"},
                             {"parameters", {{"num_predict", 8}, {"stop", {"LORD"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.ndjson().back(), json({{"status", "success"}}));
  show = s.post("/api/show", {{"model", "kjv-stop"}}).json();
  EXPECT_EQ(show["system"], "You are the King James Bible.");  // inherited
  EXPECT_NE(show["parameters"].get<std::string>().find("stop                           \"LORD\""),
            std::string::npos)
      << show["parameters"];
  g = generate(s, "kjv-stop", json::object());
  EXPECT_EQ(g["response"], ", and the word of the ");
  EXPECT_EQ(g["done_reason"], "stop");
}

TEST(ServeModels, CreateQuantizesToQ8_0) {
  auto& s = shared();
  auto r = s.post("/api/create", {{"model", "kjv-q8"}, {"from", "tiny-kjv"}, {"quantize", "q8_0"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto lines = r.ndjson();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front()["status"], "quantizing to q8_0");
  EXPECT_EQ(lines.back(), json({{"status", "success"}}));
  const auto show = s.post("/api/show", {{"model", "kjv-q8"}}).json();
  EXPECT_EQ(show["details"]["quantization_level"], "Q8_0");
  const auto g = generate(s, "kjv-q8", greedy(8));
  EXPECT_EQ(g["eval_count"], 8);
  EXPECT_FALSE(g["response"].get<std::string>().empty());
}

TEST(ServeModels, CreateRefusesWhatItCannotDo) {
  auto& s = shared();
  struct Case {
    json body;
    int status;
    std::string error;  // how the message starts ("": any message)
  };
  const std::vector<Case> cases = {
      {{{"model", "x"}}, 400, "neither 'from' or 'files' was specified"},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"adapters", {{"a.gguf", digest_of("a")}}}},
       400,
       "adapters are not supported"},
      {{{"model", "../../x"}, {"from", "tiny-kjv"}}, 400, ""},
      {{{"model", "a/b/c/d"}, {"from", "tiny-kjv"}}, 400, ""},
      {{{"model", "x"}, {"from", "/etc/passwd"}}, 400, ""},
      {{{"model", "x"}, {"from", "../models/tiny-kjv-f16.gguf"}}, 400, ""},
      {{{"model", "x"}, {"from", "tiny-kjv-f16.gguf"}}, 400, ""},
      {{{"model", "x"}, {"from", "missing"}}, 404, "model \"missing\" not found"},
      {{{"model", "x"}, {"files", {{"../m.gguf", digest_of("a")}}}},
       400,
       "file path must be relative"},
      {{{"model", "x"}, {"files", {{"m.gguf", "sha256:..%2f"}}}}, 400, "invalid digest format"},
      {{{"model", "x"}, {"files", {{"m.gguf", digest_of("never uploaded")}}}}, 400, ""},
      {{{"model", "x"}, {"files", {{"m.safetensors", digest_of("a")}}}}, 400, ""},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"parameters", {{"bogus", 1}}}}, 400, ""},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"parameters", {{"temperature", "hot"}}}}, 400, ""},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"parameters", {{"top_k", -3}}}},
       400,
       "top_k must be >= 0 (0: off), got -3"},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"parameters", {{"num_ctx", 5}}}}, 400, "num_ctx"},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"template", "{{ .Prompt }}"}}, 400, ""},
      {{{"model", "x"}, {"from", "tiny-kjv"}, {"quantize", "q3_xyz"}}, 400, ""},
      {{{"model", "x"},
        {"from", "tiny-kjv"},
        {"messages", {{{"role", "wizard"}, {"content", "hi"}}}}},
       400,
       ""},
  };
  for (const auto& c : cases) {
    auto r = s.post("/api/create", c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    ASSERT_TRUE(r.json()["error"].is_string()) << r.body;
    if (!c.error.empty()) {
      EXPECT_EQ(r.json()["error"].get<std::string>().rfind(c.error, 0), 0u) << r.body;
    }
  }
  // A blob that is not a GGUF.
  const std::string text = "not a model";
  ASSERT_EQ(http_request(s.port(), "POST", "/api/blobs/" + digest_of(text), text).status, 201);
  for (const json& body : {json{{"model", "x"}, {"files", {{"m.gguf", digest_of(text)}}}},
                           json{{"model", "x"}, {"from", digest_of(text)}}}) {
    auto r = s.post("/api/create", body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["error"].get<std::string>().rfind("supplied file was not in GGUF format", 0),
              0u)
        << r.body;
  }
  EXPECT_FALSE(listed(s, "x:latest"));
  EXPECT_EQ(s.get("/api/create").status, 405);
  // Hostile names elsewhere.
  EXPECT_EQ(s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "../../x"}}).status, 400);
  EXPECT_EQ(s.post("/api/copy", {{"source", "a/b/c/d"}, {"destination", "y"}}).status, 400);
  EXPECT_EQ(send(s, "DELETE", "/api/delete", {{"model", "../../x"}}).status, 400);
  EXPECT_EQ(s.post("/api/show", {{"model", "a/b/c/d"}}).status, 400);
}

// A blob of the server's store, by the digest of its bytes.
bool has_blob(HearthServer& s, const std::string& bytes) {
  return std::filesystem::exists(s.home() + "/models/blobs/sha256-" + digest_of(bytes).substr(7));
}

// A create or copy over a name takes with it the blobs only the old model used.
TEST(ServeModels, CreateAndCopyOverANameRemoveTheBlobsOnlyTheOldModelUsed) {
  auto& s = shared();
  const auto create = [&](const std::string& name, const std::string& system) {
    const auto r =
        s.post("/api/create",
               {{"model", name}, {"from", "tiny-kjv"}, {"system", system}, {"stream", false}});
    ASSERT_EQ(r.status, 200) << r.body;
  };
  create("over", "over, first system");
  EXPECT_TRUE(has_blob(s, "over, first system"));
  create("over", "over, second system");
  EXPECT_FALSE(has_blob(s, "over, first system"));
  EXPECT_TRUE(has_blob(s, "over, second system"));
  create("copy-src", "copy, source system");
  create("copy-dst", "copy, destination system");
  ASSERT_EQ(s.post("/api/copy", {{"source", "copy-src"}, {"destination", "copy-dst"}}).status, 200);
  EXPECT_FALSE(has_blob(s, "copy, destination system"));
  EXPECT_TRUE(has_blob(s, "copy, source system"));
  EXPECT_EQ(s.post("/api/show", {{"model", "copy-dst"}}).json()["system"], "copy, source system");
}

// "from" may name a namespaced model; a path is still refused.
TEST(ServeModels, CreateFromANamespacedModel) {
  auto& s = shared();
  ASSERT_EQ(s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "alice/foo:q4"}}).status,
            200);
  auto r = s.post("/api/create", {{"model", "from-alice"}, {"from", "alice/foo:q4"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.ndjson().back(), json({{"status", "success"}}));
  EXPECT_TRUE(listed(s, "from-alice:latest"));
  r = s.post("/api/create", {{"model", "x"}, {"from", "alice/nosuch"}});
  EXPECT_EQ(r.status, 404) << r.body;
  r = s.post("/api/create", {{"model", "x"}, {"from", "./alice/foo.gguf"}});
  EXPECT_EQ(r.status, 400) << r.body;
}

// A template is Jinja that parses: refused at create, not at every chat;
// Jinja that shares a word with Go (`not`) is not taken for Go.
TEST(ServeModels, CreateChecksTheTemplate) {
  auto& s = shared();
  for (const char* bad : {"{{ unclosed", "{% for m in messages %}{{ m['content'] }}"}) {
    const auto r =
        s.post("/api/create", {{"model", "bad-template"}, {"from", "tiny-kjv"}, {"template", bad}});
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(
        r.json()["error"].get<std::string>().rfind("TEMPLATE is not a valid Jinja template", 0), 0u)
        << r.body;
  }
  EXPECT_FALSE(listed(s, "bad-template:latest"));
  const auto r = s.post(
      "/api/create",
      {{"model", "jinja-not"},
       {"from", "tiny-kjv"},
       {"template",
        "{% for m in messages %}{{ m['content'] }}{{ not loop.last and '|' or '' }}{% endfor %}"},
       {"stream", false}});
  EXPECT_EQ(r.status, 200) << r.body;
}

// A quantization the store refuses says why without the server's paths or
// a flag of the command line.
TEST(ServeModels, ARefusedRequantizationNamesNoServerPath) {
  auto& s = shared();
  ASSERT_EQ(s.post("/api/create",
                   {{"model", "qs"}, {"from", "tiny-kjv"}, {"quantize", "q8_0"}, {"stream", false}})
                .status,
            200);
  const auto r = s.post("/api/create", {{"model", "qs4"}, {"from", "qs"}, {"quantize", "q4_0"}});
  EXPECT_NE(r.body.find("already quantized"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(s.home()), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("/blobs/"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("--allow-requantize"), std::string::npos) << r.body;
  EXPECT_FALSE(listed(s, "qs4:latest"));
}

// Stored parameters are read as a request's options are (Go's FromMap).
TEST(ServeModels, CreateParametersAreReadAsRequestOptions) {
  auto& s = shared();
  const auto r =
      s.post("/api/create", {{"model", "float-ctx"},
                             {"from", "tiny-kjv"},
                             {"parameters", {{"num_ctx", 2048.0}, {"temperature", nullptr}}},
                             {"stream", false}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string params = s.post("/api/show", {{"model", "float-ctx"}}).json()["parameters"];
  EXPECT_NE(params.find("num_ctx                        2048"), std::string::npos) << params;
  EXPECT_EQ(params.find("temperature"), std::string::npos) << params;
}

// A failure of the store is the server's (500), a name no folder can hold the
// client's (400).
TEST(ServeModels, CopyAndCreateStatusCodes) {
  HearthServer s;
  ASSERT_EQ(s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "a"}}).status, 200);
  // A file where the store wants a folder.
  std::ofstream(s.home() + "/models/manifests/registry.ollama.ai/blocked") << "x";
  auto r = s.post("/api/copy", {{"source", "a"}, {"destination", "blocked/m"}});
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.body.find(s.home()), std::string::npos) << r.body;
  r = s.post("/api/copy", {{"source", "a"}, {"destination", "a:latest"}});
  EXPECT_EQ(r.status, 400) << r.body;
  const std::string long_host = std::string(300, 'h') + ".example/ns/m";
  r = s.post("/api/copy", {{"source", "a"}, {"destination", long_host}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = s.post("/api/create", {{"model", long_host}, {"from", "a"}});
  EXPECT_EQ(r.status, 400) << r.body;
}

// While the first request on a model runs, /api/ps gives its expiry from
// its keep_alive, not the zero time.
TEST(ServeModels, PsGivesAnExpiryWhileTheFirstRequestRuns) {
  HearthServer s;
  std::thread request([&] {
    s.post("/api/generate", {{"model", "tiny-kjv"},
                             {"prompt", "In the beginning"},
                             {"raw", true},
                             {"stream", false},
                             {"keep_alive", "10m"},
                             {"options", greedy(400)}});
  });
  std::string seen;
  for (int i = 0; i < 4000 && seen.empty(); ++i) {
    const json ps = s.get("/api/ps").json();
    if (!ps["models"].empty() && ps["models"][0]["queue"]["active"].get<int>() > 0)
      seen = ps["models"][0]["expires_at"];
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  request.join();
  ASSERT_FALSE(seen.empty()) << "the request ended before /api/ps saw it";
  EXPECT_EQ(seen.rfind("1970", 0), std::string::npos) << seen;
  EXPECT_GT(seen.substr(0, 4), "2000") << seen;
}

}  // namespace
}  // namespace hearth::test
