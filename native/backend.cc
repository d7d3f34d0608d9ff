#include "backend.h"

#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace tegnas {

namespace {

// The workspaces of finished NTK calls, handed to the next ones: a search scores architecture after
// architecture on memory that is already mapped, instead of page-faulting through fresh buffers on
// every call (a tenth of a conv-heavy score's time went to the kernel's page zeroing). One workspace per
// call in flight; idle ones are kept up to the machine's thread count, which bounds concurrent calls.
template <typename T>
class WorkspaceCache {
 public:
  struct Lease {
    WorkspaceCache* owner;
    std::unique_ptr<Workspace<T>> ws;
    ~Lease() {
      if (ws) owner->give(std::move(ws));
    }
  };
  Lease lease() {
    std::unique_ptr<Workspace<T>> ws;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        ws = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!ws) ws = std::make_unique<Workspace<T>>();
    return Lease{this, std::move(ws)};  // a prvalue: no copy of the lease, so one give() per lease
  }

 private:
  void give(std::unique_ptr<Workspace<T>> ws) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < std::max<size_t>(2, std::thread::hardware_concurrency())) free_.push_back(std::move(ws));
  }
  std::mutex mu_;
  std::vector<std::unique_ptr<Workspace<T>>> free_;
};

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  NtkResult ntk_indicators(const Plan& plan, const float* params, const NtkInputs<float>& in, const std::vector<int>& weights,
                           const std::vector<int>& cells, int threads) override {
    auto l = f32_.lease();
    return tegnas::ntk_indicators(plan, params, in, weights, cells, threads, l.ws.get());
  }
  NtkResult ntk_indicators(const Plan& plan, const double* params, const NtkInputs<double>& in, const std::vector<int>& weights,
                           const std::vector<int>& cells, int threads) override {
    auto l = f64_.lease();
    return tegnas::ntk_indicators(plan, params, in, weights, cells, threads, l.ws.get());
  }
  RegionResult linear_regions(const Plan& plan, const float* params, const float* x, int batch, int batches) override {
    return tegnas::linear_regions(plan, params, x, batch, batches);
  }
  RegionResult linear_regions(const Plan& plan, const double* params, const double* x, int batch, int batches) override {
    return tegnas::linear_regions(plan, params, x, batch, batches);
  }
  NaswotResult naswot(const Plan& plan, const float* params, const float* x, int batch) override {
    return tegnas::naswot(plan, params, x, batch);
  }
  NaswotResult naswot(const Plan& plan, const double* params, const double* x, int batch) override {
    return tegnas::naswot(plan, params, x, batch);
  }
  void forward(const Plan& plan, const float* params, const float* x, int N, std::vector<float>& out) override {
    forward_as(plan, params, x, N, out);
  }
  void forward(const Plan& plan, const double* params, const double* x, int N, std::vector<double>& out) override {
    forward_as(plan, params, x, N, out);
  }
  void per_sample_gradients(const Plan& plan, const float* params, const float* x, int N, const std::vector<int>& req,
                            int threads, float* logits, float* G) override {
    tegnas::per_sample_gradients(plan, params, x, N, req, threads, logits, G);
  }
  void per_sample_gradients(const Plan& plan, const double* params, const double* x, int N, const std::vector<int>& req,
                            int threads, double* logits, double* G) override {
    tegnas::per_sample_gradients(plan, params, x, N, req, threads, logits, G);
  }

 private:
  WorkspaceCache<float> f32_;
  WorkspaceCache<double> f64_;

  template <typename T>
  static void forward_as(const Plan& plan, const T* params, const T* x, int N, std::vector<T>& out) {
    Activations<T> acts;
    run_forward(plan, params, x, N, acts);
    out = std::move(acts.act[plan.output].v);
  }
};

struct Entry {
  BackendFactory factory;
  bool tried = false;
  std::unique_ptr<Backend> backend;
  std::string why_not;
  BackendDetails details;
};

// The registry: the engine's only global state.
struct Registry {
  std::mutex mu;
  std::vector<std::string> order;
  std::map<std::string, Entry> entries;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

Backend& cpu_backend() {
  static CpuBackend cpu;
  return cpu;
}

void register_backend(const std::string& name, BackendFactory factory) {
  if (name == "cpu" || name == "auto") throw EngineError("backend name '" + name + "' is reserved");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.entries.find(name);
  if (it == r.entries.end()) r.order.push_back(name);
  Entry& e = r.entries[name];
  e = Entry();
  e.factory = std::move(factory);
}

namespace {
// The entry of a registered backend, its factory run once; null when not registered. Call with r.mu held.
Entry* created(Registry& r, const std::string& name) {
  auto it = r.entries.find(name);
  if (it == r.entries.end()) return nullptr;
  Entry& e = it->second;
  if (!e.tried) {
    e.tried = true;
    try {
      e.backend = e.factory(e.why_not, e.details);
    } catch (const std::exception& ex) {
      e.backend.reset();
      e.why_not = ex.what();
    }
    if (!e.backend && e.why_not.empty()) e.why_not = "the backend could not be created";
    if (e.backend) e.why_not.clear();
  }
  return &e;
}
}  // namespace

Backend* find_backend(const std::string& name, std::string* why_not) {
  if (name == "cpu") return &cpu_backend();
  Registry& r = registry();
  // Held while a factory runs, so two threads never create the same backend twice.
  std::lock_guard<std::mutex> lock(r.mu);
  Entry* e = created(r, name);
  if (!e) {
    if (why_not) *why_not = "no backend named '" + name + "' in this build";
    return nullptr;
  }
  if (!e->backend && why_not) *why_not = e->why_not;
  return e->backend.get();
}

BackendDetails backend_details(const std::string& name) {
  if (name == "cpu") return {};
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  Entry* e = created(r, name);
  return e ? e->details : BackendDetails();
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out{"cpu"};
  out.insert(out.end(), r.order.begin(), r.order.end());
  return out;
}

Backend& resolve_backend(const std::string& choice) {
  if (choice == "cpu") return cpu_backend();
  if (choice == "auto") {
    for (const std::string& n : backend_names())
      if (n != "cpu")
        if (Backend* b = find_backend(n)) return *b;
    return cpu_backend();
  }
  std::string why;
  if (Backend* b = find_backend(choice, &why)) return *b;
  throw EngineError("backend '" + choice + "' cannot be used: " + why);
}

}  // namespace tegnas
