// ReLU: the gradient passes where the input was > 0 (PyTorch's threshold_backward on the output,
// which is the same set).
#include "ops.h"

namespace tegnas {

template <typename T>
void relu_forward(const Tensor<T>& x, Tensor<T>& y) {
  y.shape(x.n, x.c, x.h, x.w);
  const size_t n = x.numel();
  for (size_t i = 0; i < n; ++i) y.v[i] = x.v[i] > T(0) ? x.v[i] : T(0);
}

namespace {
template <typename T>
TEGNAS_INLINE void relu_bwd(const Tensor<T>& x, const Grad<T>& dy, Grad<T>& dx, bool overwrite) {
  using V = SeedVec<T>;
  const size_t n = x.numel();
  for (size_t i = 0; i < n; ++i) {
    V* d = reinterpret_cast<V*>(dx.at(i));
    if (!(x.v[i] > T(0))) {
      if (overwrite) *d = V{};
      continue;
    }
    if (overwrite) *d = *reinterpret_cast<const V*>(dy.at(i));
    else *d += *reinterpret_cast<const V*>(dy.at(i));
  }
}
TEGNAS_SIMD void relu_bwd_f(const Tensor<float>& x, const Grad<float>& dy, Grad<float>& dx, bool ow) { relu_bwd(x, dy, dx, ow); }
TEGNAS_SIMD void relu_bwd_d(const Tensor<double>& x, const Grad<double>& dy, Grad<double>& dx, bool ow) { relu_bwd(x, dy, dx, ow); }
}  // namespace

template <>
void relu_backward<float>(const Tensor<float>& x, const Grad<float>& dy, Grad<float>& dx, bool ow) { relu_bwd_f(x, dy, dx, ow); }
template <>
void relu_backward<double>(const Tensor<double>& x, const Grad<double>& dy, Grad<double>& dx, bool ow) { relu_bwd_d(x, dy, dx, ow); }

template void relu_forward<float>(const Tensor<float>&, Tensor<float>&);
template void relu_forward<double>(const Tensor<double>&, Tensor<double>&);

}  // namespace tegnas
