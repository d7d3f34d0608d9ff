// Compute backends behind one interface: the CPU engine (always there) and, when the addon was built
// with CUDA and a GPU works, the CUDA engine. A backend takes the same validated Plan, parameters and
// inputs as the CPU functions of metrics/indicators.h and gives the same results (to rounding).
//
// The registry below is the only global state of the engine: it holds, per backend name, a factory and
// the backend it created on first use (or why it could not create one).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metrics/indicators.h"

namespace tegnas {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // The NTK condition number, regression error and (in.naswot) NASWOT of one network, as
  // tegnas::ntk_indicators. `threads` is a hint (the CUDA backend ignores it).
  virtual NtkResult ntk_indicators(const Plan& plan, const float* params, const NtkInputs<float>& in,
                                   const std::vector<int>& weights, const std::vector<int>& cells, int threads) = 0;
  virtual NtkResult ntk_indicators(const Plan& plan, const double* params, const NtkInputs<double>& in,
                                   const std::vector<int>& weights, const std::vector<int>& cells, int threads) = 0;

  // Distinct activation patterns over `batches` forward passes of `batch` inputs, as tegnas::linear_regions.
  virtual RegionResult linear_regions(const Plan& plan, const float* params, const float* x, int batch, int batches) = 0;
  virtual RegionResult linear_regions(const Plan& plan, const double* params, const double* x, int batch, int batches) = 0;

  virtual NaswotResult naswot(const Plan& plan, const float* params, const float* x, int batch) = 0;
  virtual NaswotResult naswot(const Plan& plan, const double* params, const double* x, int batch) = 0;

  // For checks of one backend against another: the network output (N x output sample, NCHW) ...
  virtual void forward(const Plan& plan, const float* params, const float* x, int N, std::vector<float>& out) = 0;
  virtual void forward(const Plan& plan, const double* params, const double* x, int N, std::vector<double>& out) = 0;
  // ... and the per-sample gradients, as tegnas::per_sample_gradients (logits N x K, G N x P).
  virtual void per_sample_gradients(const Plan& plan, const float* params, const float* x, int N,
                                    const std::vector<int>& req, int threads, float* logits, float* G) = 0;
  virtual void per_sample_gradients(const Plan& plan, const double* params, const double* x, int N,
                                    const std::vector<int>& req, int threads, double* logits, double* G) = 0;
};

// What a backend found while it was being created (device, driver, libraries...), as (key, value)
// pairs, whether or not it could be created: backendInfo() and the check tools print them.
using BackendDetails = std::vector<std::pair<std::string, std::string>>;

// The CPU engine as a Backend (one instance for the whole process; its only state is the memory that
// finished calls leave for the next ones).
Backend& cpu_backend();

// Creates a backend, or returns null and says why not (no driver, no device, a library not found...);
// fills `details` either way.
using BackendFactory = std::function<std::unique_ptr<Backend>(std::string& why_not, BackendDetails& details)>;

// Registers (or replaces) a named backend. The factory runs at most once, on the first get().
void register_backend(const std::string& name, BackendFactory factory);

// The named backend, created on first use; null when it is unknown or cannot be used, with the reason
// in *why_not. Thread-safe.
Backend* find_backend(const std::string& name, std::string* why_not = nullptr);

// The details the named backend's factory gave (running it first if it has not run yet).
BackendDetails backend_details(const std::string& name);

// Names of the registered backends, "cpu" first.
std::vector<std::string> backend_names();

// "cpu", "cuda", ... or "auto" (the first registered backend other than the CPU that works, else the
// CPU). Throws EngineError naming the reason when an explicitly named backend cannot be used.
Backend& resolve_backend(const std::string& choice);

}  // namespace tegnas
