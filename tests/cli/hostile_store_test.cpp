// The hostile-input suite, the store's part: names, tags and digests that try
// to leave the store, crafted GGUF uploads, files planted in the store, a
// model deleted while it streams. Each attack gets a 4xx (or a 404) with a
// JSON error that names no absolute path; the server stays up and the store,
// and everything outside it, is unchanged.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "cli/hostile.h"

namespace hearth::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Every path under the store with its size (symlinks as their target's text).
std::set<std::string> snapshot(const std::string& home) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(home + "/models", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto& e = *it;
    std::string line = e.path().string();
    if (e.is_symlink())
      line += " -> " + fs::read_symlink(e.path(), ec).string();
    else if (e.is_regular_file())
      line += " " + std::to_string(e.file_size());
    out.insert(line);
  }
  return out;
}

// `r` is a refusal: a 4xx with a JSON error that names no absolute path.
void expect_refused(const HttpResponse& r, const std::string& home, const std::string& what) {
  EXPECT_GE(r.status, 400) << what << ": " << r.body;
  EXPECT_LT(r.status, 500) << what << ": " << r.body;
  const auto j = json::parse(r.body, nullptr, false);
  EXPECT_TRUE(j.is_object() && j.contains("error")) << what << ": " << r.body;
  EXPECT_EQ(r.body.find(home), std::string::npos) << what << ": " << r.body;
  EXPECT_EQ(r.body.find("/tmp/"), std::string::npos) << what << ": " << r.body;
}

TEST(HostileStore, TraversalInNamesTagsAndDigestsInEveryEncoding) {
  HearthServer s;
  ASSERT_EQ(s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "mine"}}).status, 200);
  const auto before = snapshot(s.home());
  const std::vector<std::string> names = {
      "../x",
      "a/../../b",
      "..%2f..%2fx",
      "%2e%2e/x",
      "mine:../../x",
      "mine:..",
      "/etc/passwd",
      "x\\..\\y",
      "mine/../../../x",
      std::string("x\0y", 3),
      "m\xc3\xa9ine",
      "....//x",
      "mine:a/b",
      std::string(300, 'a'),
  };
  for (const auto& n : names) {
    expect_refused(s.post("/api/show", {{"model", n}}), s.home(), "show " + n);
    expect_refused(http_request(s.port(), "DELETE", "/api/delete", json{{"model", n}}.dump()),
                   s.home(), "delete " + n);
    expect_refused(s.post("/api/copy", {{"source", "mine"}, {"destination", n}}), s.home(),
                   "copy to " + n);
    expect_refused(s.post("/api/create", {{"model", n}, {"from", "mine"}}), s.home(),
                   "create " + n);
  }
  const std::vector<std::string> digests = {
      "sha256:..%2f..%2fetc%2fpasswd",
      "sha256-../../x",
      "sha256:" + std::string(63, 'a'),
      "sha256:" + std::string(64, 'A'),
      "sha512:" + std::string(64, 'a'),
      "sha256:" + std::string(64, 'g'),
      "%73ha256:" + std::string(64, 'a') + "%2f..",
  };
  for (const auto& d : digests) {
    const auto r = http_request(s.port(), "POST", "/api/blobs/" + d, "bytes",
                                {{"Content-Type", "application/octet-stream"}});
    expect_refused(r, s.home(), "blob " + d);
    expect_refused(s.post("/api/create", {{"model", "x"}, {"files", {{"m.gguf", d}}}}), s.home(),
                   "create from " + d);
  }
  expect_healthy(s.port());
  EXPECT_EQ(snapshot(s.home()), before);
}

// A GGUF header (version 3) with these counts, then `rest`.
std::string gguf_header(uint64_t tensors, uint64_t kvs, const std::string& rest = "") {
  std::string b = "GGUF";
  const uint32_t version = 3;
  b.append(reinterpret_cast<const char*>(&version), 4);
  b.append(reinterpret_cast<const char*>(&tensors), 8);
  b.append(reinterpret_cast<const char*>(&kvs), 8);
  return b + rest;
}

TEST(HostileStore, CraftedGgufUploadsAreRefusedAndNothingIsCreated) {
  HearthServer s;
  const std::string model = slurp(std::string(HEARTH_TINY_KJV));
  ASSERT_GT(model.size(), 1000000u);
  std::string bad_offset = model;
  bad_offset.resize(model.size() * 6 / 10);  // tensors whose data lies past the end
  // A key whose string length claims 2^62 bytes.
  std::string huge_key = gguf_header(0, 1);
  const uint64_t huge = 1ull << 62;
  huge_key.append(reinterpret_cast<const char*>(&huge), 8);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"not a gguf", std::string(4096, 'x')},
      {"header only", model.substr(0, 64)},
      {"truncated", bad_offset},
      {"2^40 tensors", gguf_header(1ull << 40, 0)},
      {"2^40 keys", gguf_header(0, 1ull << 40)},
      {"huge key", huge_key},
      {"bad version", std::string("GGUF\x09\0\0\0", 8) + std::string(32, '\0')},
  };
  for (const auto& [what, bytes] : files) {
    const std::string digest = digest_of(bytes);
    auto r = http_request(s.port(), "POST", "/api/blobs/" + digest, bytes,
                          {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(r.status, 201) << what << ": " << r.body;  // a blob is bytes; create reads them
    const auto before = snapshot(s.home());
    r = s.post("/api/create", {{"model", "crafted"}, {"files", {{"m.gguf", digest}}}});
    // Refused before streaming (400), or said so in the stream's last line.
    if (r.status == 200) {
      const auto lines = r.ndjson();
      ASSERT_FALSE(lines.empty()) << what;
      EXPECT_TRUE(lines.back().contains("error")) << what << ": " << r.body;
      EXPECT_EQ(r.body.find(s.home()), std::string::npos) << what << ": " << r.body;
    } else {
      expect_refused(r, s.home(), what);
    }
    EXPECT_EQ(s.post("/api/show", {{"model", "crafted"}}).status, 404) << what;
    EXPECT_EQ(snapshot(s.home()), before) << what;
    expect_healthy(s.port());
  }
}

TEST(HostileStore, PlantedLinksFifosAndDevicesAreNotFollowedOrRead) {
  HearthServer s;
  ASSERT_EQ(
      s.post("/api/create", {{"model", "planted"}, {"from", "tiny-kjv"}, {"system", "hi"}}).status,
      200);
  const TempDir outside;
  const std::string victim = outside.path() + "/victim.txt";
  std::ofstream(victim) << "victim secret";
  const std::string lib = s.home() + "/models/manifests/registry.ollama.ai/library/";
  // A manifest that is a link out of the store: never read, never deleted through.
  fs::create_directories(lib + "evil");
  ASSERT_EQ(symlink(victim.c_str(), (lib + "evil/latest").c_str()), 0);
  auto r = s.post("/api/show", {{"model", "evil"}});
  EXPECT_EQ(r.body.find("victim secret"), std::string::npos) << r.body;
  expect_refused(r, s.home(), "show a planted manifest link");
  http_request(s.port(), "DELETE", "/api/delete", json{{"model", "evil"}}.dump());
  EXPECT_EQ(slurp(victim), "victim secret");
  // A manifest that is a FIFO with no writer: answered at once, not waited on.
  fs::create_directories(lib + "fifo");
  ASSERT_EQ(mkfifo((lib + "fifo/latest").c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  expect_refused(s.post("/api/show", {{"model", "fifo"}}), s.home(), "a FIFO manifest");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // The model's own blobs replaced by a device and a FIFO: an error, not a hang.
  const auto manifest = json::parse(slurp(lib + "planted/latest"));
  for (const char* planted : {"/dev/zero", "fifo"}) {
    for (const auto& layer : manifest["layers"]) {
      std::string hex = layer["digest"].get<std::string>();
      hex[6] = '-';
      const std::string blob = s.home() + "/models/blobs/" + hex;
      fs::remove(blob);
      if (std::string(planted) == "fifo")
        ASSERT_EQ(mkfifo(blob.c_str(), 0600), 0);
      else
        fs::create_symlink(planted, blob);
    }
    const auto t1 = std::chrono::steady_clock::now();
    r = s.post("/api/generate", {{"model", "planted"},
                                 {"prompt", "hi"},
                                 {"stream", false},
                                 {"options", {{"num_predict", 2}}}});
    EXPECT_GE(r.status, 400) << planted << ": " << r.body;
    EXPECT_EQ(r.body.find(s.home()), std::string::npos) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds(5)) << planted;
    expect_healthy(s.port());
  }
  EXPECT_NE(s.get("/api/tags").body.find("planted"), std::string::npos);  // still listed
}

TEST(HostileStore, AModelDeletedWhileItStreams) {
  HearthServer s;
  ASSERT_EQ(s.post("/api/copy", {{"source", "tiny-kjv"}, {"destination", "doomed"}}).status, 200);
  std::string streamed;
  std::thread reader([&] {
    streamed = http_request(s.port(), "POST", "/api/generate",
                            json{{"model", "doomed"},
                                 {"prompt", "In the beginning"},
                                 {"options", {{"num_predict", 200}, {"temperature", 0}}}}
                                .dump())
                   .body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const auto del =
      http_request(s.port(), "DELETE", "/api/delete", json{{"model", "doomed"}}.dump());
  EXPECT_EQ(del.status, 200) << del.body;
  reader.join();
  // The stream ended properly (finished, or an error line), never cut mid-line.
  ASSERT_FALSE(streamed.empty());
  EXPECT_EQ(streamed.back(), '\n') << streamed;
  const auto last = json::parse(streamed.substr(streamed.rfind('\n', streamed.size() - 2) + 1));
  EXPECT_TRUE(last.value("done", false) || last.contains("error")) << last.dump();
  EXPECT_EQ(s.post("/api/show", {{"model", "doomed"}}).status, 404);
  // The bundled model, which shared its weights, still answers.
  const auto r = s.post("/api/generate", {{"model", "tiny-kjv"},
                                          {"prompt", "In"},
                                          {"stream", false},
                                          {"options", {{"num_predict", 2}}}});
  EXPECT_EQ(r.status, 200) << r.body;
  expect_healthy(s.port());
}

}  // namespace
}  // namespace hearth::test
