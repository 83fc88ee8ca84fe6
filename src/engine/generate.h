// Generation over one Session: evaluate the prompt (reusing the cached
// prefix), then run a Generation token by token until it ends.
#pragma once

#include <span>

#include "engine/generation.h"
#include "engine/session.h"

namespace hearth::engine {

// `prompt` is the whole sequence the model should continue (the session keeps
// whatever prefix of it is already cached). Throws ContextError when the prompt
// does not fit the context.
GenerateResult generate(Session& session, const tokenizer::Tokenizer& tok,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text = {});

}  // namespace hearth::engine
