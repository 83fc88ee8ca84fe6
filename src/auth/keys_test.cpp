#include "auth/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace hearth::auth {
namespace {

struct TempStore {
  std::filesystem::path dir;
  TempStore() {
    char tmpl[] = "/tmp/hearth-keys-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~TempStore() { std::filesystem::remove_all(dir); }
  std::string path() const { return (dir / "keys.db").string(); }
};

TEST(Keys, CreateVerifyRevoke) {
  TempStore t;
  KeyStore cli(t.path()), server(t.path());
  EXPECT_FALSE(server.any_active());
  const std::string a = cli.create("laptop", Scope::Inference, std::nullopt);
  EXPECT_EQ(a.size(), 3u + 43u);
  EXPECT_EQ(a.rfind("hk_", 0), 0u);
  for (char c : a.substr(3))
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  const std::string b = cli.create("ops", Scope::Admin, std::chrono::hours(1));
  EXPECT_NE(a, b);
  EXPECT_TRUE(server.any_active());

  auto k = server.verify(a);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->name, "laptop");
  EXPECT_EQ(k->scope, Scope::Inference);
  EXPECT_EQ(server.verify(b)->scope, Scope::Admin);
  EXPECT_FALSE(server.verify(a.substr(0, a.size() - 1)));  // a prefix
  EXPECT_FALSE(server.verify(a + "x"));
  EXPECT_FALSE(server.verify(""));

  cli.revoke("laptop");  // seen by the server at its next check, no restart
  EXPECT_FALSE(server.verify(a));
  EXPECT_TRUE(server.verify(b));
  EXPECT_THROW(cli.revoke("laptop"), KeyError);
  EXPECT_THROW(cli.revoke("nobody"), KeyError);

  const auto l = cli.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_NE(l[0].revoked, 0);
  EXPECT_NE(l[1].expires, 0);
}

TEST(Keys, TheFileHoldsNoSecretAndIsPrivate) {
  TempStore t;
  KeyStore s(t.path());
  const std::string k = s.create("a", Scope::Admin, std::nullopt);
  struct stat st {};
  ASSERT_EQ(::stat(t.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(t.path(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(k.substr(3)), std::string::npos);
  EXPECT_EQ(bytes.find(k.substr(3, 16)), std::string::npos);
}

TEST(Keys, NamesAndDuplicates) {
  TempStore t;
  KeyStore s(t.path());
  EXPECT_THROW(s.create("", Scope::Admin, std::nullopt), KeyError);
  EXPECT_THROW(s.create("a b", Scope::Admin, std::nullopt), KeyError);
  EXPECT_THROW(s.create("../x", Scope::Admin, std::nullopt), KeyError);
  EXPECT_THROW(s.create(std::string(65, 'a'), Scope::Admin, std::nullopt), KeyError);
  s.create("x", Scope::Admin, std::nullopt);
  EXPECT_THROW(s.create("x", Scope::Inference, std::nullopt), KeyError);
}

TEST(Keys, ExpiredKeysFail) {
  TempStore t;
  KeyStore s(t.path());
  const std::string k = s.create("short", Scope::Admin, std::chrono::seconds(1));
  EXPECT_TRUE(s.verify(k));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_FALSE(s.verify(k));
  EXPECT_FALSE(s.any_active());
}

TEST(Keys, Ttl) {
  EXPECT_EQ(parse_ttl("90d").count(), 90 * 86400);
  EXPECT_EQ(parse_ttl("12h").count(), 12 * 3600);
  EXPECT_EQ(parse_ttl("2w").count(), 14 * 86400);
  for (const char* bad : {"", "d", "0d", "-1d", "1y", "1.5d", "99999999999d", "10"})
    EXPECT_THROW(parse_ttl(bad), KeyError) << bad;
}

TEST(Keys, Scopes) {
  EXPECT_EQ(parse_scope("admin"), Scope::Admin);
  EXPECT_EQ(parse_scope("inference"), Scope::Inference);
  EXPECT_FALSE(parse_scope("Admin"));
  EXPECT_EQ(scope_name(Scope::Admin), "admin");
}

}  // namespace
}  // namespace hearth::auth
