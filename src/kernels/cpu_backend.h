// The CPU implementation of the backend interface: weights viewed in the mapped
// file through WeightMatrix, ops spread over one persistent ThreadPool.
#pragma once

#include <memory>
#include <optional>

#include "backend/backend.h"
#include "threads/thread_pool.h"

namespace hearth::kernels {

// A backend with its own pool of `n_threads` threads (nullopt: one per physical
// core; otherwise 1 .. threads::max_threads(), else std::invalid_argument).
std::unique_ptr<backend::Backend> make_cpu_backend(std::optional<int> n_threads);
// A backend on the caller's pool, which must outlive it and not run anything
// else while the backend computes (the pool is not reentrant).
std::unique_ptr<backend::Backend> make_cpu_backend(threads::ThreadPool& pool);

}  // namespace hearth::kernels
