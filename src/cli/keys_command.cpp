// hearth keys create|list|revoke: the API keys a server asks for
// ($HEARTH_HOME/keys.db; auth/keys.h). A running server sees changes at its
// next request.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "auth/keys.h"
#include "cli/commands.h"
#include "cli/terminal.h"
#include "store/store.h"

namespace hearth::cli {

namespace {

std::string key_store_path() {
  // Beside the model store: $HEARTH_HOME/keys.db (default ~/.hearth/keys.db).
  const auto home = std::filesystem::path(store::Store::default_root()).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  return (home / "keys.db").string();
}

std::string date(int64_t t) {
  if (t == 0) return "-";
  const std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

struct KeyFlags {
  std::string name, scope = "inference", expires;
};

}  // namespace

void add_keys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Manage the API keys `hearth serve` asks for");
  keys->require_subcommand(1);

  auto f = std::make_shared<KeyFlags>();
  auto* create = keys->add_subcommand(
      "create", "Create a key; it is printed once, alone on the last line, and never stored");
  create->add_option("NAME", f->name, "a name for the key (letters, digits, . _ -)")->required();
  create->add_option("--scope", f->scope, "inference (generation, embeddings, listing) or admin")
      ->check(CLI::IsMember({"inference", "admin"}));
  create->add_option("--expires", f->expires, "lifetime such as 90d, 12h, 2w (default: never)");
  create->callback([f] {
    try {
      const auto scope = *auth::parse_scope(f->scope);
      std::optional<std::chrono::seconds> ttl;
      if (!f->expires.empty()) ttl = auth::parse_ttl(f->expires);
      auth::KeyStore store(key_store_path());
      const std::string key = store.create(f->name, scope, ttl);
      std::printf(
          "created %s key '%s'%s; it is shown only now:\n%s\n",
          std::string(auth::scope_name(scope)).c_str(), f->name.c_str(),
          ttl ? (" (expires " + date(std::time(nullptr) + ttl->count()) + " UTC)").c_str() : "",
          key.c_str());
    } catch (const auth::KeyError& e) {
      print_error(e.what());
      throw CommandExit{1};
    }
  });

  auto* list = keys->add_subcommand("list", "List the keys (names and scopes, never the keys)");
  list->callback([] {
    try {
      const auto all = auth::KeyStore(key_store_path()).list();
      const int64_t now = std::time(nullptr);
      std::printf("%-24s %-10s %-17s %-17s %s\n", "NAME", "SCOPE", "CREATED", "EXPIRES", "STATUS");
      for (const auto& k : all)
        std::printf("%-24s %-10s %-17s %-17s %s\n", k.name.c_str(),
                    std::string(auth::scope_name(k.scope)).c_str(), date(k.created).c_str(),
                    date(k.expires).c_str(),
                    k.revoked ? "revoked" : (k.active(now) ? "active" : "expired"));
    } catch (const auth::KeyError& e) {
      print_error(e.what());
      throw CommandExit{1};
    }
  });

  auto name = std::make_shared<std::string>();
  auto* revoke = keys->add_subcommand("revoke", "Revoke a key (a running server stops taking it)");
  revoke->add_option("NAME", *name, "the key's name")->required();
  revoke->callback([name] {
    try {
      auth::KeyStore(key_store_path()).revoke(*name);
      std::printf("revoked '%s'\n", name->c_str());
    } catch (const auth::KeyError& e) {
      print_error(e.what());
      throw CommandExit{1};
    }
  });
}

}  // namespace hearth::cli
