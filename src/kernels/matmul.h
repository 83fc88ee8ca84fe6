// Weight matrix times activations, for every weight type a model file may hold.
//
// The activations are quantized once per call to the 8-bit type the weight type
// pairs with (Q8_0, Q8_1 or Q8_K, as llama.cpp does) and multiplied with integer
// dot products; the SIMD variant is chosen at run time from the CPU's features.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "gguf/types.h"
#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"

namespace hearth::kernels {

// W: [rows][cols] in `type` (rows = output features, cols = input features, a
// multiple of the type's block size), as GGUF stores a 2-D weight {cols, rows}.
class WeightMatrix {
 public:
  // Views the (memory-mapped) data without copying unless a repacked layout is
  // worth it for this type and CPU; the data must outlive the matrix.
  // Throws std::invalid_argument for a type without kernels or cols not a
  // multiple of its block size. `level` caps the SIMD level (tests, benchmarks).
  WeightMatrix(gguf::TensorType type, const void* data, int64_t rows, int64_t cols);
  WeightMatrix(gguf::TensorType type, const void* data, int64_t rows, int64_t cols,
               SimdLevel level);
  ~WeightMatrix();
  WeightMatrix(WeightMatrix&&) noexcept;
  WeightMatrix& operator=(WeightMatrix&&) noexcept;

  gguf::TensorType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

  // y[t][r] = sum_c W[r][c] * x[t][c] for t < n_tokens.
  // x: [n_tokens][cols] f32, y: [n_tokens][rows] f32.
  void multiply(const float* x, int64_t n_tokens, float* y, ThreadPool& pool) const;
  // Several products of one input, y_i = W_i x (a layer's q, k and v; its
  // gate and up): the same results as multiply() on each. When the matrices
  // read the same packed activation record (same cols and SIMD level, types
  // of one activation kind) x is quantized once and the threads share out the
  // row groups of all of them in one hand-out, so the small matrices (k and
  // v) cost no wake-up and end-of-call wait of their own. At most 8 products.
  struct Product {
    const WeightMatrix* w;
    float* y;  // [n_tokens][w->rows()]
  };
  static void multiply_shared(std::span<const Product> products, const float* x, int64_t n_tokens,
                              ThreadPool& pool);
  // Row r dequantized to f32 (embedding lookups): out[cols].
  void dequantize_row(int64_t r, float* out) const;
  // The SIMD level of the kernel in use.
  SimdLevel level() const;
  // Whether the kernels read a repacked copy (repack.h), not the data given.
  bool packed() const;

 private:
  struct Impl;
  static bool same_packed_activations(const WeightMatrix& a, const WeightMatrix& b);
  gguf::TensorType type_;
  const void* data_;
  int64_t rows_, cols_;
  std::unique_ptr<Impl> impl_;  // repacked weights and the chosen kernel, when any
};

}  // namespace hearth::kernels
