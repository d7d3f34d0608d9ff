// Average, max and global average pooling.
#include <algorithm>
#include <limits>

#include "ops.h"

namespace tegnas {

namespace {
// Number of window positions inside the input (padding not counted).
inline int avg_count(const PoolGeom& g, int oh, int ow) {
  const int h0 = std::max(oh * g.stride - g.pad, 0), h1 = std::min(oh * g.stride - g.pad + g.k, g.hin);
  const int w0 = std::max(ow * g.stride - g.pad, 0), w1 = std::min(ow * g.stride - g.pad + g.k, g.win);
  return (h1 - h0) * (w1 - w0);
}
}  // namespace

template <typename T>
void avgpool_forward(const Tensor<T>& x, const PoolGeom& g, Tensor<T>& y) {
  y.reset(x.n, x.c, g.hout, g.wout);
  const int planes = x.n * x.c;
  for (int p = 0; p < planes; ++p) {
    const T* xp = x.data() + p * x.plane();
    T* yp = y.data() + p * y.plane();
    for (int oh = 0; oh < g.hout; ++oh)
      for (int ow = 0; ow < g.wout; ++ow) {
        const int h0 = std::max(oh * g.stride - g.pad, 0), h1 = std::min(oh * g.stride - g.pad + g.k, g.hin);
        const int w0 = std::max(ow * g.stride - g.pad, 0), w1 = std::min(ow * g.stride - g.pad + g.k, g.win);
        T acc = 0;
        for (int ih = h0; ih < h1; ++ih)
          for (int iw = w0; iw < w1; ++iw) acc += xp[ih * g.win + iw];
        yp[oh * g.wout + ow] = acc / static_cast<T>((h1 - h0) * (w1 - w0));
      }
  }
}

template <typename T>
void avgpool_backward(const Grad<T>& dy, const PoolGeom& g, Grad<T>& dx) {
  const int planes = dy.n * dy.c;
  for (int p = 0; p < planes; ++p) {
    const T* gp = dy.at(p * dy.plane());
    T* dp = dx.at(p * dx.plane());
    for (int oh = 0; oh < g.hout; ++oh)
      for (int ow = 0; ow < g.wout; ++ow) {
        const T inv = T(1) / static_cast<T>(avg_count(g, oh, ow));
        const T* src = gp + static_cast<size_t>(oh * g.wout + ow) * kSeeds;
        T v[kSeeds];
        for (int s = 0; s < kSeeds; ++s) v[s] = src[s] * inv;
        const int h0 = std::max(oh * g.stride - g.pad, 0), h1 = std::min(oh * g.stride - g.pad + g.k, g.hin);
        const int w0 = std::max(ow * g.stride - g.pad, 0), w1 = std::min(ow * g.stride - g.pad + g.k, g.win);
        for (int ih = h0; ih < h1; ++ih)
          for (int iw = w0; iw < w1; ++iw) {
            T* d = dp + static_cast<size_t>(ih * g.win + iw) * kSeeds;
            for (int s = 0; s < kSeeds; ++s) d[s] += v[s];
          }
      }
  }
}

template <typename T>
void maxpool_forward(const Tensor<T>& x, const PoolGeom& g, Tensor<T>& y, std::vector<int32_t>& argmax) {
  y.reset(x.n, x.c, g.hout, g.wout);
  argmax.assign(y.numel(), -1);
  const int planes = x.n * x.c;
  for (int p = 0; p < planes; ++p) {
    const T* xp = x.data() + p * x.plane();
    T* yp = y.data() + p * y.plane();
    int32_t* ap = argmax.data() + p * y.plane();
    for (int oh = 0; oh < g.hout; ++oh)
      for (int ow = 0; ow < g.wout; ++ow) {
        const int h0 = std::max(oh * g.stride - g.pad, 0), h1 = std::min(oh * g.stride - g.pad + g.k, g.hin);
        const int w0 = std::max(ow * g.stride - g.pad, 0), w1 = std::min(ow * g.stride - g.pad + g.k, g.win);
        T best = -std::numeric_limits<T>::infinity();
        int32_t at = -1;
        for (int ih = h0; ih < h1; ++ih)
          for (int iw = w0; iw < w1; ++iw) {
            const T v = xp[ih * g.win + iw];
            if (v > best || at < 0) {
              best = v;
              at = ih * g.win + iw;
            }
          }
        yp[oh * g.wout + ow] = best;
        ap[oh * g.wout + ow] = at;
      }
  }
}

template <typename T>
void maxpool_backward(const Grad<T>& dy, const std::vector<int32_t>& argmax, Grad<T>& dx) {
  const int planes = dy.n * dy.c;
  for (int p = 0; p < planes; ++p) {
    const size_t yo = static_cast<size_t>(p) * dy.plane();
    const int32_t* ap = argmax.data() + yo;
    T* dp = dx.at(static_cast<size_t>(p) * dx.plane());
    for (size_t i = 0; i < dy.plane(); ++i) {
      if (ap[i] < 0) continue;
      const T* src = dy.at(yo + i);
      T* d = dp + static_cast<size_t>(ap[i]) * kSeeds;
      for (int s = 0; s < kSeeds; ++s) d[s] += src[s];
    }
  }
}

template <typename T>
void global_avgpool_forward(const Tensor<T>& x, Tensor<T>& y) {
  y.reset(x.n, x.c, 1, 1);
  const size_t HW = x.plane();
  for (int p = 0; p < x.n * x.c; ++p) {
    const T* xp = x.data() + p * HW;
    T acc = 0;
    for (size_t i = 0; i < HW; ++i) acc += xp[i];
    y.v[p] = acc / static_cast<T>(HW);
  }
}

template <typename T>
void global_avgpool_backward(const Grad<T>& dy, Grad<T>& dx) {
  const size_t HW = dx.plane();
  const T inv = T(1) / static_cast<T>(HW);
  for (size_t p = 0; p < dy.elements(); ++p) {
    const T* src = dy.at(p);
    T v[kSeeds];
    for (int s = 0; s < kSeeds; ++s) v[s] = src[s] * inv;
    T* dp = dx.at(p * HW);
    for (size_t i = 0; i < HW; ++i)
      for (int s = 0; s < kSeeds; ++s) dp[i * kSeeds + s] += v[s];
  }
}

#define TEGNAS_POOL(T)                                                                                \
  template void avgpool_forward<T>(const Tensor<T>&, const PoolGeom&, Tensor<T>&);                    \
  template void avgpool_backward<T>(const Grad<T>&, const PoolGeom&, Grad<T>&);                       \
  template void maxpool_forward<T>(const Tensor<T>&, const PoolGeom&, Tensor<T>&, std::vector<int32_t>&); \
  template void maxpool_backward<T>(const Grad<T>&, const std::vector<int32_t>&, Grad<T>&);           \
  template void global_avgpool_forward<T>(const Tensor<T>&, Tensor<T>&);                              \
  template void global_avgpool_backward<T>(const Grad<T>&, Grad<T>&);
TEGNAS_POOL(float)
TEGNAS_POOL(double)
#undef TEGNAS_POOL

}  // namespace tegnas
