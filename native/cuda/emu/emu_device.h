// TEGNAS_CUDA_EMULATION only: the CUDA C++ device-language features kernels.cu uses, on the host.
// Every kernel runs with one thread per block (blockDim.x = 1), blocks one after another: the kernels'
// grid-stride loops and block reductions then cover every element exactly as on a GPU, in one thread.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#define __global__
#define __device__
#define __shared__ static

struct TegnasDim3 {
  unsigned x = 0, y = 0, z = 0;
};
extern thread_local TegnasDim3 threadIdx, blockIdx, blockDim, gridDim;

inline void __syncthreads() {}
inline int atomicCAS(int* p, int compare, int value) {
  const int old = *p;
  if (old == compare) *p = value;
  return old;
}
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p;
  *p += v;
  return old;
}
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
using std::fabs;
using std::fmax;
using std::isfinite;
using std::log;
using std::max;
using std::min;
using std::sqrt;

namespace tegnas_emu {
template <typename K, typename... A>
void launch(unsigned grid, K kernel, A... args) {
  gridDim.x = grid;
  blockDim.x = 1;
  threadIdx.x = 0;
  for (unsigned b = 0; b < grid; ++b) {
    blockIdx.x = b;
    kernel(args...);
  }
}
}  // namespace tegnas_emu

#define TEGNAS_GO(kernel, grid, block, stream, ...) ::tegnas_emu::launch((grid), kernel, __VA_ARGS__)
