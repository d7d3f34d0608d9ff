// BatchNorm2d in training mode: batch mean and biased batch variance per channel, as PyTorch's
// train-mode forward uses them. Statistics are accumulated in double for float inputs too.
// The backward couples every sample of the batch: for one seed s,
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

template <typename T>
void batchnorm_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Tensor<T>& dy, int S,
                        Tensor<T>* dx, T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride) {
  const int N = x.n, C = x.c;
  const size_t HW = x.plane(), per = x.sample();
  const double M = static_cast<double>(N) * HW;
  for (int s = 0; s < S; ++s) {
    for (int c = 0; c < C; ++c) {
      double sdy = 0, sdyx = 0;
      for (int n = 0; n < N; ++n) {
        const T* g = dy.data() + (static_cast<size_t>(s) * N + n) * per + c * HW;
        const T* xh = cache.xhat.data() + n * per + c * HW;
        for (size_t i = 0; i < HW; ++i) {
          sdy += g[i];
          sdyx += static_cast<double>(g[i]) * xh[i];
        }
      }
      if (dgamma) dgamma[s * dg_stride + c] += static_cast<T>(sdyx);
      if (dbeta) dbeta[s * db_stride + c] += static_cast<T>(sdy);
      if (!dx) continue;
      const T scale = (gamma ? gamma[c] : T(1)) * cache.invstd[c];
      const T mdy = static_cast<T>(sdy / M), mdyx = static_cast<T>(sdyx / M);
      for (int n = 0; n < N; ++n) {
        const size_t off = (static_cast<size_t>(s) * N + n) * per + c * HW;
        const T* g = dy.data() + off;
        const T* xh = cache.xhat.data() + n * per + c * HW;
        T* d = dx->data() + off;
        for (size_t i = 0; i < HW; ++i) d[i] += scale * (g[i] - mdy - xh[i] * mdyx);
      }
    }
  }
}

template void batchnorm_forward<float>(const Tensor<float>&, const float*, const float*, double, Tensor<float>&, BnCache<float>&);
template void batchnorm_forward<double>(const Tensor<double>&, const double*, const double*, double, Tensor<double>&,
                                        BnCache<double>&);
template void batchnorm_backward<float>(const Tensor<float>&, const float*, const BnCache<float>&, const Tensor<float>&, int,
                                        Tensor<float>*, float*, size_t, float*, size_t);
template void batchnorm_backward<double>(const Tensor<double>&, const double*, const BnCache<double>&, const Tensor<double>&,
                                         int, Tensor<double>*, double*, size_t, double*, size_t);

}  // namespace tegnas
