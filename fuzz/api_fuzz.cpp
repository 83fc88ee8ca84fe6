// libFuzzer target for what hearth's server parses from the network and from
// files users hand it: the request bodies of every route of the Ollama, OpenAI
// and Anthropic APIs, request paths, model names, Modelfiles and store
// manifests. Each must throw its own error type (a 4xx) or succeed: never
// crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "server/anthropic_types.h"
#include "server/http.h"
#include "server/ollama_types.h"
#include "server/openai_types.h"
#include "store/manifest.h"
#include "store/modelfile.h"
#include "store/name.h"

namespace ol = hearth::server::ollama;
namespace oa = hearth::server::openai;
namespace an = hearth::server::anthropic;

namespace {

// What parses, the writer writes so that it parses back the same (`show
// --modelfile` then `create`): a difference aborts, and the fuzzer reports it.
// A text holding both a newline and """ is the one thing the syntax cannot write.
void check_modelfile_round_trip(const hearth::store::Modelfile& mf) {
  const auto unwritable = [](const std::optional<std::string>& t) {
    return t && t->find('\n') != std::string::npos && t->find("\"\"\"") != std::string::npos;
  };
  if (unwritable(mf.template_text) || unwritable(mf.system) || unwritable(mf.license)) return;
  for (const auto& m : mf.messages)
    if (unwritable(m.content)) return;
  const auto back =
      hearth::store::parse_modelfile(hearth::store::write_modelfile(mf, "fuzz"), "written");
  bool same = back.from == mf.from && back.template_text == mf.template_text &&
              back.system == mf.system && back.license == mf.license &&
              back.parameters == mf.parameters && back.messages.size() == mf.messages.size();
  for (size_t i = 0; same && i < mf.messages.size(); ++i)
    same = back.messages[i].role == mf.messages[i].role &&
           back.messages[i].content == mf.messages[i].content;
  if (!same) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)hearth::server::normalize_path(std::string(text));
  try {
    (void)hearth::store::parse_name(text);
  } catch (const std::exception&) {
  }
  std::optional<hearth::store::Modelfile> mf;
  try {
    mf = hearth::store::parse_modelfile(text, "Modelfile");
  } catch (const std::exception&) {
  }
  if (mf) check_modelfile_round_trip(*mf);
  try {
    (void)hearth::store::Manifest::parse(text, "manifest");
  } catch (const std::exception&) {
  }
  ol::Json body;
  try {
    body = ol::parse_body(text);
  } catch (const ol::WireError&) {
    return 0;
  }
  auto each = [&](auto parse) {
    try {
      (void)parse(body);
    } catch (const ol::WireError&) {
    }
  };
  each(ol::parse_generate_request);
  each(ol::parse_chat_request);
  each(ol::parse_embed_request);
  each(ol::parse_embeddings_request);
  each(ol::parse_show_request);
  each(ol::parse_copy_request);
  each(ol::parse_delete_request);
  each(ol::parse_create_request);
  each(ol::parse_pull_request);
  try {
    (void)ol::parse_options(body.contains("options") ? body["options"] : ol::Json(nullptr));
  } catch (const ol::WireError&) {
  }
  if (body.contains("keep_alive")) {
    try {
      (void)ol::parse_keep_alive(body["keep_alive"]);
    } catch (const ol::WireError&) {
    }
  }
  // The OpenAI and Anthropic parsers answer bad fields with HttpError (400);
  // the Ollama helpers they share throw WireError.
  auto api = [&](auto parse) {
    try {
      (void)parse(body);
    } catch (const hearth::server::HttpError&) {
    } catch (const ol::WireError&) {
    }
  };
  api(oa::parse_chat_request);
  api(oa::parse_completion_request);
  api(oa::parse_responses_request);
  api(oa::parse_embeddings_request);
  api([](const ol::Json& b) { return an::parse_messages_request(b); });
  api([](const ol::Json& b) { return an::parse_messages_request(b, /*count_only=*/true); });
  return 0;
}
