#include "auth/audit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace hearth::auth {
namespace {

TEST(Audit, RecordsAndPrunes) {
  char tmpl[] = "/tmp/hearth-audit-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(tmpl);
  const std::string path = (dir / "audit.db").string();
  {
    AuditLog log(path, std::chrono::hours(24));
    AuditEntry e;
    e.key_name = "laptop";
    e.client = "192.0.2.7";
    e.method = "POST";
    e.route = "/api/chat";
    e.model = "tiny-kjv";
    e.prompt_tokens = 12;
    e.generated_tokens = 34;
    e.status = 200;
    log.record(e);
    e.time_ms = 1000;  // 1970: older than any retention
    log.record(e);
    EXPECT_EQ(log.rows(), 2);
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  AuditLog again(path, std::chrono::hours(24));  // prunes at open
  EXPECT_EQ(again.rows(), 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hearth::auth
