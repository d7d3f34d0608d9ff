#include "indicators.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <limits>
#include <sstream>

#include "../linalg/eigen.h"
#include "../linalg/solve.h"

namespace tegnas {

namespace {
// K = A B^T over the given column ranges (offset, length) of rows of A (lda) and B (ldb), in float64.
// With A == B (the same rows and ranges) only the upper triangle is computed and mirrored.
// 4 x 4 pairs of rows at a time, 8 columns per step widened to double in vector registers: a dot
// product per pair ran at scalar speed and the NTK products were ~3% of a cheap architecture's score.
using Dbl8 = double __attribute__((vector_size(64), aligned(8)));

template <typename T>
TEGNAS_INLINE void widen8(const T* p, Dbl8& v) {  // by reference: a 64-byte return value warns (ABI)
  for (int l = 0; l < 8; ++l) v[l] = static_cast<double>(p[l]);
}

template <typename T>
TEGNAS_INLINE void gram_tile(const T* const (&a)[4], const T* const (&b)[4], size_t n, double (&out)[4][4]) {
  Dbl8 acc[4][4];
#pragma GCC unroll 4
  for (int x = 0; x < 4; ++x)
#pragma GCC unroll 4
    for (int y = 0; y < 4; ++y) acc[x][y] = Dbl8{};
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    Dbl8 av[4], bv[4];
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) widen8(a[x] + k, av[x]);
#pragma GCC unroll 4
    for (int y = 0; y < 4; ++y) widen8(b[y] + k, bv[y]);
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x)
#pragma GCC unroll 4
      for (int y = 0; y < 4; ++y) acc[x][y] += av[x] * bv[y];
  }
  for (int x = 0; x < 4; ++x)
    for (int y = 0; y < 4; ++y) {
      double t = 0;
      for (int l = 0; l < 8; ++l) t += acc[x][y][l];
      for (size_t r = k; r < n; ++r) t += static_cast<double>(a[x][r]) * b[y][r];
      out[x][y] += t;
    }
}

template <typename T>
TEGNAS_INLINE double gram_one(const T* a, const T* b, size_t n) {
  Dbl8 acc{};
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    Dbl8 x, y;
    widen8(a + k, x);
    widen8(b + k, y);
    acc += x * y;
  }
  double t = 0;
  for (int l = 0; l < 8; ++l) t += acc[l];
  for (; k < n; ++k) t += static_cast<double>(a[k]) * b[k];
  return t;
}

template <typename T>
TEGNAS_INLINE void cross_gram_into(const T* A, int na, size_t lda, const T* B, int nb, size_t ldb,
                                   const std::vector<std::pair<size_t, size_t>>& ranges_a,
                                   const std::vector<std::pair<size_t, size_t>>& ranges_b, bool sym, double* K) {
  auto pair = [&](int i, int j) {
    double acc = 0;
    for (size_t r = 0; r < ranges_a.size(); ++r)
      acc += gram_one(A + static_cast<size_t>(i) * lda + ranges_a[r].first, B + static_cast<size_t>(j) * ldb + ranges_b[r].first,
                      ranges_a[r].second);
    K[static_cast<size_t>(i) * nb + j] = acc;
    if (sym) K[static_cast<size_t>(j) * nb + i] = acc;
  };
  const int na4 = na / 4 * 4, nb4 = nb / 4 * 4;
  for (int i0 = 0; i0 < na4; i0 += 4)
    for (int j0 = sym ? i0 : 0; j0 < nb4; j0 += 4) {
      double out[4][4] = {};
      for (size_t r = 0; r < ranges_a.size(); ++r) {
        const T* a[4];
        const T* b[4];
        for (int x = 0; x < 4; ++x) a[x] = A + static_cast<size_t>(i0 + x) * lda + ranges_a[r].first;
        for (int y = 0; y < 4; ++y) b[y] = B + static_cast<size_t>(j0 + y) * ldb + ranges_b[r].first;
        gram_tile(a, b, ranges_a[r].second, out);
      }
      for (int x = 0; x < 4; ++x)
        for (int y = 0; y < 4; ++y) {
          K[static_cast<size_t>(i0 + x) * nb + j0 + y] = out[x][y];
          if (sym) K[static_cast<size_t>(j0 + y) * nb + i0 + x] = out[x][y];
        }
    }
  // Rows and columns past the last whole tile.
  for (int i = 0; i < na; ++i)
    for (int j = sym ? i : 0; j < nb; ++j)
      if (i >= na4 || j >= nb4) pair(i, j);
}
TEGNAS_SIMD void cross_gram_clone(const float* A, int na, size_t lda, const float* B, int nb, size_t ldb,
                                  const std::vector<std::pair<size_t, size_t>>& ra, const std::vector<std::pair<size_t, size_t>>& rb,
                                  bool sym, double* K) {
  cross_gram_into(A, na, lda, B, nb, ldb, ra, rb, sym, K);
}
TEGNAS_SIMD void cross_gram_clone(const double* A, int na, size_t lda, const double* B, int nb, size_t ldb,
                                  const std::vector<std::pair<size_t, size_t>>& ra, const std::vector<std::pair<size_t, size_t>>& rb,
                                  bool sym, double* K) {
  cross_gram_into(A, na, lda, B, nb, ldb, ra, rb, sym, K);
}

template <typename T>
std::vector<double> cross_gram(const T* A, int na, size_t lda, const T* B, int nb, size_t ldb,
                               const std::vector<std::pair<size_t, size_t>>& ranges_a,
                               const std::vector<std::pair<size_t, size_t>>& ranges_b) {
  const bool sym = A == B && na == nb && lda == ldb && ranges_a == ranges_b;
  std::vector<double> K(static_cast<size_t>(na) * nb, 0.0);
  cross_gram_clone(A, na, lda, B, nb, ldb, ranges_a, ranges_b, sym, K.data());
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
  // The three kernel matrices (the NTK G G^T over every parameter, and over the cell parameters the
  // training batch's Kxx and the validation batch's Kyx) are built block by block as the chunks of rows
  // come in, by the thread that finished the later chunk of each pair: built after the backward they
  // ran on one thread while the others waited (~1.5 ms of a 70 ms repeat with two threads). Each block
  // is taken in one fixed orientation (training rows of the lower chunk first, validation rows first),
  // so the values do not depend on which thread finished first.
  std::vector<std::pair<size_t, size_t>> all{{0, P}};
  std::vector<double> ntk(static_cast<size_t>(in.B) * in.B, 0.0);
  std::vector<double> kxx(regression ? static_cast<size_t>(in.B) * in.B : 0, 0.0);
  std::vector<double> kyx(regression ? static_cast<size_t>(in.Bv) * in.B : 0, 0.0);
  struct Rows {
    int job, first, count;
  };
  std::mutex done_mu;
  std::vector<Rows> done;
  // K[r0 + i][c0 + j] = block(i, j) and, for a block off K's diagonal, its mirror K[c0 + j][r0 + i].
  auto put = [](std::vector<double>& K, size_t ld, const std::vector<double>& blk, int r0, int nr, int c0, int nc, bool mirror) {
    for (int i = 0; i < nr; ++i)
      for (int j = 0; j < nc; ++j) {
        const double v = blk[static_cast<size_t>(i) * nc + j];
        K[static_cast<size_t>(r0 + i) * ld + c0 + j] = v;
        if (mirror) K[static_cast<size_t>(c0 + j) * ld + r0 + i] = v;
      }
  };
  const std::function<void(int, int, int)> rows_done = [&](int job, int first, int count) {
    std::vector<Rows> pairs;
    {
      std::lock_guard<std::mutex> lock(done_mu);
      pairs = done;
      done.push_back({job, first, count});
    }
    pairs.push_back({job, first, count});
    const size_t ldx = static_cast<size_t>(in.B);
    for (const Rows& o : pairs) {
      if (job == 0 && o.job == 0) {
        const Rows& a = first <= o.first ? Rows{job, first, count} : o;
        const Rows& b = first <= o.first ? o : Rows{job, first, count};
        const T* ra = G.data() + static_cast<size_t>(a.first) * P;
        const T* rb = G.data() + static_cast<size_t>(b.first) * P;
        put(ntk, ldx, cross_gram(ra, a.count, P, rb, b.count, P, all, all), a.first, a.count, b.first, b.count, a.first != b.first);
        if (regression)
          put(kxx, ldx, cross_gram(ra, a.count, P, rb, b.count, P, cell_in_x, cell_in_x), a.first, a.count, b.first, b.count,
              a.first != b.first);
      } else if (job != o.job) {
        const Rows& v = job == 1 ? Rows{job, first, count} : o;
        const Rows& t = job == 1 ? o : Rows{job, first, count};
        put(kyx, ldx,
            cross_gram(Gy.data() + static_cast<size_t>(v.first) * Pc, v.count, Pc, G.data() + static_cast<size_t>(t.first) * P,
                       t.count, P, cell_in_y, cell_in_x),
            v.first, v.count, t.first, t.count, false);
      }
    }
  };
  const auto t_fwd = clock::now();
  per_sample_gradients(plan, params, jobs, threads, &ws->pools, &rows_done);
  const auto t_bwd = clock::now();

  // Condition number of the NTK G G^T (the reference: eigvalsh, largest / smallest; NaN -> bad).
  std::vector<double> w = symmetric_eigenvalues(ntk.data(), in.B);
  if (profile)
    std::fprintf(stderr, "tegnas profile: ntk indicators: forward %.2f ms, backward and kernel matrices %.2f ms, spectrum %.2f ms\n",
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
