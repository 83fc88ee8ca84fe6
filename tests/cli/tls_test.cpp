// `hearth serve --tls-cert --tls-key`: HTTPS with the user's certificate,
// checked with curl as a client that verifies it; plain HTTP on that port gets
// no answer; a key that is not the certificate's, or a missing file, stops
// the server before it listens. The CLI's own client (HEARTH_HOST=https://...)
// reaches that server and verifies it too, and refuses one it cannot trust
// rather than working standalone.
#include <gtest/gtest.h>

#include <string>

#include "cli/hearth_server.h"

namespace hearth::test {
namespace {

// A self-signed certificate for 127.0.0.1 and its key in `dir` (cert.pem, key.pem).
void make_certificate(const std::string& dir, const std::string& name = "") {
  const auto r = run_shell(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
      dir + "/key" + name + ".pem -out " + dir + "/cert" + name + ".pem");
  ASSERT_EQ(r.code, 0) << r.err;
}

TEST(Tls, ServesHttpsWithTheGivenCertificate) {
  const TempDir d;
  make_certificate(d.path());
  HearthServer s("--tls-cert " + d.path() + "/cert.pem --tls-key " + d.path() + "/key.pem", true);
  const std::string url = "https://127.0.0.1:" + std::to_string(s.port());
  // curl verifies the chain against this certificate alone, and the name.
  auto r = run_shell("curl -sS --cacert " + d.path() + "/cert.pem " + url + "/api/version");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out)["version"].is_string()) << r.out;
  // A generation, streamed over TLS.
  r = run_shell("curl -sS --cacert " + d.path() + "/cert.pem " + url +
                "/api/generate -d '{\"model\":\"tiny-kjv\",\"prompt\":\"In the beginning\","
                "\"options\":{\"num_predict\":4,\"temperature\":0}}'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"done\":true"), std::string::npos) << r.out;
  // TLS 1.1 is refused.
  r = run_shell("curl -sS --cacert " + d.path() + "/cert.pem --tlsv1.1 --tls-max 1.1 " + url +
                "/api/version");
  EXPECT_NE(r.code, 0) << r.out;
  // Plain HTTP on the HTTPS port gets no HTTP answer, and the server stays up.
  r = run_shell("curl -sS --max-time 5 http://127.0.0.1:" + std::to_string(s.port()) +
                "/api/version");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("version"), std::string::npos) << r.out;
  r = run_shell("curl -sS --cacert " + d.path() + "/cert.pem " + url + "/health");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(s.log().find("listening on https://127.0.0.1"), std::string::npos) << s.log();
}

TEST(Tls, TheCliTalksHttpsToTheServer) {
  const TempDir d;
  make_certificate(d.path());
  make_certificate(d.path(), "2");
  HearthServer s("--tls-cert " + d.path() + "/cert.pem --tls-key " + d.path() + "/key.pem", true);
  const std::string url = "https://127.0.0.1:" + std::to_string(s.port());
  setenv("HEARTH_HOST", url.c_str(), 1);
  setenv("HEARTH_TLS_CA", (d.path() + "/cert.pem").c_str(), 1);
  // run: answered by the server (which then holds the model), over TLS.
  auto r = run_hearth("run tiny-kjv 'In the beginning' -n 8 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, ", and the word of the LORD");
  r = run_shell("curl -sS --cacert " + d.path() + "/cert.pem " + url + "/api/ps");
  EXPECT_NE(r.out.find("tiny-kjv:latest"), std::string::npos) << r.out;
  r = run_hearth("ps");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tiny-kjv:latest"), std::string::npos) << r.out;
  // A certificate the client does not trust: refused, and said why.
  setenv("HEARTH_TLS_CA", (d.path() + "/cert2.pem").c_str(), 1);
  r = run_hearth("ps");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HEARTH_TLS_CA"), std::string::npos) << r.err;
  // The commands that work standalone when no server answers refuse too,
  // rather than running the model here or deleting from the local store.
  const TempDir home;
  setenv("HEARTH_HOME", home.path().c_str(), 1);
  r = run_hearth("cp tiny-kjv mine");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_hearth("run tiny-kjv 'In the beginning' -n 8 --temperature 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  r = run_hearth("rm mine");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  r = run_hearth("list");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  unsetenv("HEARTH_HOST");
  r = run_hearth("list");
  EXPECT_NE(r.out.find("mine:latest"), std::string::npos) << r.out;
  unsetenv("HEARTH_HOME");
  setenv("HEARTH_HOST", url.c_str(), 1);
  // The right certificate under a name it does not carry: refused too.
  setenv("HEARTH_TLS_CA", (d.path() + "/cert.pem").c_str(), 1);
  setenv("HEARTH_HOST", ("https://localhost:" + std::to_string(s.port())).c_str(), 1);
  r = run_hearth("ps");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  // A CA file that is not PEM.
  setenv("HEARTH_HOST", url.c_str(), 1);
  setenv("HEARTH_TLS_CA", (d.path() + "/missing.pem").c_str(), 1);
  r = run_hearth("ps");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("HEARTH_TLS_CA: cannot read"), std::string::npos) << r.err;
  unsetenv("HEARTH_TLS_CA");
  unsetenv("HEARTH_HOST");
}

TEST(Tls, BadCertificatesStopTheServerBeforeItListens) {
  const TempDir d;
  make_certificate(d.path());
  make_certificate(d.path(), "2");
  auto serve = [&](const std::string& args) {
    setenv("HEARTH_HOME", d.path().c_str(), 1);
    auto r =
        run_hearth("serve --host 127.0.0.1 --port " + std::to_string(free_port()) + " " + args);
    unsetenv("HEARTH_HOME");
    return r;
  };
  auto r = serve("--tls-cert " + d.path() + "/cert.pem --tls-key " + d.path() + "/key2.pem");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("cannot use the TLS key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mismatch"), std::string::npos) << r.err;
  r = serve("--tls-cert " + d.path() + "/missing.pem --tls-key " + d.path() + "/key.pem");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("cannot use the TLS certificate"), std::string::npos) << r.err;
  r = serve("--tls-cert " + d.path() + "/cert.pem");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--tls-cert and --tls-key go together"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hearth::test
