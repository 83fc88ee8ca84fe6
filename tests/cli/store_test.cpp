// The model store from the command line: import (linked and copied), list,
// cp, rm, create from a Modelfile, and `hearth run` on an imported name, each
// with HEARTH_HOME pointing at a fresh folder.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/hearth_process.h"
#include "cli/hearth_server.h"

namespace {

using hearth::test::Result;
using hearth::test::run_hearth;
using hearth::test::shell_quote;
using hearth::test::TempDir;

const std::string kModel = std::string(HEARTH_TINY_KJV);

class StoreCli : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("HEARTH_HOME", (dir_.path() + "/home").c_str(), 1);
    model_ = dir_.path() + "/my model.gguf";
    std::filesystem::copy_file(kModel, model_);
  }
  void TearDown() override { unsetenv("HEARTH_HOME"); }

  nlohmann::json list_json() {
    const Result r = run_hearth("list --json");
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  TempDir dir_;
  std::string model_;
};

TEST_F(StoreCli, AnEmptyStoreListsTheBundledModel) {
  const Result r = run_hearth("list");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAME", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("ID"), std::string::npos);
  EXPECT_NE(r.out.find("SIZE"), std::string::npos);
  EXPECT_NE(r.out.find("MODIFIED"), std::string::npos);
  EXPECT_NE(r.out.find("tiny-kjv:latest"), std::string::npos);
  EXPECT_NE(r.out.find("30 MB"), std::string::npos) << r.out;
  const auto j = list_json();
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["bundled"], true);
}

TEST_F(StoreCli, ImportListRunCopyRemove) {
  Result r = run_hearth("import kjv " + shell_quote(model_));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kjv:latest"), std::string::npos) << r.out;

  r = run_hearth("run kjv \"In the beginning\" -n 4 --temperature 0");
  ASSERT_EQ(r.code, 0) << r.err;
  const Result bundled = run_hearth("run tiny-kjv \"In the beginning\" -n 4 --temperature 0");
  ASSERT_EQ(bundled.code, 0) << bundled.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out, bundled.out);  // the same weights

  r = run_hearth("cp kjv alice/kjv:v2");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = list_json();
  ASSERT_EQ(j.size(), 3u) << j.dump();
  std::set<std::string> names;
  for (const auto& m : j) names.insert(m["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"kjv:latest", "alice/kjv:v2", "tiny-kjv:latest"}));

  r = run_hearth("rm kjv alice/kjv:v2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(list_json().size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(model_));  // the imported file itself is never removed

  r = run_hearth("rm kjv");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("not a known model name"), std::string::npos) << r.err;
}

TEST_F(StoreCli, ImportWithCopySurvivesTheOriginal) {
  Result r = run_hearth("import kjv " + shell_quote(model_) + " --copy");
  ASSERT_EQ(r.code, 0) << r.err;
  std::filesystem::remove(model_);
  r = run_hearth("run kjv \"In the beginning\" -n 2 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(StoreCli, AChangedImportIsReported) {
  ASSERT_EQ(run_hearth("import kjv " + shell_quote(model_)).code, 0);
  std::ofstream(model_, std::ios::app) << "x";
  const Result r = run_hearth("run kjv hello -n 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("which has changed since (re-import it"), std::string::npos) << r.err;
}

TEST_F(StoreCli, CreateFromAModelfile) {
  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM ./my model.gguf\nSYSTEM \"\"\"You are a scribe.\"\"\"\n"
                       "PARAMETER temperature 0.2\nPARAMETER stop Amen\n";
  Result r = run_hearth("create scribe -f " + shell_quote(mf));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("scribe:latest"), std::string::npos) << r.out;
  r = run_hearth("run scribe \"In the beginning\" -n 4 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.err;
  // The layers are Ollama's.
  const std::string manifest = hearth::test::slurp(
      dir_.path() + "/home/models/manifests/registry.ollama.ai/library/scribe/latest");
  const auto m = nlohmann::json::parse(manifest);
  std::set<std::string> types;
  for (const auto& l : m["layers"]) types.insert(l["mediaType"].get<std::string>());
  EXPECT_EQ(types, (std::set<std::string>{"application/vnd.ollama.image.model",
                                          "application/vnd.ollama.image.system",
                                          "application/vnd.ollama.image.params"}));
}

// Without a server, `hearth run` gives a created model's stored parameters,
// system message and messages the same force a server gives them: the reply
// is the server's, token for token.
TEST_F(StoreCli, RunWithoutAServerAppliesWhatTheModelStores) {
  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM tiny-kjv\nSYSTEM \"\"\"You are a scribe.\"\"\"\n"
                       "PARAMETER temperature 0\nPARAMETER num_predict 3\n"
                       "MESSAGE user Who made the earth?\nMESSAGE assistant The LORD.\n";
  ASSERT_EQ(run_hearth("create scribe -f " + shell_quote(mf)).code, 0);

  Result r = run_hearth("run --local scribe --chat \"Who art thou?\" --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto local = nlohmann::json::parse(r.out);
  EXPECT_EQ(local["eval_count"], 3);  // the stored num_predict
  r = run_hearth("run --local tiny-kjv --chat \"Who art thou?\" --json -n 3 --temperature 0");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto bare = nlohmann::json::parse(r.out);
  // The system message and the two stored turns come before the question.
  EXPECT_GT(local["prompt_tokens"].size(), bare["prompt_tokens"].size() + 12);

  hearth::test::HearthServer server;
  std::filesystem::remove_all(server.home() + "/models");
  std::filesystem::copy(dir_.path() + "/home/models", server.home() + "/models",
                        std::filesystem::copy_options::recursive);
  const auto answer =
      server.post("/api/chat", {{"model", "scribe"},
                                {"stream", false},
                                {"messages", {{{"role", "user"}, {"content", "Who art thou?"}}}}});
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.json()["eval_count"], 3);
  EXPECT_EQ(answer.json()["message"]["content"], local["text"]);

  // The chat's /show PART, without and through the server.
  r = run_hearth("run --local scribe", "/show system\n/show nothing\n/bye\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("You are a scribe.\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no part 'nothing' (modelfile, parameters,"), std::string::npos) << r.err;
  {
    // Only the server knows "scribe" now: this CLI's store is empty.
    TempDir empty;
    setenv("HEARTH_HOME", empty.path().c_str(), 1);
    setenv("HEARTH_HOST", ("127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
    r = run_hearth("run scribe", "/show system\n/bye\n");
    unsetenv("HEARTH_HOST");
    setenv("HEARTH_HOME", (dir_.path() + "/home").c_str(), 1);
  }
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("You are a scribe.\n"), std::string::npos) << r.err;

  // A flag still wins over what the model stores.
  r = run_hearth("run --local scribe --chat \"Who art thou?\" --json -n 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["eval_count"], 1);
}

// A Modelfile's num_ctx beyond what the model allows runs at that limit, as
// the server caps it (a Modelfile written for another model, or for Ollama);
// the same number typed as --ctx is the user's error.
TEST_F(StoreCli, AStoredNumCtxBeyondTheModelIsCapped) {
  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM tiny-kjv\nPARAMETER num_ctx 100000\n";
  ASSERT_EQ(run_hearth("create wide -f " + shell_quote(mf)).code, 0);
  Result r = run_hearth("run --local wide \"In the\" -n 2 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out, "");
  r = run_hearth("run --local wide \"In the\" -n 2 --ctx 100000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--ctx must be between 16 and 1024"), std::string::npos) << r.err;
}

// `show --modelfile` writes what creates the model again; the other parts
// print alone, as Ollama's show does.
TEST_F(StoreCli, ShowPrintsTheModelfileThatCreatesTheModelAgain) {
  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM ./my model.gguf\nSYSTEM \"\"\"You are a scribe.\nSay \"well\".\"\"\"\n"
                       "PARAMETER temperature 0.2\nPARAMETER stop Amen\nPARAMETER stop \"[INST]\"\n"
                       "LICENSE MIT\nMESSAGE user Who made the earth?\n"
                       "MESSAGE assistant The LORD.\n";
  ASSERT_EQ(run_hearth("create scribe -f " + shell_quote(mf)).code, 0);
  Result r = run_hearth("show scribe --modelfile");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\nPARAMETER stop \"[INST]\"\n"), std::string::npos) << r.out;
  const std::string again = dir_.path() + "/Modelfile.again";
  std::ofstream(again) << r.out;
  r = run_hearth("create scribe2 -f " + shell_quote(again));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_hearth("show scribe --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto first = nlohmann::json::parse(r.out)["stored"];
  r = run_hearth("show scribe2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto second = nlohmann::json::parse(r.out)["stored"];
  EXPECT_EQ(first["system"], "You are a scribe.\nSay \"well\".");
  EXPECT_EQ(first["parameters"]["stop"], nlohmann::json::array({"Amen", "[INST]"}));
  EXPECT_EQ(first["messages"].size(), 2u);
  first.erase("name");
  second.erase("name");
  EXPECT_EQ(first, second);

  r = run_hearth("show scribe --system");
  EXPECT_EQ(r.out, "You are a scribe.\nSay \"well\".\n");
  r = run_hearth("show scribe --license");
  EXPECT_EQ(r.out, "MIT\n");
  r = run_hearth("show scribe --parameters");
  EXPECT_NE(r.out.find("temperature                    0.2\n"), std::string::npos) << r.out;
  r = run_hearth("show scribe --system --license");
  EXPECT_NE(r.code, 0);
}

TEST_F(StoreCli, BadInputIsAClearErrorAndWritesNothing) {
  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM tiny-kjv\nPARAMETER wibble 3\n";
  Result r = run_hearth("create x -f " + shell_quote(mf));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(mf + ":2: unknown parameter 'wibble'"), std::string::npos) << r.err;
  std::ofstream(mf) << "FROM tiny-kjv\nPARAMETER top_k -3\n";  // a number out of range
  r = run_hearth("create x -f " + shell_quote(mf));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(mf + ": PARAMETER top_k must be >= 0 (0: off), got -3"), std::string::npos)
      << r.err;
  r = run_hearth("import ../../etc/passwd " + shell_quote(model_));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("invalid model name '../../etc/passwd'"), std::string::npos) << r.err;
  r = run_hearth("cp tiny-kjv x:../y");
  EXPECT_NE(r.code, 0);
  r = run_hearth("import junk " + shell_quote(mf));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("not a readable GGUF"), std::string::npos) << r.err;
  EXPECT_EQ(list_json().size(), 1u);
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(
      dir_.path() + "/home/models/manifests/registry.ollama.ai/library/x", ec));
}

// The files of the store's blobs/ of more than `min_bytes` (model files).
size_t big_blobs(const std::string& home, uintmax_t min_bytes = 4096) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(home + "/models/blobs", ec))
    if (e.file_size() > min_bytes) ++n;
  return n;
}

// A model replaced by import or cp leaves no copy of its GGUF behind, and a
// create refused for its -q type copies nothing.
TEST_F(StoreCli, ReplacingAModelLeavesNoOrphanBlobs) {
  const std::string home = dir_.path() + "/home";
  Result r = run_hearth("import ow " + shell_quote(model_) + " --copy");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(big_blobs(home), 1u);
  r = run_hearth("cp tiny-kjv ow");  // a link to the bundled file replaces the copy
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(big_blobs(home), 0u);
  r = run_hearth("import ow " + shell_quote(model_) + " --copy");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_hearth("import ow " + shell_quote(model_));  // linked in place over the copy
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(big_blobs(home), 0u);
  EXPECT_TRUE(std::filesystem::exists(model_));

  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM ./my model.gguf\n";
  r = run_hearth("create q -f " + shell_quote(mf) + " -q q9_9");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unknown quantization type 'q9_9'"), std::string::npos) << r.err;
  EXPECT_EQ(big_blobs(home), 0u);
}

// FROM a namespaced model; FROM a missing file or a binary file as the
// Modelfile are errors that say what is wrong, whole.
TEST_F(StoreCli, CreateFromANamespacedModelAndClearFromErrors) {
  Result r = run_hearth("cp tiny-kjv alice/foo:q4");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string mf = dir_.path() + "/Modelfile";
  std::ofstream(mf) << "FROM alice/foo:q4\nSYSTEM hi\n";
  r = run_hearth("create from-alice -f " + shell_quote(mf));
  EXPECT_EQ(r.code, 0) << r.err;

  std::ofstream(mf) << "FROM ./nosuch.gguf\n";
  r = run_hearth("create x -f " + shell_quote(mf));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("FROM './nosuch.gguf'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("././"), std::string::npos) << r.err;

  const std::string binary = dir_.path() + "/small.gguf";  // a GGUF's first bytes
  std::ofstream(binary, std::ios::binary) << std::string("GGUF\x03\0\0\0\x09\0\0\0 x\n", 15);
  r = run_hearth("create x -f " + shell_quote(binary));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unknown instruction 'GGUF\\x03\\x00"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(expected FROM, PARAMETER"), std::string::npos) << r.err;
}

// A template that is not valid Jinja is refused at create.
TEST_F(StoreCli, CreateRefusesATemplateThatDoesNotParse) {
  const std::string mf = dir_.path() + "/Modelfile";
  for (const char* t : {"{{ unclosed", "{% for m in messages %}{{ m['content'] }}"}) {
    std::ofstream(mf) << "FROM tiny-kjv\nTEMPLATE \"\"\"" << t << "\"\"\"\n";
    const Result r = run_hearth("create x -f " + shell_quote(mf));
    EXPECT_NE(r.code, 0) << t;
    EXPECT_NE(r.err.find(mf + ": TEMPLATE is not a valid Jinja template"), std::string::npos)
        << r.err;
  }
  std::ofstream(mf) << "FROM tiny-kjv\nTEMPLATE \"\"\"{% for m in messages %}{{ m['content'] }}{{ "
                       "not loop.last and '|' or '' }}{% endfor %}\"\"\"\n";
  const Result r = run_hearth("create x -f " + shell_quote(mf));
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
