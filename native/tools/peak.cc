#include "peak.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "../tensor.h"

namespace tegnas {

namespace {
// 12 independent accumulators of 16 floats: enough FMAs in flight to cover the latency of two FMA
// units. Returns FMAs done per accumulator; `sink` keeps the result alive.
TEGNAS_SIMD long fma_loop(double seconds, float* sink, int* lanes) {
  typedef float V __attribute__((vector_size(64), aligned(4)));
  V a[12];
  for (int i = 0; i < 12; ++i)
    for (int s = 0; s < 16; ++s) a[i][s] = static_cast<float>(i + s) * 1e-3f;
  V b, c;
  for (int s = 0; s < 16; ++s) {
    b[s] = 0.999999f;
    c[s] = 1e-7f;
  }
  long iters = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (int k = 0; k < 4096; ++k)
#pragma GCC unroll 12
      for (int i = 0; i < 12; ++i) a[i] = a[i] * b + c;
    iters += 4096;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= seconds) break;
  }
  float s = 0;
  for (int i = 0; i < 12; ++i) s += a[i][0];
  *sink = s;
  *lanes = 4;
#if defined(__GNUC__) && defined(__x86_64__)
  // target_clones compiles this body once per ISA without changing the macros: ask the CPU instead.
  if (__builtin_cpu_supports("avx512f")) *lanes = 16;
  else if (__builtin_cpu_supports("avx2")) *lanes = 8;
#endif
  return iters;
}
}  // namespace

PeakResult measure_peak(double seconds, int threads) {
  threads = std::max(1, threads);
  std::vector<long> iters(threads, 0);
  std::vector<float> sink(threads, 0);
  std::vector<int> lanes(threads, 0);
  std::vector<double> secs(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t]() {
      const auto t0 = std::chrono::steady_clock::now();
      iters[t] = fma_loop(seconds, &sink[t], &lanes[t]);
      secs[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  for (auto& th : pool) th.join();
  PeakResult r;
  r.threads = threads;
  r.lanes = lanes[0];
  // 12 accumulators x 16 floats x 2 FLOPs per FMA per iteration (whatever the vector width, the
  // arithmetic done is the same; narrower units just take more instructions for it).
  for (int t = 0; t < threads; ++t) r.gflops += static_cast<double>(iters[t]) * 12 * 16 * 2 / secs[t] / 1e9;
  return r;
}

}  // namespace tegnas
