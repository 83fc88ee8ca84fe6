// SHA-256 (OpenSSL EVP), the hash that names every blob in the store.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace hearth::store {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t n);
  // "sha256:<64 lowercase hex>"; the hasher is spent afterwards.
  std::string digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_digest(std::string_view bytes);
// Reads the whole file; throws std::runtime_error naming it.
std::string sha256_file(const std::string& path);

}  // namespace hearth::store
