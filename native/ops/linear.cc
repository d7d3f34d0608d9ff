// Fully connected layer over the flattened sample (c * h * w features).
#include "../linalg/gemm.h"
#include "ops.h"

namespace tegnas {

template <typename T>
void linear_forward(const Tensor<T>& x, const T* weight, const T* bias, int out, Tensor<T>& y) {
  const int N = x.n, F = static_cast<int>(x.sample());
  y.reset(N, out, 1, 1);
  gemm<T>(false, true, N, out, F, x.data(), F, weight, F, y.data(), out, false);
  if (bias)
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < out; ++k) y.v[static_cast<size_t>(n) * out + k] += bias[k];
}

template <typename T>
void linear_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, Grad<T>* dx, T* dweight,
                     size_t dw_stride, T* dbias, size_t db_stride) {
  const int N = x.n, F = static_cast<int>(x.sample()), K = dy.c;
  for (int k = 0; k < K; ++k) {
    if (dweight)
      for (int f = 0; f < F; ++f) {
        double acc[kSeeds] = {};
        for (int n = 0; n < N; ++n) {
          const T xv = x.v[static_cast<size_t>(n) * F + f];
          const T* g = dy.at(static_cast<size_t>(n) * K + k);
          for (int s = 0; s < kSeeds; ++s) acc[s] += static_cast<double>(g[s]) * xv;
        }
        for (int s = 0; s < kSeeds; ++s) dweight[s * dw_stride + static_cast<size_t>(k) * F + f] += static_cast<T>(acc[s]);
      }
    if (dbias) {
      double acc[kSeeds] = {};
      for (int n = 0; n < N; ++n) {
        const T* g = dy.at(static_cast<size_t>(n) * K + k);
        for (int s = 0; s < kSeeds; ++s) acc[s] += g[s];
      }
      for (int s = 0; s < kSeeds; ++s) dbias[s * db_stride + k] += static_cast<T>(acc[s]);
    }
  }
  if (dx)
    for (int n = 0; n < N; ++n)
      for (int f = 0; f < F; ++f) {
        T* d = dx->at(static_cast<size_t>(n) * F + f);
        for (int k = 0; k < K; ++k) {
          const T wv = weight[static_cast<size_t>(k) * F + f];
          const T* g = dy.at(static_cast<size_t>(n) * K + k);
          for (int s = 0; s < kSeeds; ++s) d[s] += wv * g[s];
        }
      }
}

template void linear_forward<float>(const Tensor<float>&, const float*, const float*, int, Tensor<float>&);
template void linear_forward<double>(const Tensor<double>&, const double*, const double*, int, Tensor<double>&);
template void linear_backward<float>(const Tensor<float>&, const float*, const Grad<float>&, Grad<float>*, float*,
                                     size_t, float*, size_t);
template void linear_backward<double>(const Tensor<double>&, const double*, const Grad<double>&, Grad<double>*,
                                      double*, size_t, double*, size_t);

}  // namespace tegnas
