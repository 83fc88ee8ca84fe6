// deploy/haproxy.cfg in front of real hearth nodes: HAProxy (Debian's) and two
// `hearth serve` on loopback, the shipped configuration with only its
// addresses (and the root-only global settings) changed. Requests through the
// front are spread over the nodes; when one stops, or answers 503 as a full
// node does, every request is still answered by the other.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "cli/background_process.h"
#include "cli/hearth_server.h"

namespace hearth::test {
namespace {

using nlohmann::json;

// deploy/haproxy.cfg listening on 127.0.0.1:front with `nodes` as its servers,
// without the settings that need root (chroot, user, group, syslog).
std::string front_config(int front, const std::vector<int>& nodes) {
  std::istringstream in(slurp(std::string(HEARTH_SOURCE_DIR) + "/deploy/haproxy.cfg"));
  std::ostringstream out;
  bool bound = false, servers = false;
  const std::regex drop(R"(^\s+(chroot|user|group|log /)\b.*)");
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, drop)) continue;
    if (std::regex_match(line, std::regex(R"(^\s+bind .*)"))) {
      if (!bound) out << "    bind 127.0.0.1:" << front << "\n";
      bound = true;
      continue;
    }
    if (std::regex_match(line, std::regex(R"(^\s+server .*)"))) {
      if (!servers)
        for (size_t i = 0; i < nodes.size(); ++i)
          out << "    server node" << i + 1 << " 127.0.0.1:" << nodes[i] << "\n";
      servers = true;
      continue;
    }
    out << line << "\n";
  }
  EXPECT_TRUE(bound && servers) << "deploy/haproxy.cfg has no bind or server line";
  return out.str();
}

struct Front {
  explicit Front(const std::vector<int>& nodes) : port(free_port()) {
    const std::string cfg = dir.path() + "/haproxy.cfg";
    std::ofstream(cfg) << front_config(port, nodes);
    const auto check = run_command("haproxy -c -f " + cfg);
    EXPECT_EQ(check.code, 0) << check.out;
    proc =
        std::make_unique<BackgroundProcess>("haproxy -db -f " + cfg, dir.path() + "/haproxy.log");
    const bool up = wait_until([&] { return http_request(port, "GET", "/health").status == 200; },
                               std::chrono::seconds(30));
    EXPECT_TRUE(up) << proc->log();
  }
  TempDir dir;
  int port;
  std::unique_ptr<BackgroundProcess> proc;
};

HttpResponse generate(int port, const std::string& prompt, bool stream = false) {
  const json body = {{"model", "tiny-kjv"},
                     {"prompt", prompt},
                     {"stream", stream},
                     {"options", {{"temperature", 0}, {"num_predict", 4}}}};
  return http_request(port, "POST", "/api/generate", body.dump());
}

double generate_count(HearthServer& s) {
  const std::string series = R"(llm_requests_total{route="/api/generate",status="200"} )";
  const std::string t = s.get("/metrics").body;
  const auto at = t.find(series);
  return at == std::string::npos ? 0 : std::stod(t.substr(at + series.size()));
}

TEST(HaproxyFront, EveryRequestIsAnsweredWhenANodeStops) {
  auto a = std::make_unique<HearthServer>();
  HearthServer b;
  Front front({a->port(), b.port()});
  for (int i = 0; i < 8; ++i) {
    const auto r = generate(front.port, "In the beginning " + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body << front.proc->log();
    EXPECT_TRUE(r.json()["done"].get<bool>());
  }
  // A stream passes through as it comes.
  const auto stream = generate(front.port, "And God said", true);
  ASSERT_EQ(stream.status, 200);
  EXPECT_GT(stream.ndjson().size(), 1u) << stream.body;
  EXPECT_TRUE(stream.ndjson().back()["done"].get<bool>());
  // Least connections spreads sequential requests over both nodes.
  EXPECT_GT(generate_count(*a), 0);
  const double b_before = generate_count(b);
  EXPECT_GT(b_before, 0);

  a->stop();  // node 1 goes away, before any health check can notice
  int answered = 0;
  for (int i = 0; i < 12; ++i) {
    const auto r = generate(front.port, "And the earth " + std::to_string(i));
    EXPECT_EQ(r.status, 200) << r.body;
    answered += r.status == 200;
  }
  EXPECT_EQ(answered, 12) << front.proc->log();
  EXPECT_EQ(generate_count(b), b_before + 12);  // all of them by the node still up
}

// A node that is up (GET /health 200) but full: 503 with Retry-After for
// every other request, as hearth answers when its queue is full.
class FullNode {
 public:
  FullNode() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FullNode() {
    stop_ = true;
    // A blocking accept() is not woken by closing its socket: connect once.
    try {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket wake(ioc);
      wake.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port())});
    } catch (const std::exception&) {
    }
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  int refused() const { return refused_; }

 private:
  void serve() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket sock(ioc_);
      acceptor_.accept(sock, ec);
      if (ec) return;
      // One request per connection (Connection: close), so that a health
      // check never waits behind a kept-alive connection.
      boost::beast::flat_buffer buf;
      {
        http::request<http::string_body> req;
        http::read(sock, buf, req, ec);
        if (ec) continue;
        http::response<http::string_body> res;
        res.version(11);
        res.set(http::field::content_type, "application/json; charset=utf-8");
        if (req.target() == "/health") {
          res.result(200);
          res.body() = R"({"status":"ok"})";
        } else {
          ++refused_;
          res.result(503);
          res.set("Retry-After", "1");
          res.body() = R"({"error":"queue full"})";
        }
        res.keep_alive(false);
        res.prepare_payload();
        http::write(sock, res, ec);
      }
    }
  }
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0};
};

TEST(HaproxyFront, AFullNodesRequestsAreRetriedOnAnother) {
  FullNode full;
  HearthServer b;
  Front front({full.port(), b.port()});
  for (int i = 0; i < 10; ++i) {
    const auto r = generate(front.port, "Let there be light " + std::to_string(i));
    EXPECT_EQ(r.status, 200) << r.body << front.proc->log();
  }
  EXPECT_GT(full.refused(), 0);  // the full node was tried, and its 503s retried
  EXPECT_EQ(generate_count(b), 10);
}

}  // namespace
}  // namespace hearth::test
