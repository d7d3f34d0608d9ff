// Ops that only move or combine values: add, channel concat, zero and the one-pixel shift.
#include <algorithm>

#include "ops.h"

namespace tegnas {

template <typename T>
void add_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) {
  const Tensor<T>& a = *xs[0];
  y.shape(a.n, a.c, a.h, a.w);
  // The first term assigns, the others add: no zero fill, one pass fewer over y.
  const size_t n = y.numel();
  T* out = y.data();
  const T* first = a.data();
  for (size_t i = 0; i < n; ++i) out[i] = first[i];
  for (size_t k = 1; k < xs.size(); ++k) {
    const T* src = xs[k]->data();
    for (size_t i = 0; i < n; ++i) out[i] += src[i];
  }
}

template <typename T>
void concat_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) {
  int C = 0;
  for (const Tensor<T>* x : xs) C += x->c;
  const Tensor<T>& a = *xs[0];
  y.shape(a.n, C, a.h, a.w);
  for (int n = 0; n < a.n; ++n) {
    T* dst = y.data() + n * y.sample();
    for (const Tensor<T>* x : xs) {
      const T* src = x->data() + n * x->sample();
      dst = std::copy(src, src + x->sample(), dst);
    }
  }
}

template <typename T>
void concat_backward_slice(const Grad<T>& dy, int c0, Grad<T>& dx) {
  const size_t per = dx.sample() * kSeeds;
  for (int n = 0; n < dx.n; ++n) {
    const T* src = dy.at(n * dy.sample() + c0 * dx.plane());
    T* dst = dx.at(n * dx.sample());
    for (size_t i = 0; i < per; ++i) dst[i] += src[i];
  }
}

namespace {
template <typename T>
TEGNAS_INLINE void add_bwd(const Grad<T>& dy, T k, Grad<T>& dx, bool overwrite) {
  using V = SeedVec<T>;
  const size_t n = dy.elements();
  const V* src = reinterpret_cast<const V*>(dy.v.data());
  V* d = reinterpret_cast<V*>(dx.v.data());
  if (overwrite && k == T(1)) std::copy(dy.v.begin(), dy.v.end(), dx.v.begin());
  else if (overwrite) for (size_t e = 0; e < n; ++e) d[e] = k * src[e];
  else if (k == T(1)) for (size_t e = 0; e < n; ++e) d[e] += src[e];
  else for (size_t e = 0; e < n; ++e) d[e] += k * src[e];
}
TEGNAS_SIMD void add_bwd_clone(const Grad<float>& dy, float k, Grad<float>& dx, bool ow) { add_bwd(dy, k, dx, ow); }
TEGNAS_SIMD void add_bwd_clone(const Grad<double>& dy, double k, Grad<double>& dx, bool ow) { add_bwd(dy, k, dx, ow); }
}  // namespace

template <typename T>
void add_backward(const Grad<T>& dy, T k, Grad<T>& dx, bool overwrite) {
  add_bwd_clone(dy, k, dx, overwrite);
}

template <typename T>
void zero_forward(const Tensor<T>& x, int channels, int stride, Tensor<T>& y) {
  // ceil(h / stride) without forming h + stride - 1, which overflows an int for a stride near 2^31.
  y.reset(x.n, channels, x.h / stride + (x.h % stride != 0), x.w / stride + (x.w % stride != 0));
}

template <typename T>
void shift_forward(const Tensor<T>& x, Tensor<T>& y) {
  y.reset(x.n, x.c, x.h, x.w);
  for (int p = 0; p < x.n * x.c; ++p) {
    const T* xp = x.data() + p * x.plane();
    T* yp = y.data() + p * y.plane();
    for (int i = 0; i + 1 < x.h; ++i)
      for (int j = 0; j + 1 < x.w; ++j) yp[i * x.w + j] = xp[(i + 1) * x.w + j + 1];
  }
}

template <typename T>
void shift_backward(const Grad<T>& dy, Grad<T>& dx) {
  for (int p = 0; p < dy.n * dy.c; ++p) {
    const T* gp = dy.at(p * dy.plane());
    T* dp = dx.at(p * dx.plane());
    for (int i = 0; i + 1 < dy.h; ++i)
      for (int j = 0; j + 1 < dy.w; ++j) {
        const T* src = gp + static_cast<size_t>(i * dy.w + j) * kSeeds;
        T* dst = dp + static_cast<size_t>((i + 1) * dy.w + j + 1) * kSeeds;
        for (int s = 0; s < kSeeds; ++s) dst[s] += src[s];
      }
  }
}

#define TEGNAS_STRUCT(T)                                                                \
  template void add_forward<T>(const std::vector<const Tensor<T>*>&, Tensor<T>&);      \
  template void concat_forward<T>(const std::vector<const Tensor<T>*>&, Tensor<T>&);   \
  template void concat_backward_slice<T>(const Grad<T>&, int, Grad<T>&);               \
  template void add_backward<T>(const Grad<T>&, T, Grad<T>&, bool);                   \
  template void zero_forward<T>(const Tensor<T>&, int, int, Tensor<T>&);               \
  template void shift_forward<T>(const Tensor<T>&, Tensor<T>&);                        \
  template void shift_backward<T>(const Grad<T>&, Grad<T>&);
TEGNAS_STRUCT(float)
TEGNAS_STRUCT(double)
#undef TEGNAS_STRUCT

}  // namespace tegnas
