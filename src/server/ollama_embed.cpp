// Ollama's embedding routes: /api/embed (one or several inputs, truncation,
// dimensions) and the legacy /api/embeddings (one prompt). The model is leased
// from the ModelManager as for generation (so /api/ps shows it and keep_alive
// applies); the vectors come from engine/embed.h, whose passes share the
// compute lock with the schedulers'.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "engine/embed.h"
#include "sampling/param_error.h"
#include "server/ollama_types.h"
#include "server/server_impl.h"

namespace hearth::server {

namespace {

using ollama::Json;
using Nanos = std::chrono::nanoseconds;

Nanos since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now() - t0);
}

engine::KeepAlive keep_alive(const std::optional<ollama::KeepAlive>& k,
                             const engine::KeepAlive& fallback) {
  if (!k) return fallback;
  if (k->is_forever()) return engine::KeepAlive::never_expire();
  return {k->duration(), false};
}

// The context to load the model with: num_ctx from the request's options over
// the model's stored parameters, else the server's default.
int64_t num_ctx(const ResolvedModel& m, const ollama::Options& request, int64_t default_ctx) {
  const auto o =
      ollama::merge_options(ollama::parse_options(m.parameters, "parameter").options, request);
  if (!o.num_ctx) return default_ctx;
  if (*o.num_ctx < 16 || *o.num_ctx > (1 << 20))
    throw sampling::ParamError("num_ctx",
                               fmt::format("num_ctx must be in [16, 1048576], got {}", *o.num_ctx));
  return *o.num_ctx;
}

// An embedding request's hold on its model.
struct Leased {
  ResolvedModel model;
  std::string requested;  // the name as the request gave it: responses echo it
  engine::ModelManager::Lease lease;
  Nanos load{0};
};

// The text's embedding (and its token count): tokenized, fitted to the loaded
// context, pooled as the model says, L2-normalised.
std::vector<float> embed_text(const Leased& l, const std::string& text, bool truncate,
                              int64_t* n_tokens) {
  const auto& rt = l.lease->rt;
  auto tokens = engine::tokenize_for_embedding(rt, text);
  try {
    engine::fit_embedding_input(tokens, l.lease->scheduler->options().n_ctx, truncate);
    const auto pooling = engine::model_pooling(*rt.model);
    *n_tokens += static_cast<int64_t>(tokens.size());
    return engine::embed(rt, tokens, pooling);
  } catch (const engine::ContextError& e) {
    throw HttpError(400, e.what());
  } catch (const std::invalid_argument& e) {
    throw HttpError(400, fmt::format("\"{}\" cannot embed this input: {}", l.model.name, e.what()));
  }
}

}  // namespace

bool Server::Impl::ollama_embed(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  if (p != "/api/embed" && p != "/api/embeddings") return false;
  if (req.method != "POST") throw HttpError(405, "method not allowed");
  const auto t0 = std::chrono::steady_clock::now();
  const auto body = ollama::parse_body(req.body);

  // Resolves and leases the model exactly as generation does.
  const auto lease = [&](const std::string& name, const ollama::Options& options,
                         const std::vector<std::string>& unknown,
                         const std::optional<ollama::KeepAlive>& ka) {
    for (const auto& u : unknown) spdlog::warn("ignoring unknown option \"{}\"", u);
    Leased l;
    l.model = resolve(name);
    meter_model(ex, l.model.name);  // metrics: the request's duration by model
    l.requested = name;
    const auto kal = keep_alive(ka, o.default_keep_alive);
    const int64_t n_ctx = num_ctx(l.model, options, o.default_num_ctx);
    double load_s = 0;
    l.lease = models.acquire({l.model.key, l.model.name, l.model.path, n_ctx}, kal, &load_s);
    l.load = Nanos(static_cast<int64_t>(load_s * 1e9));
    return l;
  };

  if (p == "/api/embed") {
    const auto r = ollama::parse_embed_request(body);
    Leased l = lease(r.model, r.options, r.unknown_options, r.keep_alive);
    if (r.input.empty()) {
      Json j = Json::object();
      j["model"] = l.requested;
      j["embeddings"] = Json::array();
      send_json(ex, 200, j);
      return true;
    }
    const int64_t n_embd = l.lease->rt.model->hparams().n_embd;
    if (r.dimensions && *r.dimensions > n_embd)
      throw HttpError(400, fmt::format("invalid dimensions: field \"dimensions\" must be between 1 "
                                       "and {} (the model's embedding length), got {}",
                                       n_embd, *r.dimensions));
    std::vector<std::vector<float>> out;
    ollama::EmbedStats st;
    for (const auto& text : r.input) {
      if (ex.disconnected()) return true;
      auto e = embed_text(l, text, r.truncate, &st.prompt_eval_count);
      if (r.dimensions) {
        e.resize(static_cast<size_t>(*r.dimensions));
        engine::l2_normalize(e);
      }
      out.push_back(std::move(e));
    }
    st.load = l.load;
    st.total = since(t0);
    send_json(ex, 200, ollama::embed_response(l.requested, out, st));
    return true;
  }

  // Legacy: one prompt, truncated to the context as /api/embed does by default.
  const auto r = ollama::parse_embeddings_request(body);
  Leased l = lease(r.model, r.options, r.unknown_options, r.keep_alive);
  std::vector<float> e;
  int64_t n_tokens = 0;
  if (!r.prompt.empty()) e = embed_text(l, r.prompt, /*truncate=*/true, &n_tokens);
  send_json(ex, 200, ollama::embeddings_response(e));
  return true;
}

}  // namespace hearth::server
