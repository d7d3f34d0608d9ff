// The CPU engine as a check backend: direct calls into the engine library (the same code the addon runs).
#include <stdexcept>

#include "backend.h"
#include "graph/executor.h"

namespace tegnas::check {

namespace {
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads) {}
  std::string name() const override { return "cpu"; }

  void per_sample_gradients(const Plan& plan, const float* p, const float* x, int N, const std::vector<int>& req, float* logits,
                            float* G) override {
    tegnas::per_sample_gradients(plan, p, x, N, req, threads_, logits, G);
  }
  void per_sample_gradients(const Plan& plan, const double* p, const double* x, int N, const std::vector<int>& req, double* logits,
                            double* G) override {
    tegnas::per_sample_gradients(plan, p, x, N, req, threads_, logits, G);
  }
  NtkResult ntk_indicators(const Plan& plan, const float* p, const NtkInputs<float>& in, const std::vector<int>& w,
                           const std::vector<int>& c) override {
    return tegnas::ntk_indicators(plan, p, in, w, c, threads_);
  }
  NtkResult ntk_indicators(const Plan& plan, const double* p, const NtkInputs<double>& in, const std::vector<int>& w,
                           const std::vector<int>& c) override {
    return tegnas::ntk_indicators(plan, p, in, w, c, threads_);
  }
  RegionResult linear_regions(const Plan& plan, const double* p, const double* x, int batch, int batches) override {
    return tegnas::linear_regions(plan, p, x, batch, batches);
  }
  NaswotResult naswot(const Plan& plan, const float* p, const float* x, int batch) override { return tegnas::naswot(plan, p, x, batch); }
  NaswotResult naswot(const Plan& plan, const double* p, const double* x, int batch) override { return tegnas::naswot(plan, p, x, batch); }

 private:
  int threads_;
};
}  // namespace

std::vector<std::string> backend_names() { return {"cpu"}; }

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  if (name == "cpu") return std::make_unique<CpuBackend>(threads);
  std::string known;
  for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::runtime_error("unknown backend '" + name + "' (known: " + known + ")");
}

}  // namespace tegnas::check
