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

}  // namespace
}  // namespace hearth::server
