// The web UI: the page and its files from the embedded table (ui_assets.h),
// and the conversation history it keeps through /api/hearth/conversations.
//
// GET / stays "Ollama is running" for programs (Ollama's clients probe it);
// a browser, whose Accept names text/html, gets the page instead.
//
// Under /api/hearth/conversations (docs/server.md has the shapes):
//   GET             {"history": bool, "retention_s": n, "conversations": [summary]}
//   DELETE          delete all: {"deleted": n}
//   GET    /export  {"conversations": [document]}, as a download
//   GET    /ID      the document (history/history.h)
//   PUT    /ID      save (POST too): the summary
//   DELETE /ID      {"deleted": 1}, or 404
#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <optional>
#include <string_view>

#include "server/ollama_types.h"
#include "server/server_impl.h"
#include "server/ui_assets.h"

namespace hearth::server {

namespace {

constexpr std::string_view kConversations = "/api/hearth/conversations";

// On every response of the UI: no script but the page's own files, no
// framing, no sniffing, no referrer.
Headers security_headers() {
  return {{"Content-Security-Policy",
           "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"X-Frame-Options", "DENY"}};
}

const UiAsset* find_asset(std::string_view path) {
  for (const auto& a : ui_assets())
    if (a.path == path) return &a;
  return nullptr;
}

// If-None-Match: a list of (possibly weak) ETags, or "*".
bool etag_matches(const HttpRequest& req, std::string_view etag) {
  const auto h = req.header("if-none-match");
  if (!h) return false;
  std::string_view rest = *h;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view tag = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

void send_asset(Exchange& ex, const UiAsset& a) {
  const auto& req = ex.request();
  if (req.method != "GET" && req.method != "HEAD") throw method_not_allowed("GET, HEAD");
  Headers h = security_headers();
  h.emplace_back("ETag", std::string(a.etag));
  // Names carry no hash: the browser asks again each time and gets a 304.
  h.emplace_back("Cache-Control", "no-cache");
  if (etag_matches(req, a.etag)) {
    ex.respond(304, std::string(a.content_type), "", std::move(h));
    return;
  }
  ex.respond(200, std::string(a.content_type), std::string(a.bytes), std::move(h));
}

bool wants_html(const HttpRequest& req) {
  const auto accept = req.header("accept");
  return accept && accept->find("text/html") != std::string::npos;
}

// Private data: never cached, and as guarded as the page.
Headers history_headers() {
  Headers h = security_headers();
  h.emplace_back("Cache-Control", "no-store");
  return h;
}

// A conversation's version (its updated_ms) as an ETag, and back from a
// save's If-Match: only that version may be replaced (another tab may have
// saved since). No If-Match: saved whatever is stored.
std::string version_tag(int64_t updated_ms) { return "\"" + std::to_string(updated_ms) + "\""; }

std::optional<int64_t> if_match(const HttpRequest& req, const Headers& headers) {
  const auto h = req.header("if-match");
  if (!h) return std::nullopt;
  std::string_view v = *h;
  int64_t out = 0;
  const bool quoted = v.size() >= 3 && v.front() == '"' && v.back() == '"';
  if (quoted) v = v.substr(1, v.size() - 2);
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (!quoted || ec != std::errc() || end != v.data() + v.size() || out < 0)
    throw HttpError(400, "If-Match must be a conversation's ETag (\"updated_ms\")", headers);
  return out;
}

nlohmann::ordered_json summary_json(const history::Summary& s) {
  return {{"id", s.id},
          {"title", s.title},
          {"model", s.model},
          {"created_ms", s.created_ms},
          {"updated_ms", s.updated_ms},
          {"messages", s.messages}};
}

}  // namespace

std::unique_ptr<history::Store> open_history(const ServerOptions& o) {
  const std::string home =
      o.home.empty() ? std::filesystem::path(store::Store::default_root()).parent_path().string()
                     : o.home;
  history::StoreOptions so;
  so.retention = o.history_retention;
  return std::make_unique<history::Store>(home + "/history.db", so);
}

bool Server::Impl::ui(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  const auto& m = req.method;

  if (p == "/" && (m == "GET" || m == "HEAD") && wants_html(req)) {
    send_asset(ex, *find_asset("/ui/index.html"));
    return true;
  }
  if (p.starts_with("/ui/")) {
    const UiAsset* a = find_asset(p);
    if (!a) throw HttpError(404, "404 page not found: " + p, security_headers());
    send_asset(ex, *a);
    return true;
  }

  if (p != kConversations && !p.starts_with(std::string(kConversations) + "/")) return false;
  const std::string_view rest =
      p.size() > kConversations.size() ? std::string_view(p).substr(kConversations.size() + 1) : "";
  const Headers headers = history_headers();
  try {
    if (rest.empty()) {
      if (m == "GET") {
        nlohmann::ordered_json out = {{"history", history != nullptr}};
        if (history) {
          out["retention_s"] = o.history_retention.count();
          nlohmann::ordered_json list = nlohmann::ordered_json::array();
          for (const auto& s : history->list()) list.push_back(summary_json(s));
          out["conversations"] = std::move(list);
        } else {
          out["conversations"] = nlohmann::ordered_json::array();
        }
        send_json(ex, 200, out, headers);
        return true;
      }
      if (m != "DELETE") throw method_not_allowed("GET, DELETE", headers);
    }
    if (!history)
      throw HttpError(404, "the server keeps no conversation history (hearth serve --no-history)",
                      headers);
    if (rest.empty()) {  // DELETE: all of them
      send_json(ex, 200, {{"deleted", history->remove_all()}}, headers);
      return true;
    }
    if (rest == "export") {
      if (m != "GET") throw method_not_allowed("GET", headers);
      Headers h = headers;
      h.emplace_back("Content-Disposition", "attachment; filename=\"hearth-conversations.json\"");
      ex.begin_stream(200, kJson, std::move(h));
      // The status is sent: a failure now can only cut the document short (invalid JSON).
      try {
        bool first = true;
        ex.write("{\"conversations\":[");
        history->for_each([&](const history::Json& doc) {
          if (ex.disconnected()) throw std::runtime_error("the client went away");
          ex.write((first ? "\n" : ",\n") +
                   doc.dump(-1, ' ', false, history::Json::error_handler_t::replace));
          first = false;
        });
        ex.write("\n]}\n");
      } catch (const std::exception& e) {
        spdlog::warn("conversation export cut short: {}", e.what());
      }
      ex.end_stream();
      return true;
    }
    const std::string id(rest);
    if (!history::valid_id(id))
      throw HttpError(400, "invalid conversation id (8 to 64 of A-Z a-z 0-9 _ -)", headers);
    if (m == "GET") {
      const auto doc = history->get(id);
      if (!doc) throw HttpError(404, "conversation " + id + " not found", headers);
      Headers h = headers;
      h.emplace_back("ETag", version_tag((*doc)["updated_ms"].get<int64_t>()));
      send_json(ex, 200, *doc, std::move(h));
    } else if (m == "PUT" || m == "POST") {
      if (req.body.size() > history::kMaxDocumentBytes)
        throw HttpError(413,
                        "a conversation may be at most " +
                            std::to_string(history::kMaxDocumentBytes) + " bytes",
                        headers);
      const auto sum = history->put(id, ollama::parse_body(req.body), if_match(req, headers));
      Headers h = headers;
      h.emplace_back("ETag", version_tag(sum.updated_ms));
      send_json(ex, 200, summary_json(sum), std::move(h));
    } else if (m == "DELETE") {
      if (!history->remove(id)) throw HttpError(404, "conversation " + id + " not found", headers);
      send_json(ex, 200, {{"deleted", 1}}, headers);
    } else {
      throw method_not_allowed("GET, PUT, POST, DELETE", headers);
    }
  } catch (const history::InvalidConversation& e) {
    throw HttpError(400, e.what(), headers);
  } catch (const history::Conflict& e) {
    throw HttpError(412, e.what(), headers);
  } catch (const history::HistoryFull& e) {
    throw HttpError(507, e.what(), headers);
  } catch (const ollama::WireError& e) {
    throw HttpError(e.status, e.what(), headers);
  }
  return true;
}

}  // namespace hearth::server
