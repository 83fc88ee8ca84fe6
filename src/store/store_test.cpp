// The store: imports (linked and copied), verified blobs, copy/remove sharing
// blobs, create, bundled models, and resolve_model's path rule.
#include "store/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/resolve.h"
#include "store/sha256.h"

namespace {

using namespace hearth::store;
namespace stdfs = std::filesystem;

const std::string kModel = std::string(HEARTH_TINY_KJV);

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/hearth_store_test_XXXXXX";
    ASSERT_TRUE(mkdtemp(t));
    dir_ = t;
    root_ = dir_ + "/models";
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  // A private copy of the bundled model (imports link to it).
  std::string model_copy(const std::string& name = "m.gguf") {
    const std::string p = dir_ + "/" + name;
    stdfs::copy_file(kModel, p, stdfs::copy_options::overwrite_existing);
    return p;
  }
  std::vector<std::string> blobs() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(root_ + "/blobs", ec))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_, root_;
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST_F(StoreTest, BundledModelResolvesInAnEmptyStore) {
  Store s(root_);
  const ModelRecord r = s.resolve("tiny-kjv");
  EXPECT_TRUE(r.bundled);
  EXPECT_EQ(r.name, "tiny-kjv:latest");
  EXPECT_TRUE(stdfs::equivalent(r.gguf_path, kModel));
  EXPECT_EQ(r.model_digest, sha256_file(kModel));
  EXPECT_TRUE(s.exists("TINY-KJV:latest"));
  // The tag and the default host and namespace match without case too, as Ollama's names do.
  EXPECT_TRUE(s.exists("tiny-kjv:LATEST"));
  EXPECT_TRUE(s.exists("Registry.Ollama.AI/Library/Tiny-KJV:Latest"));
  EXPECT_TRUE(s.resolve("tiny-kjv:Latest").bundled);
  const auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].bundled);
  EXPECT_EQ(list[0].name, "tiny-kjv:latest");
  EXPECT_FALSE(stdfs::exists(root_));  // reading writes nothing
}

TEST_F(StoreTest, UnknownAndHostileNames) {
  Store s(root_);
  EXPECT_THROW(s.resolve("nope"), ModelNotFound);
  EXPECT_NE(error_of([&] { s.resolve("nope"); }).find("not a known model name"), std::string::npos);
  for (const char* bad : {"../../etc/passwd", "a/b/c/d", "x:../y", "/etc/passwd"}) {
    EXPECT_THROW(s.resolve(bad), InvalidName) << bad;
    EXPECT_THROW(s.import_gguf(bad, kModel, false), InvalidName) << bad;
    EXPECT_THROW(s.copy("tiny-kjv", bad), InvalidName) << bad;
    EXPECT_THROW(s.remove(bad), InvalidName) << bad;
  }
  EXPECT_THROW(s.blob_path("sha256:" + std::string(64, 'A')), InvalidName);
  EXPECT_THROW(s.has_blob("sha256-../../x"), InvalidName);
  EXPECT_FALSE(stdfs::exists(root_));
}

// The folders the store makes are its user's alone, as `hearth doctor` asks;
// one that exists keeps its mode.
TEST_F(StoreTest, FoldersItMakesAreTheUsersAlone) {
  Store s(root_ + "/deeper");
  s.import_gguf("kjv", model_copy(), false);
  for (const std::string& d :
       {root_, root_ + "/deeper", root_ + "/deeper/blobs", root_ + "/deeper/manifests"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);  // mkdtemp's own mode, untouched
  const std::string open_root = dir_ + "/shared";
  ASSERT_EQ(::mkdir(open_root.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(open_root.c_str(), 0755), 0);
  Store(open_root).import_gguf("kjv", model_copy("n.gguf"), false);
  ASSERT_EQ(::stat(open_root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST_F(StoreTest, ImportLinksInPlaceAndDetectsAChange) {
  Store s(root_);
  const std::string p = model_copy();
  s.import_gguf("kjv", p, false);
  const ModelRecord r = s.resolve("kjv:latest");
  EXPECT_EQ(r.gguf_path, stdfs::canonical(p).string());
  EXPECT_EQ(r.model_digest, sha256_file(p));
  EXPECT_EQ(r.size, stdfs::file_size(p));
  ASSERT_TRUE(r.imported_from);
  // No copy: only the small link and config blobs.
  for (const std::string& b : blobs()) EXPECT_LT(stdfs::file_size(root_ + "/blobs/" + b), 4096u);
  // Touching the file changes its mtime.
  struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
  const std::string e = error_of([&] { s.resolve("kjv"); });
  EXPECT_NE(e.find("model 'kjv:latest' was imported from '" + stdfs::canonical(p).string() +
                   "', which has changed since (re-import it"),
            std::string::npos)
      << e;
  stdfs::remove(p);
  EXPECT_NE(error_of([&] { s.resolve("kjv"); }).find("which is gone"), std::string::npos);
}

TEST_F(StoreTest, ImportRefusesWhatIsNotAGguf) {
  Store s(root_);
  std::ofstream(dir_ + "/junk.gguf") << "not a gguf";
  EXPECT_NE(error_of([&] {
              s.import_gguf("junk", dir_ + "/junk.gguf", false);
            }).find("is not a readable GGUF model"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.import_gguf("junk", dir_ + "/missing.gguf", true); }), "");
  EXPECT_FALSE(s.exists("junk"));
  EXPECT_TRUE(blobs().empty());
}

TEST_F(StoreTest, CopiedImportSurvivesTheOriginalAndSharesBlobsUntilTheLastRemove) {
  Store s(root_);
  const std::string p = model_copy();
  s.import_gguf("a", p, true);
  stdfs::remove(p);
  const ModelRecord r = s.resolve("a");
  EXPECT_EQ(r.gguf_path, s.blob_path(r.model_digest));
  EXPECT_EQ(sha256_file(r.gguf_path), r.model_digest);
  s.copy("a", "alice/b:v1");
  EXPECT_EQ(s.resolve("alice/b:v1").gguf_path, r.gguf_path);
  const auto before = blobs();
  s.remove("a");
  EXPECT_FALSE(s.exists("a"));
  EXPECT_EQ(blobs(), before);  // b still uses them
  EXPECT_TRUE(stdfs::exists(r.gguf_path));
  s.remove("alice/b:v1");
  EXPECT_TRUE(blobs().empty());
  EXPECT_TRUE(stdfs::is_empty(root_ + "/manifests"));
  EXPECT_THROW(s.remove("a"), ModelNotFound);
  EXPECT_NE(error_of([&] { s.remove("tiny-kjv"); }).find("bundled"), std::string::npos);
}

TEST_F(StoreTest, ABlobIsVerifiedBeforeItBecomesVisible) {
  Store s(root_);
  const std::string bytes = "hello blob";
  const std::string good = sha256_digest(bytes);
  const std::string wrong = sha256_digest("something else");
  auto source = [&](std::string data) {
    return [data, done = false](char* buf, size_t cap) mutable -> size_t {
      if (done) return 0;
      done = true;
      const size_t n = std::min(cap, data.size());
      std::memcpy(buf, data.data(), n);
      return n;
    };
  };
  EXPECT_THROW(s.write_blob(wrong, source(bytes)), DigestMismatch);
  EXPECT_TRUE(blobs().empty());  // no blob, no temporary file
  EXPECT_FALSE(s.has_blob(wrong));
  s.write_blob(good, source(bytes));
  EXPECT_TRUE(s.has_blob(good));
  EXPECT_EQ(blobs(), std::vector<std::string>{blob_file_name(good)});
  // From a file, with the dash spelling.
  std::ofstream(dir_ + "/f") << "file bytes";
  const std::string fd = sha256_digest("file bytes");
  EXPECT_THROW(s.import_blob_from_file(dir_ + "/f", good), DigestMismatch);
  s.import_blob_from_file(dir_ + "/f", blob_file_name(fd));
  EXPECT_TRUE(s.has_blob(fd));
  EXPECT_EQ(blobs().size(), 2u);
}

TEST_F(StoreTest, CreateLayersSystemParametersAndMessagesOverABase) {
  Store s(root_);
  const Modelfile mf = parse_modelfile(
      "FROM tiny-kjv\nSYSTEM You speak in verse.\nPARAMETER temperature 0.5\nPARAMETER stop "
      "Amen\nMESSAGE user Hi\nLICENSE public domain\n",
      "Modelfile");
  s.create("verse", CreateSpec::from_modelfile(mf, dir_));
  ModelRecord r = s.resolve("verse");
  EXPECT_FALSE(r.bundled);
  EXPECT_TRUE(stdfs::equivalent(r.gguf_path, kModel));  // linked to the bundled file
  EXPECT_EQ(r.system, "You speak in verse.");
  EXPECT_EQ(r.parameters["temperature"], 0.5);
  EXPECT_EQ(r.parameters["stop"], nlohmann::json::array({"Amen"}));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content, "Hi");
  EXPECT_EQ(r.license, "public domain");
  // A model over it inherits, merges parameters, and may drop the system prompt.
  CreateSpec child;
  child.from = "verse";
  child.parameters = nlohmann::json{{"top_k", 5}};
  child.system = "";
  s.create("Child:v2", child);
  r = s.resolve("child:V2");
  EXPECT_EQ(r.name, "Child:v2");
  EXPECT_EQ(r.system, "");
  EXPECT_EQ(r.parameters["temperature"], 0.5);
  EXPECT_EQ(r.parameters["top_k"], 5);
  EXPECT_EQ(r.license, "public domain");
  // Refusals leave nothing.
  CreateSpec go;
  go.from = "verse";
  go.template_text = "{{ .Prompt }}";
  EXPECT_THROW(s.create("bad", go), std::invalid_argument);
  CreateSpec missing;
  missing.from = "no-such-base";
  EXPECT_THROW(s.create("bad", missing), ModelNotFound);
  EXPECT_FALSE(s.exists("bad"));
  EXPECT_EQ(s.list().size(), 3u);  // verse, Child:v2, tiny-kjv
}

TEST_F(StoreTest, CreateFromARelativePathCopiesIntoABlob) {
  Store s(root_);
  model_copy("base.gguf");
  CreateSpec spec;
  spec.from = "base.gguf";
  spec.base_dir = dir_;
  s.create("frompath", spec);
  const ModelRecord r = s.resolve("frompath");
  EXPECT_EQ(r.gguf_path, s.blob_path(r.model_digest));
  for (const std::string& b : blobs()) EXPECT_EQ(b.rfind("sha256-", 0), 0u) << b;
}

TEST_F(StoreTest, CreateQuantizesIntoAVerifiedBlob) {
  Store s(root_);
  CreateSpec spec;
  spec.from = "tiny-kjv";
  spec.quantize = "q8_0";
  s.create("kjv-q8", spec);
  const ModelRecord r = s.resolve("kjv-q8");
  EXPECT_EQ(r.gguf_path, s.blob_path(r.model_digest));
  EXPECT_EQ(sha256_file(r.gguf_path), r.model_digest);
  EXPECT_LT(r.size, stdfs::file_size(kModel));
  EXPECT_EQ(blobs().size(), 2u);  // the model and the config: no link, no temporary file
  spec.quantize = "q9_9";
  EXPECT_THROW(s.create("bad", spec), std::invalid_argument);
  EXPECT_EQ(blobs().size(), 2u);
  EXPECT_FALSE(s.exists("bad"));
}

// A manifest that is replaced takes with it the blobs no other manifest
// uses, as rm does (and Ollama does): an import over a name, a copy over a
// name, a create over a name. An imported file itself is no blob and stays.
TEST_F(StoreTest, ReplacingAModelRemovesTheBlobsOnlyItUsed) {
  Store s(root_);
  const std::string p = model_copy("a.gguf");
  s.import_gguf("ow", p, true);
  const std::string copied = s.resolve("ow").gguf_path;
  s.import_gguf("ow", p, false);  // linked in place over the copy
  EXPECT_FALSE(stdfs::exists(copied));
  ASSERT_EQ(blobs().size(), 2u);  // the link and the config
  for (const std::string& b : blobs()) EXPECT_LT(stdfs::file_size(root_ + "/blobs/" + b), 4096u);
  const auto linked = blobs();
  s.import_gguf("ow", p, true);  // and copied over the link
  EXPECT_TRUE(stdfs::exists(p));
  for (const std::string& b : linked) EXPECT_FALSE(stdfs::exists(root_ + "/blobs/" + b)) << b;
  ASSERT_EQ(blobs().size(), 2u);  // the model and the config

  s.import_gguf("x", p, false);
  const auto before_copy = blobs();
  s.copy("x", "ow");  // ow's copy of the GGUF goes; x's link and config stay
  EXPECT_EQ(blobs().size(), 2u);
  EXPECT_FALSE(stdfs::exists(copied));
  EXPECT_EQ(s.resolve("ow").gguf_path, stdfs::canonical(p).string());

  CreateSpec one;
  one.from = "x";
  one.system = "system one";
  s.create("c", one);
  EXPECT_TRUE(s.has_blob(sha256_digest("system one")));
  CreateSpec two = one;
  two.system = "system two";
  s.create("c", two);
  EXPECT_FALSE(s.has_blob(sha256_digest("system one")));
  EXPECT_TRUE(s.has_blob(sha256_digest("system two")));
  EXPECT_EQ(s.resolve("ow").gguf_path, stdfs::canonical(p).string());  // shared blobs stay
  EXPECT_EQ(s.resolve("x").gguf_path, stdfs::canonical(p).string());
}

// A create that fails writes nothing: an unknown type or a refused
// requantization is known before the FROM file is copied.
TEST_F(StoreTest, AFailedCreateLeavesNoBlob) {
  Store s(root_);
  CreateSpec spec;
  spec.from = model_copy("base.gguf");
  spec.quantize = "q9_9";
  EXPECT_NE(error_of([&] { s.create("bad", spec); }).find("unknown quantization type 'q9_9'"),
            std::string::npos);
  EXPECT_TRUE(blobs().empty());
  // A quantized file (made in another store) is not quantized again.
  Store other(dir_ + "/other");
  CreateSpec q8;
  q8.from = "tiny-kjv";
  q8.quantize = "q8_0";
  other.create("q8", q8);
  stdfs::copy_file(other.resolve("q8").gguf_path, dir_ + "/q8.gguf");
  spec.from = dir_ + "/q8.gguf";
  spec.quantize = "q4_k_m";
  const std::string e = error_of([&] { s.create("bad", spec); });
  EXPECT_NE(e.find("is already quantized"), std::string::npos) << e;
  EXPECT_EQ(e.find("--allow-requantize"), std::string::npos) << e;
  EXPECT_TRUE(blobs().empty());
  EXPECT_FALSE(s.exists("bad"));
}

// `hearth rm BASE` while `hearth create X -q ...` FROM BASE quantizes: the
// create still gets every blob it reports (the small ones it inherited are
// written again at its commit, under the store's lock).
TEST_F(StoreTest, RemovingTheBaseWhileACreateQuantizesLosesNothing) {
  Store s(root_);
  CreateSpec base;
  base.from = "tiny-kjv";
  base.system = "the base's system";
  base.parameters = nlohmann::json{{"top_k", 7}};
  s.create("base", base);
  CreateSpec spec;
  spec.from = "base";
  spec.quantize = "q8_0";
  s.create("x1", spec, [&](const std::string& status) {
    if (status.rfind("quantizing", 0) == 0) s.remove("base");
  });
  EXPECT_FALSE(s.exists("base"));
  const ModelRecord r = s.resolve("x1");
  EXPECT_EQ(r.system, "the base's system");
  EXPECT_EQ(r.parameters["top_k"], 7);
  s.remove("x1");
  EXPECT_TRUE(blobs().empty()) << ::testing::PrintToString(blobs());
}

// FROM is a file when there is one (relative to the Modelfile's folder), else
// a model name, namespaced ones included; else an error naming both.
TEST_F(StoreTest, CreateFromANamespacedModelOrAFile) {
  Store s(root_);
  const std::string p = model_copy();
  s.import_gguf("alice/foo:q4", p, false);
  CreateSpec spec;
  spec.from = "alice/foo:q4";
  spec.base_dir = dir_;
  s.create("x", spec);
  EXPECT_EQ(s.resolve("x").gguf_path, stdfs::canonical(p).string());
  // A file of that name in the Modelfile's folder wins, unless paths are off.
  stdfs::create_directories(dir_ + "/alice");
  stdfs::copy_file(kModel, dir_ + "/alice/foo:q4");
  s.create("y", spec);
  const ModelRecord y = s.resolve("y");
  EXPECT_EQ(y.gguf_path, s.blob_path(y.model_digest));
  spec.from_paths = false;
  s.create("z", spec);
  EXPECT_EQ(s.resolve("z").gguf_path, stdfs::canonical(p).string());

  CreateSpec missing;
  missing.from = "./nosuch.gguf";
  std::string e = error_of([&] { s.create("bad", missing); });
  EXPECT_NE(e.find("FROM './nosuch.gguf': no such file, and not a model name"), std::string::npos)
      << e;
  missing.from = "alice/nosuch";
  e = error_of([&] { s.create("bad", missing); });
  EXPECT_NE(e.find("FROM 'alice/nosuch': no such file, and no model of that name"),
            std::string::npos)
      << e;
  EXPECT_FALSE(s.exists("bad"));
}

TEST_F(StoreTest, ADamagedManifestIsReportedAndDoesNotHideOthers) {
  Store s(root_);
  s.import_gguf("good", model_copy(), false);
  const std::string bad = root_ + "/manifests/registry.ollama.ai/library/bad/latest";
  stdfs::create_directories(stdfs::path(bad).parent_path());
  std::ofstream(bad) << "{not json";
  EXPECT_NE(error_of([&] { s.resolve("bad"); }).find("not a JSON object"), std::string::npos);
  const auto list = s.list();
  ASSERT_EQ(list.size(), 2u);  // good and the bundled one
  // With a manifest it cannot read, remove keeps every blob.
  const auto before = blobs();
  s.remove("good");
  EXPECT_EQ(blobs(), before);
}

TEST_F(StoreTest, ResolveModelPathRule) {
  ASSERT_EQ(setenv("HEARTH_HOME", dir_.c_str(), 1), 0);
  const auto cwd = stdfs::current_path();
  stdfs::current_path(dir_);
  std::ofstream("tiny-kjv") << "a file that must not shadow the model";
  EXPECT_TRUE(stdfs::equivalent(resolve_model("tiny-kjv"), kModel));
  EXPECT_EQ(resolve_model("./tiny-kjv"), "./tiny-kjv");  // a path when it has a '/'
  model_copy("local.gguf");
  EXPECT_EQ(resolve_model("local.gguf"), "local.gguf");
  EXPECT_NE(error_of([] { resolve_model("missing.gguf"); }).find("no such file"),
            std::string::npos);
  Store(Store::default_root()).import_gguf("alice/kjv", dir_ + "/local.gguf", false);
  EXPECT_EQ(resolve_model("alice/kjv"), stdfs::canonical(dir_ + "/local.gguf").string());
  EXPECT_NE(error_of([] { resolve_model("nope"); }).find("not a known model name"),
            std::string::npos);
  stdfs::current_path(cwd);
  unsetenv("HEARTH_HOME");
}

}  // namespace
