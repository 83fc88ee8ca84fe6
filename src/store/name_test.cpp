// Names and digests: Ollama's grammar, and nothing that could leave the store.
#include "store/name.h"

#include <gtest/gtest.h>

namespace {

using namespace hearth::store;

TEST(Name, DefaultsAndShortForm) {
  const ModelName n = parse_name("tiny-kjv");
  EXPECT_EQ(n.host, "registry.ollama.ai");
  EXPECT_EQ(n.ns, "library");
  EXPECT_EQ(n.model, "tiny-kjv");
  EXPECT_EQ(n.tag, "latest");
  EXPECT_EQ(n.display(), "tiny-kjv:latest");
  EXPECT_EQ(n.manifest_path(), "manifests/registry.ollama.ai/library/tiny-kjv/latest");
  EXPECT_EQ(parse_name("alice/foo:q4").display(), "alice/foo:q4");
  EXPECT_EQ(parse_name("example.com:5000/alice/foo:q4").display(), "example.com:5000/alice/foo:q4");
  EXPECT_EQ(parse_name("example.com:5000/alice/foo").tag, "latest");
  EXPECT_EQ(parse_name("registry.ollama.ai/library/llama3.2:3b-q4_K_M").display(),
            "llama3.2:3b-q4_K_M");
}

TEST(Name, MatchingIsCaseInsensitive) {
  EXPECT_EQ(parse_name("Tiny-KJV:Latest").key(), parse_name("tiny-kjv").key());
  EXPECT_EQ(parse_name("Tiny-KJV").display(), "Tiny-KJV:latest");  // spelling kept
}

TEST(Name, RefusesHostileAndMalformedNames) {
  for (const char* bad : {"",
                          "../../etc/passwd",
                          "a/b/c/d",
                          "x:../y",
                          "..",
                          ".",
                          "./x",
                          "/abs",
                          "/etc/passwd",
                          "a//b",
                          "a/",
                          "foo:",
                          ":tag",
                          "foo:bar:baz",
                          "foo\\bar",
                          "-foo",
                          "_foo",
                          ".hidden",
                          "foo:.x",
                          "foo bar",
                          "foo\nbar",
                          "héllo",
                          "a/../b",
                          "ns/..:x",
                          "h:99999999/a/b"}) {
    EXPECT_FALSE(is_valid_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_name(std::string("foo\0bar", 7)));
  EXPECT_THROW(parse_name(std::string(81, 'a')), InvalidName);
  EXPECT_TRUE(is_valid_name(std::string(80, 'a')));
  EXPECT_THROW(parse_name("foo:" + std::string(81, 't')), InvalidName);
  EXPECT_THROW(parse_name(std::string(81, 'n') + "/foo"), InvalidName);
}

// Each part is a folder or file name of the store: at most 255 bytes (NAME_MAX).
TEST(Name, TheHostFitsInAFolderName) {
  EXPECT_TRUE(is_valid_name(std::string(255, 'h') + "/ns/foo:v1"));
  EXPECT_TRUE(is_valid_name(std::string(249, 'h') + ":12345/ns/foo"));
  EXPECT_FALSE(is_valid_name(std::string(256, 'h') + "/ns/foo:v1"));
  EXPECT_FALSE(is_valid_name(std::string(300, 'h') + "/ns/foo"));
  EXPECT_FALSE(is_valid_name(std::string(250, 'h') + ":12345/ns/foo"));
}

TEST(Name, ErrorsSayWhy) {
  try {
    parse_name("x:../y");
    FAIL();
  } catch (const InvalidName& e) {
    EXPECT_NE(std::string(e.what()).find("'x:../y'"), std::string::npos) << e.what();
  }
  try {
    parse_name(std::string("a\x01", 2));
    FAIL();
  } catch (const InvalidName& e) {
    EXPECT_NE(std::string(e.what()).find("\\x01"), std::string::npos) << e.what();
  }
}

TEST(Digest, AcceptsBothSeparatorsLowercaseOnly) {
  const std::string hex(64, 'a');
  EXPECT_EQ(parse_digest("sha256:" + hex), "sha256:" + hex);
  EXPECT_EQ(parse_digest("sha256-" + hex), "sha256:" + hex);
  EXPECT_EQ(blob_file_name("sha256:" + hex), "sha256-" + hex);
  EXPECT_FALSE(is_digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_digest("sha256:" + std::string(65, 'a')));
  EXPECT_FALSE(is_digest("sha256:" + std::string(62, 'a') + "/."));
  EXPECT_FALSE(is_digest("sha512:" + hex));
  EXPECT_FALSE(is_digest("SHA256:" + hex));
  EXPECT_FALSE(is_digest("sha256:../../../../etc/passwd" + std::string(36, 'a')));
  EXPECT_FALSE(is_digest(""));
}

}  // namespace
