#include "executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

namespace tegnas {

template <typename T>
void run_forward(const Plan& plan, const T* params, const T* x, int N, Activations<T>& out) {
  const size_t n_nodes = plan.nodes.size();
  out.N = N;
  // The previous pass's buffers (another architecture, or the previous call) are handed out again
  // smallest-fit: a score that runs on warm memory spends no time in page faults.
  for (auto& t : out.act) out.spare.give(t.v);
  for (auto& b : out.bn) out.spare.give(b.xhat);
  out.act.resize(n_nodes);
  out.bn.resize(n_nodes);
  out.argmax.assign(n_nodes, {});
  auto P = [&](int ref) -> const T* { return ref >= 0 ? params + plan.params[ref].offset : nullptr; };
  // TEGNAS_PROFILE=1: every node's forward time on stderr, like the backward's.
  const char* prof_env = std::getenv("TEGNAS_PROFILE");
  const bool profile = prof_env && *prof_env && *prof_env != '0';
  std::vector<double> node_ms(profile ? n_nodes : 0, 0.0);
  for (size_t i = 0; i < n_nodes; ++i) {
    const auto t0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    const Node& nd = plan.nodes[i];
    Tensor<T>& y = out.act[i];
    auto in = [&](size_t k) -> const Tensor<T>& { return out.act[nd.inputs[k]]; };
    out.spare.reserve_from(y.v, static_cast<size_t>(N) * nd.c * nd.h * nd.w);
    if (nd.op == Op::BatchNorm) out.spare.reserve_from(out.bn[i].xhat, in(0).numel());
    switch (nd.op) {
      case Op::Input:
        y.shape(N, plan.in_c, plan.in_h, plan.in_w);
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
    if (profile) node_ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  if (profile) {
    double total = 0;
    for (double v : node_ms) total += v;
    std::fprintf(stderr, "tegnas profile: forward of %d samples, %.2f ms\n", N, total);
    for (size_t k = 0; k < n_nodes; ++k)
      if (node_ms[k] >= 0.01)
        std::fprintf(stderr, "  node %3zu %-14s %4dx%3dx%3d  %8.3f ms  %5.1f%%\n", k, op_name(plan.nodes[k].op), plan.nodes[k].c,
                     plan.nodes[k].h, plan.nodes[k].w, node_ms[k], 100 * node_ms[k] / total);
  }
  out.spare.clear();  // what this network did not need: hold no more than one pass's worth
}

namespace {
// What a backward pass needs besides the activations: where each requested parameter's gradient goes
// in a row, which nodes need an output gradient at all, and the add nodes as flat weighted sums.
struct BackwardSetup {
  std::vector<long long> col;  // column offset of each parameter in a row, -1 when not requested
  size_t P = 0;
  std::vector<bool> up;        // the gradient of this node's output is needed
  std::vector<int> consumers;  // live nodes reading each node's output (with multiplicity)
  // An add node's inputs with their multiplicities, through the add nodes only it reads: a cell of
  // skip connections (node2 = x + x, node3 = x + x + node2) becomes node3 = 4 x, one pass instead of five.
  std::vector<std::vector<std::pair<int, int>>> flat;
  // For each term of flat[i]: how many of the term's consumers are node i or the adds folded into it.
  // When that is all of them, the term's gradient is exactly (multiplicity) x node i's.
  std::vector<std::vector<int>> flat_reads;
};

BackwardSetup setup_backward(const Plan& plan, const std::vector<int>& req_params, bool want_input) {
  BackwardSetup b;
  b.col.assign(plan.params.size(), -1);
  for (int r : req_params) {
    if (r < 0 || r >= static_cast<int>(plan.params.size())) throw EngineError("requested parameter index out of range");
    if (b.col[r] >= 0) throw EngineError("parameter '" + plan.params[r].name + "' is requested twice");
    b.col[r] = static_cast<long long>(b.P);
    b.P += plan.params[r].numel;
  }
  b.consumers.assign(plan.nodes.size(), 0);
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    if (plan.live[i])
      for (int in : plan.nodes[i].inputs) b.consumers[in]++;
  b.up.assign(plan.nodes.size(), false);
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const Node& nd = plan.nodes[i];
    bool u = (i == 0 && want_input) || (nd.weight >= 0 && b.col[nd.weight] >= 0) || (nd.bias >= 0 && b.col[nd.bias] >= 0);
    if (nd.op != Op::Zero)  // zero's gradient is identically 0: nothing upstream of it can gain
      for (int in : nd.inputs) u = u || b.up[in];
    b.up[i] = u;
  }
  b.flat.assign(plan.nodes.size(), {});
  b.flat_reads.assign(plan.nodes.size(), {});
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const Node& nd = plan.nodes[i];
    if (nd.op != Op::Add || !plan.live[i]) continue;
    std::vector<std::pair<int, int>>& f = b.flat[i];
    std::vector<int>& fr = b.flat_reads[i];
    auto add_term = [&f, &fr](int node, int times, int reads) {
      for (size_t k = 0; k < f.size(); ++k)
        if (f[k].first == node) {
          f[k].second += times;
          fr[k] += reads;
          return;
        }
      f.emplace_back(node, times);
      fr.push_back(reads);
    };
    for (int in : nd.inputs) {
      if (plan.nodes[in].op == Op::Add && b.consumers[in] == 1 && in != plan.output) {
        for (size_t k = 0; k < b.flat[in].size(); ++k) add_term(b.flat[in][k].first, b.flat[in][k].second, b.flat_reads[in][k]);
      } else {
        add_term(in, 1, 1);
      }
    }
    // An add term every read of which is in this group gets exactly (its multiplicity) x this node's
    // gradient, and passes it on to its own terms: fold those in as well. A skip cell after a residual
    // block (node3 = 4 x (conv_b + shortcut)) then hands its gradient to both branches with no add pass.
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t k = 0; k < f.size() && !changed; ++k) {
        const int t = f[k].first;
        if (plan.nodes[t].op != Op::Add || t == plan.output || fr[k] != b.consumers[t]) continue;
        const int times = f[k].second;
        f.erase(f.begin() + static_cast<long>(k));
        fr.erase(fr.begin() + static_cast<long>(k));
        for (size_t m = 0; m < b.flat[t].size(); ++m) add_term(b.flat[t][m].first, b.flat[t][m].second * times, b.flat_reads[t][m]);
        changed = true;
      }
    }
  }
  return b;
}

// One backward pass for kSeeds seeds given as the output gradient `out` (seed innermost).
// rows: kSeeds x P parameter gradients (zeroed by the caller); dinput: the input gradient, or null.
template <typename T>
void backward_chunk(const Plan& plan, const T* params, const Activations<T>& acts, Grad<T>& out, const BackwardSetup& b,
                    T* rows, Grad<T>* dinput, GradPool<T>& pool, std::vector<double>* node_seconds = nullptr) {
  const size_t n_nodes = plan.nodes.size();
  const int N = acts.N;
  const size_t P = b.P;
  auto Pp = [&](int ref) -> const T* { return ref >= 0 ? params + plan.params[ref].offset : nullptr; };
  auto dP = [&](int ref) -> T* { return (ref >= 0 && b.col[ref] >= 0) ? rows + b.col[ref] : nullptr; };
  std::vector<Grad<T>> g(n_nodes);
  std::vector<BnFold<T>> fold(n_nodes);
  // A node whose only consumer is an add gets exactly k * (the add's gradient): instead of a copy it
  // reads the add's buffer (alias = the owning node, coef = k; k != 1 only for a conv, which scales dy as it
  // loads it, or a BatchNorm folded into its conv). The owner's buffer goes back to the pool when the owner and
  // every reader are done.
  std::vector<int> alias(n_nodes, -1), readers(n_nodes, 0);
  std::vector<T> coef(n_nodes, T(1));
  std::vector<bool> owner_done(n_nodes, false);
  // An average pool whose input gradient a conv further down writes too: pend[input] = the pool, whose
  // output gradient stays in g[pool] until that conv adds the pool's backward sample by sample (its
  // DxEpilogue's pool_dy) or, failing that, the input's own turn comes (flush_pool).
  std::vector<int> pend(n_nodes, -1);
  // A BatchNorm's backward sums (sum dy, sum dy * xhat per channel and seed) taken by the conv that wrote
  // the buffer it reads (DxEpilogue); the BatchNorm scales them by its coef as it would its own.
  std::vector<std::vector<double>> bn_sdy(n_nodes), bn_sdyx(n_nodes);
  std::vector<int> bn_src(n_nodes, -1);  // the node whose buffer those sums were taken over
  auto has_grad = [&](size_t node) { return !g[node].empty() || alias[node] >= 0 || pend[node] >= 0; };
  auto release = [&](size_t node) {
    if (alias[node] >= 0) {
      const int o = alias[node];
      alias[node] = -1;
      if (--readers[o] == 0 && owner_done[o]) pool.give(g[o]);
    } else if (readers[node] > 0) {
      owner_done[node] = true;
    } else {
      pool.give(g[node]);
    }
  };
  if (!b.up[plan.output]) return;
  g[plan.output] = std::move(out);
  // The gradient buffer of `node` for an op about to write it. Its first writer assigns every element
  // (when the op can: `overwrite` tells it) so that no buffer is zeroed only to be added to once.
  bool overwrite = false;
  auto gin = [&](int node, bool can_overwrite) -> Grad<T>* {
    overwrite = false;
    if (!b.up[node]) return nullptr;
    Grad<T>& t = g[node];
    if (t.empty()) {
      const Tensor<T>& a = acts.act[node];
      pool.take(t, N, a.c, a.h, a.w, !can_overwrite);
      overwrite = can_overwrite;
    }
    return &t;
  };
  // The conv that writes node `target`'s gradient (itself or through a ReLU only it reads).
  auto dx_target = [&](int conv) {
    const int in = plan.nodes[conv].inputs[0];
    return plan.nodes[in].op == Op::Relu && b.consumers[in] == 1 ? plan.nodes[in].inputs[0] : in;
  };
  auto flush_pool = [&](int node) {
    const int pn = pend[node];
    pend[node] = -1;
    if (Grad<T>* dx = gin(node, true)) avgpool_backward(g[pn], plan.nodes[pn].pool, *dx, overwrite);
    pool.give(g[pn]);
  };
  for (size_t i = n_nodes; i-- > 1;) {
    const Node& nd = plan.nodes[i];
    if (pend[i] >= 0) flush_pool(static_cast<int>(i));
    if (!plan.live[i] || !b.up[i] || !has_grad(i)) continue;
    const auto t0 = node_seconds ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    const Grad<T>& dy = alias[i] >= 0 ? g[alias[i]] : g[i];
    const Tensor<T>& x = acts.act[nd.inputs[0]];
    bool deferred = false;
    switch (nd.op) {
      case Op::Input: break;
      case Op::Conv2d:
      {
        // A ReLU read only by this conv: write the masked gradient straight into the ReLU's input.
        const int in = nd.inputs[0];
        const bool relu_in = plan.nodes[in].op == Op::Relu;
        const bool fuse = relu_in && b.consumers[in] == 1;
        const int target = fuse ? plan.nodes[in].inputs[0] : in;
        Grad<T>* dx = gin(target, true);
        DxEpilogue<T> epi;
        const int pn = dx ? pend[target] : -1;
        if (pn >= 0) {
          epi.pool_dy = &g[pn];
          epi.pool = &plan.nodes[pn].pool;
        }
        // This conv is the last writer of `target`'s gradient (every other reader of target is the pool
        // it adds): when a BatchNorm's output gradient is that buffer (target itself, or a BatchNorm term
        // of the add target that reads the add's buffer), the sums its backward needs are taken here,
        // per sample while dx is in cache, not in a pass of their own over memory. The BatchNorm uses
        // them only if it does read this buffer (bn_src).
        int bn = -1;
        if (dx && overwrite && b.consumers[target] == 1 + (pn >= 0 ? 1 : 0)) {
          const Node& tn = plan.nodes[target];
          if (tn.op == Op::BatchNorm) {
            bn = target;
          } else if (tn.op == Op::Add) {
            const auto& terms = b.flat[target];
            for (size_t k = 0; k < terms.size() && bn < 0; ++k) {
              const int t = terms[k].first;
              if (t > 0 && plan.nodes[t].op == Op::BatchNorm && b.consumers[t] == b.flat_reads[target][k]) bn = t;
            }
          }
        }
        if (bn >= 0) {
          const size_t n = static_cast<size_t>(plan.nodes[bn].c) * kSeeds;
          bn_sdy[bn].assign(n, 0.0);
          bn_sdyx[bn].assign(n, 0.0);
          bn_src[bn] = target;
          epi.xhat = acts.bn[bn].xhat.data();
          epi.sdy = bn_sdy[bn].data();
          epi.sdyx = bn_sdyx[bn].data();
        }
        const bool sums = bn >= 0;
        conv2d_backward(x, Pp(nd.weight), dy, nd.conv, dx, overwrite, dP(nd.weight), P, dP(nd.bias), P, relu_in,
                        fold[i].xhat ? &fold[i] : nullptr, coef[i], pn >= 0 || sums ? &epi : nullptr);
        if (pn >= 0) {
          pend[target] = -1;
          pool.give(g[pn]);
        }
        break;
      }
      case Op::BatchNorm: {
        const int in = nd.inputs[0];
        if (plan.nodes[in].op == Op::Conv2d && b.consumers[in] == 1 && b.up[in] && !has_grad(in)) {
          // The conv applies this op's input gradient as it reads dy: hand it dy and the batch means.
          const bool pre = bn_src[i] >= 0 && bn_src[i] == (alias[i] >= 0 ? alias[i] : static_cast<int>(i));
          batchnorm_backward_fold(x, Pp(nd.weight), acts.bn[i], dy, coef[i], dP(nd.weight), P, dP(nd.bias), P, fold[in],
                                  pre ? bn_sdy[i].data() : nullptr, pre ? bn_sdyx[i].data() : nullptr);
          if (alias[i] >= 0) {
            alias[in] = alias[i];  // the conv becomes the reader
            alias[i] = -1;
          } else {
            g[in] = std::move(g[i]);
          }
          break;
        }
        if (coef[i] != T(1)) throw EngineError("internal: a scaled shared gradient reached an unfolded BatchNorm");
        Grad<T>* dx = gin(in, true);
        batchnorm_backward(x, Pp(nd.weight), acts.bn[i], dy, dx, dP(nd.weight), P, dP(nd.bias), P, overwrite);
        break;
      }
      case Op::Relu:
        if (Grad<T>* dx = gin(nd.inputs[0], true)) relu_backward(x, dy, *dx, overwrite);
        break;
      case Op::AvgPool: {
        const int in = nd.inputs[0];
        if (!b.up[in]) break;
        // Deferred to a conv that writes the same gradient later, when its buffer is this node's own.
        bool partner = false;
        if (pend[in] < 0 && alias[i] < 0 && readers[i] == 0)
          for (size_t c = static_cast<size_t>(in) + 1; c < i && !partner; ++c)
            partner = plan.live[c] && b.up[c] && plan.nodes[c].op == Op::Conv2d && dx_target(static_cast<int>(c)) == in;
        if (partner) {
          pend[in] = static_cast<int>(i);
          deferred = true;
          break;
        }
        if (Grad<T>* dx = gin(in, true)) avgpool_backward(dy, nd.pool, *dx, overwrite);
        break;
      }
      case Op::MaxPool:
        if (Grad<T>* dx = gin(nd.inputs[0], false)) maxpool_backward(dy, acts.argmax[i], *dx);
        break;
      case Op::GlobalAvgPool: {
        // BatchNorm -> ReLU -> global pool, each read only by the next (the networks' last BatchNorm):
        // the BatchNorm's input gradient in one pass, from the pooled gradient and the ReLU mask,
        // instead of a broadcast, a masking and the BatchNorm's two passes over the whole gradient.
        const int r = nd.inputs[0];
        const int bn = plan.nodes[r].op == Op::Relu ? plan.nodes[r].inputs[0] : -1;
        if (bn > 0 && b.consumers[r] == 1 && b.up[r] && plan.nodes[bn].op == Op::BatchNorm && b.consumers[bn] == 1 &&
            b.up[bn] && !has_grad(r) && !has_grad(bn)) {
          const Node& bnd = plan.nodes[bn];
          Grad<T>* dx = gin(bnd.inputs[0], true);
          batchnorm_relu_pool_backward(acts.act[bnd.inputs[0]], Pp(bnd.weight), acts.bn[bn], acts.act[r], dy, dx,
                                       dP(bnd.weight), P, dP(bnd.bias), P, overwrite);
          break;
        }
        if (Grad<T>* dx = gin(nd.inputs[0], true)) global_avgpool_backward(dy, *dx, overwrite);
        break;
      }
      case Op::Linear:
        linear_backward(x, Pp(nd.weight), dy, gin(nd.inputs[0], false), dP(nd.weight), P, dP(nd.bias), P);
        break;
      case Op::Add: {
        // Each term gets k * dy: a term read only by this add shares dy's buffer (any k for a conv, which
        // scales dy as it loads it, or a BatchNorm that folds into its conv, else k = 1); otherwise, when
        // nothing shares it, the last unwritten term with k = 1 takes the buffer itself; the others get
        // k * dy added.
        const auto& terms = b.flat[i];
        const auto& term_reads = b.flat_reads[i];
        auto shareable = [&](int t, int k, int reads) {
          if (t == 0 || b.consumers[t] != reads || has_grad(t)) return false;
          if (k == 1) return true;
          const Node& tn = plan.nodes[t];
          if (tn.op == Op::Conv2d) return true;
          return tn.op == Op::BatchNorm && plan.nodes[tn.inputs[0]].op == Op::Conv2d && b.consumers[tn.inputs[0]] == 1 &&
                 b.up[tn.inputs[0]] && !has_grad(tn.inputs[0]);
        };
        std::vector<bool> share(terms.size(), false);
        bool any_share = false;
        for (size_t k = 0; k < terms.size(); ++k)
          if (b.up[terms[k].first] && shareable(terms[k].first, terms[k].second, term_reads[k])) share[k] = any_share = true;
        int steal = -1;
        if (!any_share)
          for (const auto& t : terms)
            if (b.up[t.first] && !has_grad(t.first) && t.second == 1) steal = t.first;
        for (size_t k = 0; k < terms.size(); ++k) {
          const int t = terms[k].first;
          if (!b.up[t] || t == steal) continue;
          if (share[k]) {
            alias[t] = static_cast<int>(i);
            coef[t] = static_cast<T>(terms[k].second);
            readers[i]++;
            continue;
          }
          Grad<T>* dx = gin(t, true);
          add_backward(dy, static_cast<T>(terms[k].second), *dx, overwrite);
        }
        if (steal >= 0) g[steal] = std::move(g[i]);
        break;
      }
      case Op::Concat: {
        int c0 = 0;
        for (int in : nd.inputs) {
          if (Grad<T>* dx = gin(in, false)) concat_backward_slice(dy, c0, *dx);
          c0 += acts.act[in].c;
        }
        break;
      }
      case Op::Zero: break;
      case Op::Shift:
        if (Grad<T>* dx = gin(nd.inputs[0], false)) shift_backward(dy, *dx);
        break;
    }
    if (!deferred) release(i);
    if (node_seconds) (*node_seconds)[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  if (pend[0] >= 0) flush_pool(0);
  if (dinput) *dinput = std::move(g[0]);
}
}  // namespace

template <typename T>
void run_backward(const Plan& plan, const T* params, const Activations<T>& acts, const T* seeds, int S,
                  const std::vector<int>& req_params, T* grads, T* dinput) {
  const int N = acts.N;
  const BackwardSetup b = setup_backward(plan, req_params, dinput != nullptr);
  const Tensor<T>& y = acts.act[plan.output];
  const size_t K = y.sample(), xin = static_cast<size_t>(plan.in_c) * plan.in_h * plan.in_w;
  std::vector<T> rows(static_cast<size_t>(kSeeds) * b.P);
  for (int s0 = 0; s0 < S; s0 += kSeeds) {
    const int ns = std::min(kSeeds, S - s0);
    Grad<T> out;
    out.reset(N, y.c, y.h, y.w);
    for (int s = 0; s < ns; ++s)
      for (size_t e = 0; e < static_cast<size_t>(N) * K; ++e) out.at(e)[s] = seeds[(static_cast<size_t>(s0) + s) * N * K + e];
    std::fill(rows.begin(), rows.end(), T(0));
    Grad<T> din;
    GradPool<T> pool;
    backward_chunk(plan, params, acts, out, b, rows.data(), dinput ? &din : nullptr, pool);
    for (int s = 0; s < ns; ++s) {
      if (grads) std::copy(rows.begin() + s * b.P, rows.begin() + (s + 1) * b.P, grads + (static_cast<size_t>(s0) + s) * b.P);
      if (dinput) {
        T* d = dinput + (static_cast<size_t>(s0) + s) * N * xin;
        for (size_t e = 0; e < static_cast<size_t>(N) * xin; ++e) d[e] = din.empty() ? T(0) : din.at(e)[s];
      }
    }
  }
}

template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const T* x, int N, const std::vector<int>& req_params,
                          int threads, T* logits, T* G) {
  Activations<T> acts;
  run_forward(plan, params, x, N, acts);
  const Tensor<T>& out = acts.act[plan.output];
  std::copy(out.data(), out.data() + out.numel(), logits);
  per_sample_gradients(plan, params, acts, req_params, threads, G);
}

template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const Activations<T>& acts, const std::vector<int>& req_params,
                          int threads, T* G) {
  std::vector<GradientJob<T>> jobs{{&acts, &req_params, G}};
  per_sample_gradients(plan, params, jobs, threads);
}

template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const std::vector<GradientJob<T>>& jobs, int threads,
                          std::vector<GradPool<T>>* pools, const std::function<void(int, int, int)>* rows_done) {
  const size_t K = plan.nodes[plan.output].c * static_cast<size_t>(plan.nodes[plan.output].h) * plan.nodes[plan.output].w;
  std::vector<BackwardSetup> setups;
  setups.reserve(jobs.size());
  for (const auto& j : jobs) setups.push_back(setup_backward(plan, *j.req_params, false));
  // Every seed chunk of every job in one queue, in job order: the first job (the training batch, the
  // larger) is handed out first, and a thread that finishes its share of one job takes the next job's
  // chunks instead of waiting for the other threads.
  std::vector<std::pair<int, int>> chunks;  // (job, first seed)
  for (size_t j = 0; j < jobs.size(); ++j)
    for (int s0 = 0; s0 < jobs[j].acts->N; s0 += kSeeds) chunks.emplace_back(static_cast<int>(j), s0);
  std::mutex mu;
  size_t next = 0;
  std::exception_ptr err;
  // TEGNAS_PROFILE=1: the backward time of every node, summed over seed chunks and threads, on stderr.
  const char* prof_env = std::getenv("TEGNAS_PROFILE");
  const bool profile = prof_env && *prof_env && *prof_env != '0';
  std::vector<std::vector<double>> node_seconds(jobs.size(), std::vector<double>(profile ? plan.nodes.size() : 0, 0.0));
  const int nt = std::max(1, std::min<int>(threads, static_cast<int>(chunks.size())));
  std::vector<GradPool<T>> local_pools;
  if (!pools) pools = &local_pools;
  if (pools->size() < static_cast<size_t>(nt)) pools->resize(nt);
  auto worker = [&](int t) {
    std::vector<T> rows;
    std::vector<std::vector<double>> mine(node_seconds);
    GradPool<T>& pool = (*pools)[t];
    for (;;) {
      int j, s0;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next >= chunks.size() || err) {
          for (size_t a = 0; a < mine.size(); ++a)
            for (size_t k = 0; k < mine[a].size(); ++k) node_seconds[a][k] += mine[a][k];
          return;
        }
        j = chunks[next].first;
        s0 = chunks[next].second;
        ++next;
      }
      try {
        const GradientJob<T>& job = jobs[j];
        const BackwardSetup& b = setups[j];
        const int N = job.acts->N;
        const Tensor<T>& out = job.acts->act[plan.output];
        const size_t P = b.P;
        const int ns = std::min(kSeeds, N - s0);
        // Seed s: one on every output of sample s0 + s (the gradient of that sample's summed logits).
        Grad<T> seed;
        pool.take(seed, N, out.c, out.h, out.w);
        for (int s = 0; s < ns; ++s)
          for (size_t k = 0; k < K; ++k) seed.at(static_cast<size_t>(s0 + s) * K + k)[s] = T(1);
        rows.assign(static_cast<size_t>(kSeeds) * P, T(0));
        backward_chunk(plan, params, *job.acts, seed, b, rows.data(), static_cast<Grad<T>*>(nullptr), pool,
                       profile ? &mine[j] : nullptr);
        for (int s = 0; s < ns; ++s)
          std::copy(rows.begin() + s * P, rows.begin() + (s + 1) * P, job.G + (static_cast<size_t>(s0) + s) * P);
        if (rows_done) (*rows_done)(j, s0, ns);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!err) err = std::current_exception();
      }
    }
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < nt; ++t) workers.emplace_back(worker, t);
  worker(0);
  for (auto& th : workers) th.join();
  if (err) std::rethrow_exception(err);
  if (profile)
    for (size_t j = 0; j < jobs.size(); ++j) {
      double total = 0;
      for (double v : node_seconds[j]) total += v;
      std::fprintf(stderr, "tegnas profile: backward of %d seeds, %.2f ms over all threads\n", jobs[j].acts->N, total * 1e3);
      for (size_t k = 0; k < node_seconds[j].size(); ++k) {
        if (node_seconds[j][k] <= 0) continue;
        const Node& nd = plan.nodes[k];
        const Tensor<T>& a = jobs[j].acts->act[k];
        std::fprintf(stderr, "  node %3zu %-14s %4dx%3dx%3d  %8.3f ms  %5.1f%%\n", k, op_name(nd.op), a.c, a.h, a.w,
                     node_seconds[j][k] * 1e3, 100 * node_seconds[j][k] / total);
      }
    }
}

#define TEGNAS_EXEC(T)                                                                                          \
  template void run_forward<T>(const Plan&, const T*, const T*, int, Activations<T>&);                         \
  template void run_backward<T>(const Plan&, const T*, const Activations<T>&, const T*, int, const std::vector<int>&, \
                                T*, T*);                                                                        \
  template void per_sample_gradients<T>(const Plan&, const T*, const T*, int, const std::vector<int>&, int, T*, T*); \
  template void per_sample_gradients<T>(const Plan&, const T*, const Activations<T>&, const std::vector<int>&, int, T*); \
  template void per_sample_gradients<T>(const Plan&, const T*, const std::vector<GradientJob<T>>&, int, std::vector<GradPool<T>>*, \
                                        const std::function<void(int, int, int)>*);
TEGNAS_EXEC(float)
TEGNAS_EXEC(double)
#undef TEGNAS_EXEC

}  // namespace tegnas
