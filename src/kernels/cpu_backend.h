// The CPU implementation of the backend interface: weights viewed in the mapped
// file through WeightMatrix, ops spread over one persistent ThreadPool.
#pragma once

#include <memory>

#include "kernels/backend.h"

namespace hearth::kernels {

// n_threads <= 0: one per physical core.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace hearth::kernels
