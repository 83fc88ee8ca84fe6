// The kernels use the program's one thread pool (threads/thread_pool.h) under
// their own namespace's names.
#pragma once

#include "threads/thread_pool.h"

namespace hearth::kernels {

using threads::physical_cores;
using threads::ThreadPool;

}  // namespace hearth::kernels
