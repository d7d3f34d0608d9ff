// The engine entry points the check executable exercises, behind one interface so that another backend
// (the CUDA engine, when it exists) can be run on the same cases and compared with the CPU: add a class
// implementing Backend and register it in make_backend().
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "graph/plan.h"
#include "metrics/indicators.h"

namespace tegnas::check {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // logits: N x K, G: N x P (P = total size of the requested parameters), as NativeNet.perSampleGradients.
  virtual void per_sample_gradients(const Plan& plan, const float* params, const float* x, int N, const std::vector<int>& req,
                                    float* logits, float* G) = 0;
  virtual void per_sample_gradients(const Plan& plan, const double* params, const double* x, int N, const std::vector<int>& req,
                                    double* logits, double* G) = 0;

  virtual NtkResult ntk_indicators(const Plan& plan, const float* params, const NtkInputs<float>& in, const std::vector<int>& weights,
                                   const std::vector<int>& cells) = 0;
  virtual NtkResult ntk_indicators(const Plan& plan, const double* params, const NtkInputs<double>& in, const std::vector<int>& weights,
                                   const std::vector<int>& cells) = 0;

  virtual RegionResult linear_regions(const Plan& plan, const double* params, const double* x, int batch, int batches) = 0;

  virtual NaswotResult naswot(const Plan& plan, const float* params, const float* x, int batch) = 0;
  virtual NaswotResult naswot(const Plan& plan, const double* params, const double* x, int batch) = 0;
};

// Names make_backend() knows.
std::vector<std::string> backend_names();

// "cpu" (threads: worker threads of the per-sample gradients). Throws std::runtime_error for an unknown or
// unavailable backend.
std::unique_ptr<Backend> make_backend(const std::string& name, int threads);

}  // namespace tegnas::check
