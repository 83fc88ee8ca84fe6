// What the server's shared helpers promise (server_impl.h).
#include <gtest/gtest.h>

#include "server/server_impl.h"

namespace hearth::server {
namespace {

TEST(WithoutPaths, FilePathsLoseAllButTheirLastComponent) {
  EXPECT_EQ(without_paths("'/home/bob/.hearth/models/blobs/sha256-ab' is larger than 64 bytes"),
            "'sha256-ab' is larger than 64 bytes");
  EXPECT_EQ(without_paths("cannot read /tmp/x/y.gguf: No such file"),
            "cannot read y.gguf: No such file");
  EXPECT_EQ(without_paths("\"/srv/m.gguf\" (and /a/b/c)"), "\"m.gguf\" (and c)");
  EXPECT_EQ(without_paths("/root/secret/key.pem"), "key.pem");
}

TEST(WithoutPaths, RoutesRatiosAndPlainWordsStay) {
  EXPECT_EQ(without_paths("use /api/chat or /v1/chat/completions"),
            "use /api/chat or /v1/chat/completions");
  EXPECT_EQ(without_paths("see /health"), "see /health");
  EXPECT_EQ(without_paths("4/5 done, a/b/c relative"), "4/5 done, a/b/c relative");
  EXPECT_EQ(without_paths(""), "");
}

// Schema errors name the request's own schema by JSON pointer; a $ref may be a URL.
TEST(WithoutPaths, JsonPointersOfSchemaErrorsAndUrlsStay) {
  EXPECT_EQ(without_paths("tool parameters: schema at '/properties/a/properties/b': keyword "
                          "'pattern' is not supported"),
            "tool parameters: schema at '/properties/a/properties/b': keyword 'pattern' is not "
            "supported");
  EXPECT_EQ(without_paths("format: schema at '/$defs/a b/items': unknown type 'x'"),
            "format: schema at '/$defs/a b/items': unknown type 'x'");
  EXPECT_EQ(without_paths("schema at '': '$ref' 'http://example.com/s.json' is not supported"),
            "schema at '': '$ref' 'http://example.com/s.json' is not supported");
  EXPECT_EQ(without_paths("see https://example.com/a/b (or file:///home/bob/x.json)"),
            "see https://example.com/a/b (or file:x.json)");
  // A path elsewhere in the same message still goes.
  EXPECT_EQ(without_paths("schema at '/items': '$ref' '/home/bob/s.json' is not supported"),
            "schema at '/items': '$ref' 's.json' is not supported");
}

}  // namespace
}  // namespace hearth::server
