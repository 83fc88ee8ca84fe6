// Ollama's embed routes (to be written).
#include "server/server_impl.h"

namespace hearth::server {

bool Server::Impl::ollama_embed(const std::shared_ptr<Exchange>&) { return false; }

}  // namespace hearth::server
