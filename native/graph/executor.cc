#include "executor.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

namespace tegnas {

template <typename T>
void run_forward(const Plan& plan, const T* params, const T* x, int N, Activations<T>& out) {
  const size_t n_nodes = plan.nodes.size();
  out.N = N;
  out.act.assign(n_nodes, Tensor<T>());
  out.bn.assign(n_nodes, BnCache<T>());
  out.argmax.assign(n_nodes, {});
  auto P = [&](int ref) -> const T* { return ref >= 0 ? params + plan.params[ref].offset : nullptr; };
  for (size_t i = 0; i < n_nodes; ++i) {
    const Node& nd = plan.nodes[i];
    Tensor<T>& y = out.act[i];
    auto in = [&](size_t k) -> const Tensor<T>& { return out.act[nd.inputs[k]]; };
    switch (nd.op) {
      case Op::Input:
        y.reset(N, plan.in_c, plan.in_h, plan.in_w);
        std::copy(x, x + y.numel(), y.data());
        break;
      case Op::Conv2d: conv2d_forward(in(0), P(nd.weight), P(nd.bias), nd.conv, y); break;
      case Op::BatchNorm: batchnorm_forward(in(0), P(nd.weight), P(nd.bias), nd.eps, y, out.bn[i]); break;
      case Op::Relu: relu_forward(in(0), y); break;
      case Op::AvgPool: avgpool_forward(in(0), nd.pool, y); break;
      case Op::MaxPool: maxpool_forward(in(0), nd.pool, y, out.argmax[i]); break;
      case Op::GlobalAvgPool: global_avgpool_forward(in(0), y); break;
      case Op::Linear: linear_forward(in(0), P(nd.weight), P(nd.bias), nd.c, y); break;
      case Op::Add:
      case Op::Concat: {
        std::vector<const Tensor<T>*> xs;
        for (size_t k = 0; k < nd.inputs.size(); ++k) xs.push_back(&in(k));
        if (nd.op == Op::Add) add_forward(xs, y); else concat_forward(xs, y);
        break;
      }
      case Op::Zero: zero_forward(in(0), nd.channels, nd.stride, y); break;
      case Op::Shift: shift_forward(in(0), y); break;
    }
  }
}

template <typename T>
void run_backward(const Plan& plan, const T* params, const Activations<T>& acts, const T* seeds, int S,
                  const std::vector<int>& req_params, T* grads, T* dinput) {
  const size_t n_nodes = plan.nodes.size();
  const int N = acts.N;
  // Column offset of each requested parameter in a row of `grads`.
  std::vector<long long> col(plan.params.size(), -1);
  size_t P = 0;
  for (int r : req_params) {
    if (r < 0 || r >= static_cast<int>(plan.params.size())) throw EngineError("requested parameter index out of range");
    if (col[r] >= 0) throw EngineError("parameter '" + plan.params[r].name + "' is requested twice");
    col[r] = static_cast<long long>(P);
    P += plan.params[r].numel;
  }
  if (grads) std::fill(grads, grads + static_cast<size_t>(S) * P, T(0));
  // up[i]: the gradient of node i's output is needed (it leads back to a requested parameter or input).
  std::vector<bool> up(n_nodes, false);
  for (size_t i = 0; i < n_nodes; ++i) {
    const Node& nd = plan.nodes[i];
    bool u = (i == 0 && dinput != nullptr) || (nd.weight >= 0 && col[nd.weight] >= 0) || (nd.bias >= 0 && col[nd.bias] >= 0);
    if (nd.op != Op::Zero)  // zero's gradient is identically 0: nothing upstream of it can gain
      for (int in : nd.inputs) u = u || up[in];
    up[i] = u;
  }
  auto Pp = [&](int ref) -> const T* { return ref >= 0 ? params + plan.params[ref].offset : nullptr; };
  auto dP = [&](int ref) -> T* { return (ref >= 0 && col[ref] >= 0 && grads) ? grads + col[ref] : nullptr; };

  std::vector<Tensor<T>> g(n_nodes);
  {
    const Tensor<T>& y = acts.act[plan.output];
    if (up[plan.output]) {
      g[plan.output].reset(S * N, y.c, y.h, y.w);
      std::copy(seeds, seeds + g[plan.output].numel(), g[plan.output].data());
    }
  }
  // The gradient buffer of an input, allocated on first use; null when it is not needed.
  auto gin = [&](int node) -> Tensor<T>* {
    if (!up[node]) return nullptr;
    Tensor<T>& t = g[node];
    if (t.empty()) {
      const Tensor<T>& a = acts.act[node];
      t.reset(S * N, a.c, a.h, a.w);
    }
    return &t;
  };
  for (size_t i = n_nodes; i-- > 1;) {
    const Node& nd = plan.nodes[i];
    if (!plan.live[i] || !up[i] || g[i].empty()) continue;
    const Tensor<T>& dy = g[i];
    const Tensor<T>& x = acts.act[nd.inputs[0]];
    switch (nd.op) {
      case Op::Input: break;
      case Op::Conv2d:
        conv2d_backward(x, Pp(nd.weight), dy, nd.conv, S, gin(nd.inputs[0]), dP(nd.weight), P, dP(nd.bias), P);
        break;
      case Op::BatchNorm:
        batchnorm_backward(x, Pp(nd.weight), acts.bn[i], dy, S, gin(nd.inputs[0]), dP(nd.weight), P, dP(nd.bias), P);
        break;
      case Op::Relu:
        if (Tensor<T>* dx = gin(nd.inputs[0])) relu_backward(x, dy, S, *dx);
        break;
      case Op::AvgPool:
        if (Tensor<T>* dx = gin(nd.inputs[0])) avgpool_backward(dy, nd.pool, S, *dx);
        break;
      case Op::MaxPool:
        if (Tensor<T>* dx = gin(nd.inputs[0])) maxpool_backward(dy, acts.argmax[i], N, *dx);
        break;
      case Op::GlobalAvgPool:
        if (Tensor<T>* dx = gin(nd.inputs[0])) global_avgpool_backward(dy, *dx);
        break;
      case Op::Linear:
        linear_backward(x, Pp(nd.weight), dy, S, gin(nd.inputs[0]), dP(nd.weight), P, dP(nd.bias), P);
        break;
      case Op::Add:
        for (int in : nd.inputs)
          if (Tensor<T>* dx = gin(in))
            for (size_t k = 0; k < dx->numel(); ++k) dx->v[k] += dy.v[k];
        break;
      case Op::Concat: {
        int c0 = 0;
        for (int in : nd.inputs) {
          if (Tensor<T>* dx = gin(in)) concat_backward_slice(dy, c0, *dx);
          c0 += acts.act[in].c;
        }
        break;
      }
      case Op::Zero: break;
      case Op::Shift:
        if (Tensor<T>* dx = gin(nd.inputs[0])) shift_backward(dy, *dx);
        break;
    }
    g[i].release();
  }
  if (dinput) {
    const size_t n = static_cast<size_t>(S) * N * plan.in_c * plan.in_h * plan.in_w;
    if (g[0].empty()) std::fill(dinput, dinput + n, T(0));
    else std::copy(g[0].data(), g[0].data() + n, dinput);
  }
}

template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const T* x, int N, const std::vector<int>& req_params,
                          int threads, T* logits, T* G) {
  Activations<T> acts;
  run_forward(plan, params, x, N, acts);
  const Tensor<T>& out = acts.act[plan.output];
  const size_t K = out.sample();
  std::copy(out.data(), out.data() + out.numel(), logits);
  size_t P = 0;
  for (int r : req_params) P += plan.params[r].numel;

  // Seed memory grows with S * N * activation size; 16 seeds per pass keeps it in the low hundreds of MB
  // for the reference networks while amortising the per-pass im2col work.
  const int chunk = std::max(1, std::min(16, (N + std::max(1, threads) - 1) / std::max(1, threads)));
  std::vector<std::pair<int, int>> jobs;
  for (int s0 = 0; s0 < N; s0 += chunk) jobs.emplace_back(s0, std::min(N, s0 + chunk));
  std::mutex mu;
  size_t next = 0;
  std::exception_ptr err;
  auto worker = [&]() {
    for (;;) {
      std::pair<int, int> job;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next >= jobs.size() || err) return;
        job = jobs[next++];
      }
      try {
        const int S = job.second - job.first;
        std::vector<T> seeds(static_cast<size_t>(S) * N * K, T(0));
        for (int s = 0; s < S; ++s) {
          T* row = seeds.data() + (static_cast<size_t>(s) * N + (job.first + s)) * K;
          std::fill(row, row + K, T(1));
        }
        run_backward(plan, params, acts, seeds.data(), S, req_params, G + static_cast<size_t>(job.first) * P,
                     static_cast<T*>(nullptr));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!err) err = std::current_exception();
      }
    }
  };
  const int nt = std::max(1, std::min<int>(threads, static_cast<int>(jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < nt; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (err) std::rethrow_exception(err);
}

#define TEGNAS_EXEC(T)                                                                                          \
  template void run_forward<T>(const Plan&, const T*, const T*, int, Activations<T>&);                         \
  template void run_backward<T>(const Plan&, const T*, const Activations<T>&, const T*, int, const std::vector<int>&, \
                                T*, T*);                                                                        \
  template void per_sample_gradients<T>(const Plan&, const T*, const T*, int, const std::vector<int>&, int, T*, T*);
TEGNAS_EXEC(float)
TEGNAS_EXEC(double)
#undef TEGNAS_EXEC

}  // namespace tegnas
