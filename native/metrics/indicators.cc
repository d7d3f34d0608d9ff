#include "indicators.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
#include <limits>
#include <sstream>

#include "../linalg/eigen.h"
#include "../linalg/solve.h"

namespace tegnas {

namespace {
// K = A B^T over the given column ranges (offset, length) of rows of A (lda) and B (ldb), in float64.
// With A == B (the same rows and ranges) only the upper triangle is computed and mirrored.
template <typename T>
std::vector<double> cross_gram(const T* A, int na, size_t lda, const T* B, int nb, size_t ldb,
                               const std::vector<std::pair<size_t, size_t>>& ranges_a,
                               const std::vector<std::pair<size_t, size_t>>& ranges_b) {
  const bool sym = A == B && na == nb && lda == ldb && ranges_a == ranges_b;
  std::vector<double> K(static_cast<size_t>(na) * nb, 0.0);
  for (int i = 0; i < na; ++i)
    for (int j = sym ? i : 0; j < nb; ++j) {
      double acc = 0;
      for (size_t r = 0; r < ranges_a.size(); ++r) {
        const T* a = A + static_cast<size_t>(i) * lda + ranges_a[r].first;
        const T* b = B + static_cast<size_t>(j) * ldb + ranges_b[r].first;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t k = 0;
        const size_t n = ranges_a[r].second;
        for (; k + 4 <= n; k += 4) {
          s0 += static_cast<double>(a[k]) * b[k];
          s1 += static_cast<double>(a[k + 1]) * b[k + 1];
          s2 += static_cast<double>(a[k + 2]) * b[k + 2];
          s3 += static_cast<double>(a[k + 3]) * b[k + 3];
        }
        for (; k < n; ++k) s0 += static_cast<double>(a[k]) * b[k];
        acc += (s0 + s1) + (s2 + s3);
      }
      K[static_cast<size_t>(i) * nb + j] = acc;
      if (sym) K[static_cast<size_t>(j) * nb + i] = acc;
    }
  return K;
}

size_t numel_of(const Plan& plan, const std::vector<int>& idx) {
  size_t P = 0;
  for (int i : idx) P += plan.params[i].numel;
  return P;
}
}  // namespace

template <typename T>
NtkResult ntk_indicators(const Plan& plan, const T* params, const NtkInputs<T>& in, const std::vector<int>& weights,
                         const std::vector<int>& cells, int threads, Workspace<T>* ws) {
  NtkResult r;
  const size_t P = numel_of(plan, weights);
  // Column ranges of the cell parameters inside a row of G (for the regression).
  std::vector<std::pair<size_t, size_t>> cell_in_x, cell_in_y;
  size_t off_y = 0;
  for (int c : cells) {
    size_t off = 0;
    bool found = false;
    for (int wi : weights) {
      if (wi == c) {
        found = true;
        break;
      }
      off += plan.params[wi].numel;
    }
    if (!found) throw EngineError("cell parameter '" + plan.params[c].name + "' is not among the NTK parameters");
    cell_in_x.emplace_back(off, plan.params[c].numel);
    cell_in_y.emplace_back(off_y, plan.params[c].numel);
    off_y += plan.params[c].numel;
  }
  const size_t Pc = off_y;
  const bool regression = in.vx && Pc > 0;

  const char* prof_env = std::getenv("TEGNAS_PROFILE");
  const bool profile = prof_env && *prof_env && *prof_env != '0';
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  auto ms = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  // Both forward passes first (side by side with two or more threads), then the seed chunks of both
  // backward passes from one queue, so that neither pass leaves a thread idle.
  std::vector<T> G(static_cast<size_t>(in.B) * P), Gy(regression ? static_cast<size_t>(in.Bv) * Pc : 0);
  Workspace<T> local;
  if (!ws) ws = &local;
  Activations<T>& acts = ws->train;
  Activations<T>& vacts = ws->val;
  auto train_forward = [&]() {
    run_forward(plan, params, in.x, in.B, acts);
    if (in.naswot) {
      Patterns pat;
      append_patterns(plan, acts, pat);
      r.naswot_computed = true;
      r.naswot_bits = pat.bits;
      r.naswot_singular = !naswot_logdet(pat, r.naswot_logdet);
    }
  };
  if (regression && threads >= 2) {
    std::exception_ptr verr;
    std::thread vfwd([&]() {
      try {
        run_forward(plan, params, in.vx, in.Bv, vacts);
      } catch (...) {
        verr = std::current_exception();
      }
    });
    try {
      train_forward();
    } catch (...) {
      vfwd.join();
      throw;
    }
    vfwd.join();
    if (verr) std::rethrow_exception(verr);
  } else {
    train_forward();
    if (regression) run_forward(plan, params, in.vx, in.Bv, vacts);
  }
  std::vector<GradientJob<T>> jobs{{&acts, &weights, G.data()}};
  if (regression) jobs.push_back({&vacts, &cells, Gy.data()});
  const auto t_fwd = clock::now();
  per_sample_gradients(plan, params, jobs, threads, &ws->pools);
  const auto t_bwd = clock::now();

  // Condition number of the NTK G G^T (the reference: eigvalsh, largest / smallest; NaN -> bad).
  std::vector<std::pair<size_t, size_t>> all{{0, P}};
  std::vector<double> ntk = cross_gram(G.data(), in.B, P, G.data(), in.B, P, all, all);
  std::vector<double> w = symmetric_eigenvalues(ntk.data(), in.B);
  if (profile)
    std::fprintf(stderr, "tegnas profile: ntk indicators: forward %.2f ms, backward %.2f ms, NTK and spectrum %.2f ms\n",
                 ms(t_start, t_fwd), ms(t_fwd, t_bwd), ms(t_bwd, clock::now()));
  r.lambda_min = w.front();
  r.lambda_max = w.back();
  if (!(r.lambda_max > 0)) {
    r.cond_bad = true;
    r.cond_reason = "all gradients are zero (the NTK is the zero matrix)";
  } else if (!(r.lambda_min > in.B * std::numeric_limits<double>::epsilon() * r.lambda_max)) {
    r.cond_bad = true;
    std::ostringstream o;
    o << "the NTK is singular (smallest eigenvalue " << r.lambda_min << ", largest " << r.lambda_max << ")";
    r.cond_reason = o.str();
  } else {
    r.cond = r.lambda_max / r.lambda_min;
  }

  if (!in.vx) return r;
  r.mse_computed = true;
  if (Pc == 0) {
    r.mse_bad = true;
    r.mse_reason = "the network has no cell parameters";
    return r;
  }
  double sum_x = 0, sum_y = 0;
  for (int i = 0; i < in.B; ++i)
    for (const auto& cr : cell_in_x)
      for (size_t k = 0; k < cr.second; ++k) sum_x += G[static_cast<size_t>(i) * P + cr.first + k];
  for (T v : Gy) sum_y += v;
  if (sum_x == 0 || sum_y == 0) {
    r.mse_bad = true;
    r.mse_reason = "the cell gradients are all zero";
    return r;
  }
  std::vector<double> kxx = cross_gram(G.data(), in.B, P, G.data(), in.B, P, cell_in_x, cell_in_x);
  std::vector<double> kyx = cross_gram(Gy.data(), in.Bv, Pc, G.data(), in.B, P, cell_in_y, cell_in_x);
  // Centred one-hot targets.
  const int C = in.classes;
  auto centred = [&](const int* y, int n) {
    std::vector<double> out(static_cast<size_t>(n) * C, 0.0);
    for (int i = 0; i < n; ++i) {
      if (y[i] < 0 || y[i] >= C) throw EngineError("label " + std::to_string(y[i]) + " is outside 0.." + std::to_string(C - 1));
      out[static_cast<size_t>(i) * C + y[i]] = 1.0;
    }
    for (int k = 0; k < C; ++k) {
      double m = 0;
      for (int i = 0; i < n; ++i) m += out[static_cast<size_t>(i) * C + k];
      m /= n;
      for (int i = 0; i < n; ++i) out[static_cast<size_t>(i) * C + k] -= m;
    }
    return out;
  };
  std::vector<double> Tx = centred(in.y, in.B), Ty = centred(in.vy, in.Bv);
  // Z = Kxx^-1 Tx, prediction = Kyx Z.
  std::vector<double> Z = Tx;
  if (!lu_solve(kxx.data(), in.B, Z.data(), C)) {
    r.mse_bad = true;
    r.mse_reason = "the cell NTK of the training batch is singular";
    return r;
  }
  double total = 0;
  for (int i = 0; i < in.Bv; ++i)
    for (int k = 0; k < C; ++k) {
      double p = 0;
      for (int j = 0; j < in.B; ++j) p += kyx[static_cast<size_t>(i) * in.B + j] * Z[static_cast<size_t>(j) * C + k];
      const double d = p - Ty[static_cast<size_t>(i) * C + k];
      total += d * d;
    }
  r.mse = total / in.Bv;
  if (!std::isfinite(r.mse)) {
    r.mse_bad = true;
    r.mse_reason = "the regression error is not finite";
    r.mse = 0;
  }
  return r;
}

template <typename T>
RegionResult linear_regions(const Plan& plan, const T* params, const T* x, int batch, int batches) {
  Patterns p;
  const size_t per = static_cast<size_t>(plan.in_c) * plan.in_h * plan.in_w;
  for (int b = 0; b < batches; ++b) {
    Activations<T> acts;
    run_forward(plan, params, x + static_cast<size_t>(b) * batch * per, batch, acts);
    append_patterns(plan, acts, p);
  }
  RegionResult r;
  r.regions = count_distinct(p);
  r.bits = p.bits;
  r.inputs = p.count;
  return r;
}

template <typename T>
NaswotResult naswot(const Plan& plan, const T* params, const T* x, int batch) {
  Patterns p;
  Activations<T> acts;
  run_forward(plan, params, x, batch, acts);
  append_patterns(plan, acts, p);
  NaswotResult r;
  r.bits = p.bits;
  r.singular = !naswot_logdet(p, r.logdet);
  return r;
}

#define TEGNAS_IND(T)                                                                                            \
  template NtkResult ntk_indicators<T>(const Plan&, const T*, const NtkInputs<T>&, const std::vector<int>&,       \
                                       const std::vector<int>&, int, Workspace<T>*);                              \
  template RegionResult linear_regions<T>(const Plan&, const T*, const T*, int, int);                             \
  template NaswotResult naswot<T>(const Plan&, const T*, const T*, int);
TEGNAS_IND(float)
TEGNAS_IND(double)
#undef TEGNAS_IND

}  // namespace tegnas
