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
void linear_backward(const Tensor<T>& x, const T* weight, const Tensor<T>& dy, int S, Tensor<T>* dx, T* dweight,
                     size_t dw_stride, T* dbias, size_t db_stride) {
  const int N = x.n, F = static_cast<int>(x.sample()), K = dy.c;
  for (int s = 0; s < S; ++s) {
    const T* g = dy.data() + static_cast<size_t>(s) * N * K;
    if (dweight) gemm<T>(true, false, K, F, N, g, K, x.data(), F, dweight + s * dw_stride, F, true);
    if (dbias)
      for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) dbias[s * db_stride + k] += g[static_cast<size_t>(n) * K + k];
    if (dx) gemm<T>(false, false, N, F, K, g, K, weight, F, dx->data() + static_cast<size_t>(s) * N * F, F, true);
  }
}

template void linear_forward<float>(const Tensor<float>&, const float*, const float*, int, Tensor<float>&);
template void linear_forward<double>(const Tensor<double>&, const double*, const double*, int, Tensor<double>&);
template void linear_backward<float>(const Tensor<float>&, const float*, const Tensor<float>&, int, Tensor<float>*, float*,
                                     size_t, float*, size_t);
template void linear_backward<double>(const Tensor<double>&, const double*, const Tensor<double>&, int, Tensor<double>*,
                                      double*, size_t, double*, size_t);

}  // namespace tegnas
