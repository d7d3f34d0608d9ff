// The TEG indicators of one network and one set of batches: NTK condition number, NTK kernel-regression
// MSE, linear regions, NASWOT. Bad results carry a reason instead of NaN.
#pragma once
#include <string>
#include <vector>

#include "patterns.h"

namespace tegnas {

struct NtkResult {
  double cond = 0, lambda_min = 0, lambda_max = 0;
  bool cond_bad = false;
  std::string cond_reason;
  double mse = 0;
  bool mse_bad = false, mse_computed = false;
  std::string mse_reason;
  // NASWOT of the same network on the NTK batch, from the activations of the NTK forward pass.
  bool naswot_computed = false, naswot_singular = false;
  double naswot_logdet = 0;
  long long naswot_bits = 0;
};

template <typename T>
struct NtkInputs {
  const T* x = nullptr;          // B x input
  int B = 0;
  const int* y = nullptr;        // B labels (for the regression)
  const T* vx = nullptr;         // Bv x input (null: no regression)
  int Bv = 0;
  const int* vy = nullptr;
  int classes = 0;
  bool naswot = false;           // also NASWOT from the forward pass over x
};

// weights: parameter indices of the NTK gradient (the reference's `weight` group); cells: a subset of
// them (the `cell` group) for the regression.
// ws: memory kept from an earlier call (see Workspace), or null.
template <typename T>
NtkResult ntk_indicators(const Plan& plan, const T* params, const NtkInputs<T>& in, const std::vector<int>& weights,
                         const std::vector<int>& cells, int threads, Workspace<T>* ws = nullptr);

struct RegionResult {
  long long regions = 0;
  long long bits = 0;
  int inputs = 0;
};

// Runs the plan on `batches` consecutive batches of `batch` inputs (BatchNorm statistics per batch),
// pools the activation patterns and counts the distinct ones.
template <typename T>
RegionResult linear_regions(const Plan& plan, const T* params, const T* x, int batch, int batches);

struct NaswotResult {
  double logdet = 0;
  bool singular = false;
  long long bits = 0;
};

template <typename T>
NaswotResult naswot(const Plan& plan, const T* params, const T* x, int batch);

}  // namespace tegnas
