// The CPU's measured peak multiply-add throughput, for benchmarks that report kernels as a fraction of it.
#pragma once

namespace tegnas {

struct PeakResult {
  double gflops = 0;  // float32 GFLOP/s over all threads (an FMA counts 2)
  int lanes = 0;      // float32 lanes of the widest vector unit the running code uses
  int threads = 0;
};

// Runs independent FMA chains of the widest vectors this CPU executes (the same run-time dispatch as
// the kernels) on `threads` threads for about `seconds`.
PeakResult measure_peak(double seconds, int threads);

}  // namespace tegnas
