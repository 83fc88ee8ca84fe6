// Connection<beast::tcp_stream>: plain HTTP (http_connection.h says why in a file of its own).
#include "server/http_connection.h"

namespace hearth::server::http_detail {

void start_plain_connection(tcp::socket s, HttpServer::Impl& srv, std::string peer) {
  std::make_shared<Connection<beast::tcp_stream>>(std::move(s), srv, std::move(peer))->start();
}

}  // namespace hearth::server::http_detail
