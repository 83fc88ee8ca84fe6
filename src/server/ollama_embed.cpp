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

// The text's embedding (and its token count): tokenized, fitted to the loaded
// context, pooled as the model says, L2-normalised.
std::vector<float> embed_text(const std::string& name, const engine::ModelManager::Lease& lease,
                              const std::string& text, bool truncate, int64_t* n_tokens) {
  const auto& rt = lease->rt;
  auto tokens = engine::tokenize_for_embedding(rt, text);
  try {
    engine::fit_embedding_input(tokens, lease->scheduler->options().n_ctx, truncate);
    const auto pooling = engine::model_pooling(*rt.model);
    *n_tokens += static_cast<int64_t>(tokens.size());
    return engine::embed(rt, tokens, pooling);
  } catch (const engine::ContextError& e) {
    throw HttpError(400, e.what());
  } catch (const std::invalid_argument& e) {
    throw HttpError(400, fmt::format("\"{}\" cannot embed this input: {}", name, e.what()));
  }
}

}  // namespace

Embedded Server::Impl::embed_inputs(const EmbedSpec& spec, Exchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  const ResolvedModel m = resolve(spec.model);
  meter_model(ex, m.name);  // metrics: the request's duration by model
  const int64_t n_ctx = settings(m, spec.options).num_ctx;
  double load_s = 0;
  auto lease =
      models.acquire({m.key, m.name, m.path, n_ctx}, keep_alive_of(spec.keep_alive), &load_s);
  Embedded out;
  out.load = Nanos(static_cast<int64_t>(load_s * 1e9));
  const int64_t n_embd = lease->rt.model->hparams().n_embd;
  if (spec.dimensions && *spec.dimensions < 1)
    throw HttpError(400, fmt::format("invalid dimensions: field \"dimensions\" must be at least 1, "
                                     "got {}",
                                     *spec.dimensions));
  // At least the model's own length: the whole vector, as Ollama answers a
  // client that sends one `dimensions` to models of several sizes.
  const int64_t keep = spec.dimensions && *spec.dimensions < n_embd ? *spec.dimensions : 0;
  for (const auto& text : spec.inputs) {
    if (ex.disconnected()) break;
    auto e = embed_text(m.name, lease, text, spec.truncate, &out.tokens);
    if (keep > 0) {
      e.resize(static_cast<size_t>(keep));
      engine::l2_normalize(e);
    }
    out.vectors.push_back(std::move(e));
  }
  out.total = since(t0);
  ex.request().usage.model = m.name;  // for the audit log
  ex.request().usage.prompt_tokens = out.tokens;
  return out;
}

bool Server::Impl::ollama_embed(const std::shared_ptr<Exchange>& exp) {
  auto& ex = *exp;
  const auto& req = ex.request();
  const auto& p = req.path;
  if (p != "/api/embed" && p != "/api/embeddings") return false;
  if (req.method != "POST") throw method_not_allowed("POST");
  const auto body = ollama::parse_body(req.body);
  EmbedSpec spec;
  if (p == "/api/embed") {
    const auto r = ollama::parse_embed_request(body);
    for (const auto& u : r.unknown_options) spdlog::warn("ignoring unknown option \"{}\"", u);
    spec = {r.model, r.options, r.keep_alive, r.input, r.truncate, r.dimensions};
    const Embedded e = embed_inputs(spec, ex);
    if (ex.disconnected()) return true;
    if (r.input.empty()) {  // Ollama: no input only loads the model, and says nothing more
      Json j = Json::object();
      j["model"] = r.model;
      j["embeddings"] = Json::array();
      send_json(ex, 200, j);
      return true;
    }
    ollama::EmbedStats st;
    st.load = e.load;
    st.total = e.total;
    st.prompt_eval_count = e.tokens;
    send_json(ex, 200, ollama::embed_response(r.model, e.vectors, st));
    return true;
  }

  // Legacy: one prompt, truncated to the context as /api/embed does by default.
  const auto r = ollama::parse_embeddings_request(body);
  for (const auto& u : r.unknown_options) spdlog::warn("ignoring unknown option \"{}\"", u);
  spec = {r.model, r.options, r.keep_alive, {}, true, std::nullopt};
  if (!r.prompt.empty()) spec.inputs.push_back(r.prompt);
  const Embedded e = embed_inputs(spec, ex);
  send_json(ex, 200,
            ollama::embeddings_response(e.vectors.empty() ? std::vector<float>{} : e.vectors[0]));
  return true;
}

}  // namespace hearth::server
