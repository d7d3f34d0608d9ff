// ReLU: the gradient passes where the input was > 0 (PyTorch's threshold_backward on the output,
// which is the same set).
#include "ops.h"

namespace tegnas {

template <typename T>
void relu_forward(const Tensor<T>& x, Tensor<T>& y) {
  y.reset(x.n, x.c, x.h, x.w);
  const size_t n = x.numel();
  for (size_t i = 0; i < n; ++i) y.v[i] = x.v[i] > T(0) ? x.v[i] : T(0);
}

template <typename T>
void relu_backward(const Tensor<T>& x, const Tensor<T>& dy, int S, Tensor<T>& dx) {
  const size_t per = x.numel();
  for (int s = 0; s < S; ++s) {
    const T* g = dy.data() + s * per;
    T* d = dx.data() + s * per;
    for (size_t i = 0; i < per; ++i)
      if (x.v[i] > T(0)) d[i] += g[i];
  }
}

template void relu_forward<float>(const Tensor<float>&, Tensor<float>&);
template void relu_forward<double>(const Tensor<double>&, Tensor<double>&);
template void relu_backward<float>(const Tensor<float>&, const Tensor<float>&, int, Tensor<float>&);
template void relu_backward<double>(const Tensor<double>&, const Tensor<double>&, int, Tensor<double>&);

}  // namespace tegnas
