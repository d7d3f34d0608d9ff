// BatchNorm2d in training mode: batch mean and biased batch variance per channel, as PyTorch's
// train-mode forward uses them. Statistics are accumulated in double for float inputs too.
// The backward couples every sample of the batch: for each seed s,
//   dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
// with the means over (n, h, w) of that seed's gradient.
#include <cmath>

#include "ops.h"

namespace tegnas {

template <typename T>
void batchnorm_forward(const Tensor<T>& x, const T* gamma, const T* beta, double eps, Tensor<T>& y, BnCache<T>& cache) {
  const int N = x.n, C = x.c;
  const size_t HW = x.plane();
  const double M = static_cast<double>(N) * HW;
  y.reset(N, C, x.h, x.w);
  cache.xhat.assign(x.numel(), T(0));
  cache.invstd.assign(C, T(0));
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n) {
      const T* p = x.data() + n * x.sample() + c * HW;
      for (size_t i = 0; i < HW; ++i) sum += p[i];
    }
    const double mean = sum / M;
    double sq = 0;
    for (int n = 0; n < N; ++n) {
      const T* p = x.data() + n * x.sample() + c * HW;
      for (size_t i = 0; i < HW; ++i) {
        const double d = p[i] - mean;
        sq += d * d;
      }
    }
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

namespace {
template <typename T>
TEGNAS_INLINE void bn_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, Grad<T>* dx,
                               T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride, bool overwrite) {
  const int N = x.n, C = x.c;
  const size_t HW = x.plane(), per = x.sample();
  const double M = static_cast<double>(N) * HW;
  for (int c = 0; c < C; ++c) {
    double sdy[kSeeds] = {}, sdyx[kSeeds] = {};
    for (int n = 0; n < N; ++n) {
      const T* g = dy.at(n * per + c * HW);
      const T* xh = cache.xhat.data() + n * per + c * HW;
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
    for (int s = 0; s < kSeeds; ++s) {
      if (dgamma) dgamma[s * dg_stride + c] += static_cast<T>(sdyx[s]);
      if (dbeta) dbeta[s * db_stride + c] += static_cast<T>(sdy[s]);
    }
    if (!dx) continue;
    const T scale = (gamma ? gamma[c] : T(1)) * cache.invstd[c];
    T mdy[kSeeds], mdyx[kSeeds];
    for (int s = 0; s < kSeeds; ++s) {
      mdy[s] = static_cast<T>(sdy[s] / M);
      mdyx[s] = static_cast<T>(sdyx[s] / M);
    }
    for (int n = 0; n < N; ++n) {
      const T* g = dy.at(n * per + c * HW);
      const T* xh = cache.xhat.data() + n * per + c * HW;
      T* d = dx->at(n * per + c * HW);
      using V = SeedVec<T>;
      V vm, vx;
      for (int s = 0; s < kSeeds; ++s) {
        vm[s] = mdy[s];
        vx[s] = mdyx[s];
      }
      for (size_t i = 0; i < HW; ++i) {
        const V gv = *reinterpret_cast<const V*>(g + i * kSeeds);
        const V r = scale * (gv - vm - xh[i] * vx);
        if (overwrite) *reinterpret_cast<V*>(d + i * kSeeds) = r;
        else *reinterpret_cast<V*>(d + i * kSeeds) += r;
      }
    }
  }
}
TEGNAS_SIMD void bn_backward_f(const Tensor<float>& x, const float* gamma, const BnCache<float>& cache, const Grad<float>& dy,
                               Grad<float>* dx, float* dg, size_t dgs, float* db, size_t dbs, bool ow) {
  bn_backward(x, gamma, cache, dy, dx, dg, dgs, db, dbs, ow);
}
TEGNAS_SIMD void bn_backward_d(const Tensor<double>& x, const double* gamma, const BnCache<double>& cache,
                               const Grad<double>& dy, Grad<double>* dx, double* dg, size_t dgs, double* db, size_t dbs, bool ow) {
  bn_backward(x, gamma, cache, dy, dx, dg, dgs, db, dbs, ow);
}
}  // namespace

template <>
void batchnorm_backward<float>(const Tensor<float>& x, const float* gamma, const BnCache<float>& cache, const Grad<float>& dy,
                               Grad<float>* dx, float* dg, size_t dgs, float* db, size_t dbs, bool ow) {
  bn_backward_f(x, gamma, cache, dy, dx, dg, dgs, db, dbs, ow);
}
template <>
void batchnorm_backward<double>(const Tensor<double>& x, const double* gamma, const BnCache<double>& cache,
                                const Grad<double>& dy, Grad<double>* dx, double* dg, size_t dgs, double* db, size_t dbs, bool ow) {
  bn_backward_d(x, gamma, cache, dy, dx, dg, dgs, db, dbs, ow);
}

template void batchnorm_forward<float>(const Tensor<float>&, const float*, const float*, double, Tensor<float>&, BnCache<float>&);
template void batchnorm_forward<double>(const Tensor<double>&, const double*, const double*, double, Tensor<double>&,
                                        BnCache<double>&);
}  // namespace tegnas
