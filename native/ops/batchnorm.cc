// BatchNorm2d in training mode: batch mean and biased batch variance per channel, as PyTorch's
// train-mode forward uses them. Statistics are accumulated in double for float inputs too.
// The backward couples every sample of the batch: for each seed s,
//   dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
// with the means over (n, h, w) of that seed's gradient.
#include <cmath>
#include <cstring>

#include "ops.h"

namespace tegnas {

namespace {
// Sum of f(p[i]) over a plane in double with 8 partial sums: one running double sum makes every add wait
// for the one before it, and the plane loops are most of the forward pass's BatchNorm time.
template <typename T, typename F>
TEGNAS_INLINE double plane_sum(const T* p, size_t n, F f) {
  typedef double D8 __attribute__((vector_size(8 * sizeof(double))));
  D8 acc{};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    D8 v;
    for (int k = 0; k < 8; ++k) v[k] = f(static_cast<double>(p[i + k]));
    acc += v;
  }
  double s = 0;
  for (int k = 0; k < 8; ++k) s += acc[k];
  for (; i < n; ++i) s += f(static_cast<double>(p[i]));
  return s;
}

template <typename T>
TEGNAS_INLINE void bn_fwd(const Tensor<T>& x, const T* gamma, const T* beta, double eps, Tensor<T>& y, BnCache<T>& cache) {
  const int N = x.n, C = x.c;
  const size_t HW = x.plane();
  const double M = static_cast<double>(N) * HW;
  // Every element of y and xhat is written below.
  y.shape(N, C, x.h, x.w);
  cache.xhat.resize(x.numel());
  cache.invstd.assign(C, T(0));
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n) sum += plane_sum(x.data() + n * x.sample() + c * HW, HW, [](double v) { return v; });
    const double mean = sum / M;
    double sq = 0;
    for (int n = 0; n < N; ++n)
      sq += plane_sum(x.data() + n * x.sample() + c * HW, HW, [mean](double v) { return (v - mean) * (v - mean); });
    const double invstd = 1.0 / std::sqrt(sq / M + eps);
    cache.invstd[c] = static_cast<T>(invstd);
    const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
    for (int n = 0; n < N; ++n) {
      const size_t off = n * x.sample() + c * HW;
      const T* p = x.data() + off;
      T* xh = cache.xhat.data() + off;
      T* q = y.data() + off;
      for (size_t i = 0; i < HW; ++i) {
        xh[i] = static_cast<T>((p[i] - mean) * invstd);
        q[i] = xh[i] * g + b;
      }
    }
  }
}
TEGNAS_SIMD void bn_fwd_clone(const Tensor<float>& x, const float* g, const float* b, double eps, Tensor<float>& y,
                              BnCache<float>& cache) {
  bn_fwd(x, g, b, eps, y, cache);
}
TEGNAS_SIMD void bn_fwd_clone(const Tensor<double>& x, const double* g, const double* b, double eps, Tensor<double>& y,
                              BnCache<double>& cache) {
  bn_fwd(x, g, b, eps, y, cache);
}
}  // namespace

template <typename T>
void batchnorm_forward(const Tensor<T>& x, const T* gamma, const T* beta, double eps, Tensor<T>& y, BnCache<T>& cache) {
  bn_fwd_clone(x, gamma, beta, eps, y, cache);
}

namespace {
// One (channel, sample) plane's sums of dy and dy * xhat, kSeeds each: summed in T, added to double.
template <typename T>
TEGNAS_INLINE void plane_sums(const T* g, const T* xh, size_t HW, double* sdy, double* sdyx) {
  using V = SeedVec<T>;
  V a{}, b{};
  for (size_t i = 0; i < HW; ++i) {
    const V gv = *reinterpret_cast<const V*>(g + i * kSeeds);
    a += gv;
    b += gv * xh[i];
  }
  for (int s = 0; s < kSeeds; ++s) {
    sdy[s] += a[s];
    sdyx[s] += b[s];
  }
}

// Per-channel sums over (n, h, w) of dy and dy * xhat, kSeeds each, in double.
template <typename T>
TEGNAS_INLINE void bn_sums(const Tensor<T>& x, const BnCache<T>& cache, const Grad<T>& dy, int c, double* sdy, double* sdyx) {
  const size_t HW = x.plane(), per = x.sample();
  for (int s = 0; s < kSeeds; ++s) sdy[s] = sdyx[s] = 0;
  for (int n = 0; n < x.n; ++n) plane_sums(dy.at(n * per + c * HW), cache.xhat.data() + n * per + c * HW, HW, sdy, sdyx);
}

// Sample n's share of bn_sums for every channel, added to sdy and sdyx (C x kSeeds): the same float
// partial sum per (channel, sample) added to the same double in the same sample order as bn_sums, so
// the sums a conv takes this way equal the BatchNorm's own to the bit.
template <typename T>
TEGNAS_INLINE void bn_sums_sample(const Grad<T>& dy, const T* xhat, int n, double* sdy, double* sdyx) {
  const size_t HW = dy.plane(), per = dy.sample();
  for (int c = 0; c < dy.c; ++c)
    plane_sums(dy.at(n * per + c * HW), xhat + n * per + c * HW, HW, sdy + c * kSeeds, sdyx + c * kSeeds);
}
TEGNAS_SIMD void bn_sums_sample_clone(const Grad<float>& dy, const float* xh, int n, double* sdy, double* sdyx) {
  bn_sums_sample(dy, xh, n, sdy, sdyx);
}
TEGNAS_SIMD void bn_sums_sample_clone(const Grad<double>& dy, const double* xh, int n, double* sdy, double* sdyx) {
  bn_sums_sample(dy, xh, n, sdy, sdyx);
}

template <typename T>
TEGNAS_INLINE void bn_param_grads(int c, const double* sdy, const double* sdyx, T* dgamma, size_t dg_stride, T* dbeta,
                                  size_t db_stride) {
  for (int s = 0; s < kSeeds; ++s) {
    if (dgamma) dgamma[s * dg_stride + c] += static_cast<T>(sdyx[s]);
    if (dbeta) dbeta[s * db_stride + c] += static_cast<T>(sdy[s]);
  }
}

// The terms of dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)) for channel c: the scale and the
// per-seed means over the M batch positions, as vectors.
template <typename T>
TEGNAS_INLINE T bn_dx_terms(int c, const T* gamma, const BnCache<T>& cache, const double* sdy, const double* sdyx, double M,
                            SeedVec<T>& vm, SeedVec<T>& vx) {
  for (int s = 0; s < kSeeds; ++s) {
    vm[s] = static_cast<T>(sdy[s] / M);
    vx[s] = static_cast<T>(sdyx[s] / M);
  }
  return (gamma ? gamma[c] : T(1)) * cache.invstd[c];
}

template <typename T>
TEGNAS_INLINE void bn_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, Grad<T>* dx,
                               T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride, bool overwrite) {
  using V = SeedVec<T>;
  const int N = x.n, C = x.c;
  const size_t HW = x.plane(), per = x.sample();
  const double M = static_cast<double>(N) * HW;
  for (int c = 0; c < C; ++c) {
    double sdy[kSeeds], sdyx[kSeeds];
    bn_sums(x, cache, dy, c, sdy, sdyx);
    bn_param_grads(c, sdy, sdyx, dgamma, dg_stride, dbeta, db_stride);
    if (!dx) continue;
    V vm, vx;
    const T scale = bn_dx_terms<T>(c, gamma, cache, sdy, sdyx, M, vm, vx);
    for (int n = 0; n < N; ++n) {
      const T* g = dy.at(n * per + c * HW);
      const T* xh = cache.xhat.data() + n * per + c * HW;
      T* d = dx->at(n * per + c * HW);
      for (size_t i = 0; i < HW; ++i) {
        const V gv = *reinterpret_cast<const V*>(g + i * kSeeds);
        const V r = scale * (gv - vm - xh[i] * vx);
        if (overwrite) *reinterpret_cast<V*>(d + i * kSeeds) = r;
        else *reinterpret_cast<V*>(d + i * kSeeds) += r;
      }
    }
  }
}

template <typename T>
TEGNAS_INLINE void bn_backward_fold(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, T k, T* dgamma,
                                    size_t dg_stride, T* dbeta, size_t db_stride, BnFold<T>& fold, const double* pre_dy,
                                    const double* pre_dyx) {
  const int C = x.c;
  const double M = static_cast<double>(x.n) * x.plane();
  fold.xhat = cache.xhat.data();
  fold.k = k;
  fold.scale.resize(C);
  fold.m.resize(static_cast<size_t>(C) * kSeeds);
  fold.mx.resize(static_cast<size_t>(C) * kSeeds);
  for (int c = 0; c < C; ++c) {
    double sdy[kSeeds], sdyx[kSeeds];
    if (pre_dy) {
      for (int s = 0; s < kSeeds; ++s) {
        sdy[s] = pre_dy[c * kSeeds + s];
        sdyx[s] = pre_dyx[c * kSeeds + s];
      }
    } else {
      bn_sums(x, cache, dy, c, sdy, sdyx);
    }
    for (int s = 0; s < kSeeds; ++s) {
      sdy[s] *= k;
      sdyx[s] *= k;
    }
    bn_param_grads(c, sdy, sdyx, dgamma, dg_stride, dbeta, db_stride);
    fold.scale[c] = (gamma ? gamma[c] : T(1)) * cache.invstd[c];
    for (int s = 0; s < kSeeds; ++s) {
      fold.m[c * kSeeds + s] = static_cast<T>(sdy[s] / M);
      fold.mx[c * kSeeds + s] = static_cast<T>(sdyx[s] / M);
    }
  }
}

TEGNAS_SIMD void bn_backward_clone(const Tensor<float>& x, const float* gamma, const BnCache<float>& cache, const Grad<float>& dy,
                                   Grad<float>* dx, float* dg, size_t dgs, float* db, size_t dbs, bool ow) {
  bn_backward(x, gamma, cache, dy, dx, dg, dgs, db, dbs, ow);
}
TEGNAS_SIMD void bn_backward_clone(const Tensor<double>& x, const double* gamma, const BnCache<double>& cache,
                                   const Grad<double>& dy, Grad<double>* dx, double* dg, size_t dgs, double* db, size_t dbs,
                                   bool ow) {
  bn_backward(x, gamma, cache, dy, dx, dg, dgs, db, dbs, ow);
}
TEGNAS_SIMD void bn_fold_clone(const Tensor<float>& x, const float* gamma, const BnCache<float>& cache, const Grad<float>& dy,
                               float k, float* dg, size_t dgs, float* db, size_t dbs, BnFold<float>& fold, const double* p,
                               const double* px) {
  bn_backward_fold(x, gamma, cache, dy, k, dg, dgs, db, dbs, fold, p, px);
}
TEGNAS_SIMD void bn_fold_clone(const Tensor<double>& x, const double* gamma, const BnCache<double>& cache, const Grad<double>& dy,
                               double k, double* dg, size_t dgs, double* db, size_t dbs, BnFold<double>& fold, const double* p,
                               const double* px) {
  bn_backward_fold(x, gamma, cache, dy, k, dg, dgs, db, dbs, fold, p, px);
}
}  // namespace

namespace {
template <typename T>
TEGNAS_INLINE void bn_relu_pool_bwd(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Tensor<T>& relu_out,
                                    const Grad<T>& gpool, Grad<T>* dx, T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride,
                                    bool overwrite) {
  using V = SeedVec<T>;
  const int N = x.n, C = x.c;
  const size_t HW = x.plane(), per = x.sample();
  const double M = static_cast<double>(N) * HW;
  const T inv = T(1) / static_cast<T>(HW);
  // Every channel's terms first, then dx sample by sample, channels inner: the whole-batch buffer is
  // written front to back (3 MB per 16 seeds for 12 x 8 x 8), not one 4 KB run per (channel, sample).
  std::vector<T> vms(static_cast<size_t>(C) * kSeeds), vxs(static_cast<size_t>(C) * kSeeds), scales(C);
  for (int c = 0; c < C; ++c) {
    // sum over (n, p) of dy = sum_n g[n] * count[n] / HW, of dy * xhat = sum_n g[n] * (sum of kept xhat) / HW.
    double sdy[kSeeds] = {}, sdyx[kSeeds] = {};
    for (int n = 0; n < N; ++n) {
      const T* m = relu_out.data() + n * per + c * HW;
      const T* xh = cache.xhat.data() + n * per + c * HW;
      double cnt = 0, sx = 0;
      for (size_t i = 0; i < HW; ++i)
        if (m[i] > T(0)) {
          cnt += 1;
          sx += xh[i];
        }
      const T* g = gpool.at(static_cast<size_t>(n) * C + c);
      for (int s = 0; s < kSeeds; ++s) {
        const double gv = static_cast<double>(g[s] * inv);
        sdy[s] += gv * cnt;
        sdyx[s] += gv * sx;
      }
    }
    bn_param_grads(c, sdy, sdyx, dgamma, dg_stride, dbeta, db_stride);
    if (dx) {
      V vm, vx;
      scales[c] = bn_dx_terms<T>(c, gamma, cache, sdy, sdyx, M, vm, vx);
      std::memcpy(vms.data() + c * kSeeds, &vm, sizeof(V));
      std::memcpy(vxs.data() + c * kSeeds, &vx, sizeof(V));
    }
  }
  if (!dx) return;
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      V vm, vx;
      std::memcpy(&vm, vms.data() + c * kSeeds, sizeof(V));
      std::memcpy(&vx, vxs.data() + c * kSeeds, sizeof(V));
      const T scale = scales[c];
      const V gv = *reinterpret_cast<const V*>(gpool.at(static_cast<size_t>(n) * C + c)) * inv;
      const T* m = relu_out.data() + n * per + c * HW;
      const T* xh = cache.xhat.data() + n * per + c * HW;
      T* d = dx->at(n * per + c * HW);
      for (size_t i = 0; i < HW; ++i) {
        const T keep = m[i] > T(0) ? T(1) : T(0);
        const V r = scale * (keep * gv - vm - xh[i] * vx);
        if (overwrite) *reinterpret_cast<V*>(d + i * kSeeds) = r;
        else *reinterpret_cast<V*>(d + i * kSeeds) += r;
      }
    }
}
TEGNAS_SIMD void bn_relu_pool_clone(const Tensor<float>& x, const float* gamma, const BnCache<float>& cache,
                                    const Tensor<float>& ro, const Grad<float>& gp, Grad<float>* dx, float* dg, size_t dgs,
                                    float* db, size_t dbs, bool ow) {
  bn_relu_pool_bwd(x, gamma, cache, ro, gp, dx, dg, dgs, db, dbs, ow);
}
TEGNAS_SIMD void bn_relu_pool_clone(const Tensor<double>& x, const double* gamma, const BnCache<double>& cache,
                                    const Tensor<double>& ro, const Grad<double>& gp, Grad<double>* dx, double* dg, size_t dgs,
                                    double* db, size_t dbs, bool ow) {
  bn_relu_pool_bwd(x, gamma, cache, ro, gp, dx, dg, dgs, db, dbs, ow);
}
}  // namespace

template <typename T>
void batchnorm_relu_pool_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Tensor<T>& relu_out,
                                  const Grad<T>& gpool, Grad<T>* dx, T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride,
                                  bool overwrite) {
  bn_relu_pool_clone(x, gamma, cache, relu_out, gpool, dx, dgamma, dg_stride, dbeta, db_stride, overwrite);
}

template <typename T>
void batchnorm_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, Grad<T>* dx,
                        T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride, bool overwrite) {
  bn_backward_clone(x, gamma, cache, dy, dx, dgamma, dg_stride, dbeta, db_stride, overwrite);
}

template <typename T>
void batchnorm_backward_fold(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, T k, T* dgamma,
                             size_t dg_stride, T* dbeta, size_t db_stride, BnFold<T>& fold, const double* sdy,
                             const double* sdyx) {
  bn_fold_clone(x, gamma, cache, dy, k, dgamma, dg_stride, dbeta, db_stride, fold, sdy, sdyx);
}

template <typename T>
void batchnorm_sums_sample(const Grad<T>& dy, const T* xhat, int n, double* sdy, double* sdyx) {
  bn_sums_sample_clone(dy, xhat, n, sdy, sdyx);
}

#define TEGNAS_BN(T)                                                                                                  \
  template void batchnorm_backward<T>(const Tensor<T>&, const T*, const BnCache<T>&, const Grad<T>&, Grad<T>*, T*,    \
                                      size_t, T*, size_t, bool);                                                     \
  template void batchnorm_backward_fold<T>(const Tensor<T>&, const T*, const BnCache<T>&, const Grad<T>&, T, T*, size_t, \
                                           T*, size_t, BnFold<T>&, const double*, const double*);               \
  template void batchnorm_sums_sample<T>(const Grad<T>&, const T*, int, double*, double*);                  \
  template void batchnorm_relu_pool_backward<T>(const Tensor<T>&, const T*, const BnCache<T>&, const Tensor<T>&,     \
                                                const Grad<T>&, Grad<T>*, T*, size_t, T*, size_t, bool);
TEGNAS_BN(float)
TEGNAS_BN(double)
#undef TEGNAS_BN

template void batchnorm_forward<float>(const Tensor<float>&, const float*, const float*, double, Tensor<float>&, BnCache<float>&);
template void batchnorm_forward<double>(const Tensor<double>&, const double*, const double*, double, Tensor<double>&,
                                        BnCache<double>&);
}  // namespace tegnas
