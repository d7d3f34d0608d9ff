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
  y.shape(x.n, x.c, g.hout, g.wout);
  const int planes = x.n * x.c;
  if (g.k == 2 && g.stride == 2 && g.pad == 0 && 2 * g.hout <= g.hin && 2 * g.wout <= g.win) {
    // The reduction block's shortcut: every window whole and apart. The general loop's window bounds
    // per output made it 7% of an all-skip network's forward pass.
    for (int p = 0; p < planes; ++p) {
      const T* xp = x.data() + p * x.plane();
      T* yp = y.data() + p * y.plane();
      for (int oh = 0; oh < g.hout; ++oh) {
        const T* r0 = xp + static_cast<size_t>(2 * oh) * g.win;
        const T* r1 = r0 + g.win;
        for (int ow = 0; ow < g.wout; ++ow)
          yp[oh * g.wout + ow] = (((T(0) + r0[2 * ow]) + r0[2 * ow + 1]) + r1[2 * ow] + r1[2 * ow + 1]) / T(4);  // the general loop's order
      }
    }
    return;
  }
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

namespace {
// Gather form: each input position sums dy / count over the windows that contain it, so every element
// of dx is written once (no zeroed buffer, no scatter) and the sum runs on whole seed vectors.
// Planes [p0, p1) of N x C.
template <typename T>
TEGNAS_INLINE void avgpool_bwd(const Grad<T>& dy, const PoolGeom& g, Grad<T>& dx, bool overwrite, int p0, int p1) {
  using V = SeedVec<T>;
  std::vector<T> inv(static_cast<size_t>(g.hout) * g.wout);
  for (int oh = 0; oh < g.hout; ++oh)
    for (int ow = 0; ow < g.wout; ++ow) inv[static_cast<size_t>(oh) * g.wout + ow] = T(1) / static_cast<T>(avg_count(g, oh, ow));
  // Windows oh with oh*s - pad <= i < oh*s - pad + k, per input row and column, worked out once: the
  // divisions in the element loop cost more than the element's memory traffic.
  auto first = [&](int i) { const int n = i + g.pad - g.k + 1; return n <= 0 ? 0 : (n + g.stride - 1) / g.stride; };
  auto last = [&](int i, int out) { return std::min(out - 1, (i + g.pad) / g.stride); };
  std::vector<int> ow0(g.win), ow1(g.win);
  for (int iw = 0; iw < g.win; ++iw) {
    ow0[iw] = first(iw);
    ow1[iw] = last(iw, g.wout);
  }
  for (int p = p0; p < p1; ++p) {
    const V* gp = reinterpret_cast<const V*>(dy.at(p * dy.plane()));
    V* dp = reinterpret_cast<V*>(dx.at(p * dx.plane()));
    for (int ih = 0; ih < g.hin; ++ih) {
      const int oh0 = first(ih), oh1 = last(ih, g.hout);
      V* d = dp + static_cast<size_t>(ih) * g.win;
      if (oh0 == oh1) {  // one window row (every non-overlapping pool)
        const V* grow = gp + static_cast<size_t>(oh0) * g.wout;
        const T* irow = inv.data() + static_cast<size_t>(oh0) * g.wout;
        for (int iw = 0; iw < g.win; ++iw) {
          V acc{};
          for (int ow = ow0[iw]; ow <= ow1[iw]; ++ow) acc += grow[ow] * irow[ow];
          if (overwrite) d[iw] = acc;
          else d[iw] += acc;
        }
        continue;
      }
      for (int iw = 0; iw < g.win; ++iw) {
        V acc{};
        for (int oh = oh0; oh <= oh1; ++oh)
          for (int ow = ow0[iw]; ow <= ow1[iw]; ++ow) acc += gp[oh * g.wout + ow] * inv[static_cast<size_t>(oh) * g.wout + ow];
        if (overwrite) d[iw] = acc;
        else d[iw] += acc;
      }
    }
  }
}
TEGNAS_SIMD void avgpool_bwd_clone(const Grad<float>& dy, const PoolGeom& g, Grad<float>& dx, bool ow, int p0, int p1) {
  avgpool_bwd(dy, g, dx, ow, p0, p1);
}
TEGNAS_SIMD void avgpool_bwd_clone(const Grad<double>& dy, const PoolGeom& g, Grad<double>& dx, bool ow, int p0, int p1) {
  avgpool_bwd(dy, g, dx, ow, p0, p1);
}

template <typename T>
TEGNAS_INLINE void gap_bwd(const Grad<T>& dy, Grad<T>& dx, bool overwrite) {
  using V = SeedVec<T>;
  const size_t HW = dx.plane();
  const T inv = T(1) / static_cast<T>(HW);
  for (size_t p = 0; p < dy.elements(); ++p) {
    const V v = *reinterpret_cast<const V*>(dy.at(p)) * inv;
    V* dp = reinterpret_cast<V*>(dx.at(p * HW));
    for (size_t i = 0; i < HW; ++i) {
      if (overwrite) dp[i] = v;
      else dp[i] += v;
    }
  }
}
TEGNAS_SIMD void gap_bwd_clone(const Grad<float>& dy, Grad<float>& dx, bool ow) { gap_bwd(dy, dx, ow); }
TEGNAS_SIMD void gap_bwd_clone(const Grad<double>& dy, Grad<double>& dx, bool ow) { gap_bwd(dy, dx, ow); }
}  // namespace

template <typename T>
void avgpool_backward(const Grad<T>& dy, const PoolGeom& g, Grad<T>& dx, bool overwrite) {
  avgpool_bwd_clone(dy, g, dx, overwrite, 0, dy.n * dy.c);
}

template <typename T>
void avgpool_backward_sample(const Grad<T>& dy, const PoolGeom& g, Grad<T>& dx, int n) {
  avgpool_bwd_clone(dy, g, dx, false, n * dy.c, (n + 1) * dy.c);
}

template <typename T>
void maxpool_forward(const Tensor<T>& x, const PoolGeom& g, Tensor<T>& y, std::vector<int32_t>& argmax) {
  y.shape(x.n, x.c, g.hout, g.wout);
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
  y.shape(x.n, x.c, 1, 1);
  const size_t HW = x.plane();
  for (int p = 0; p < x.n * x.c; ++p) {
    const T* xp = x.data() + p * HW;
    T acc = 0;
    for (size_t i = 0; i < HW; ++i) acc += xp[i];
    y.v[p] = acc / static_cast<T>(HW);
  }
}

template <typename T>
void global_avgpool_backward(const Grad<T>& dy, Grad<T>& dx, bool overwrite) {
  gap_bwd_clone(dy, dx, overwrite);
}

#define TEGNAS_POOL(T)                                                                                \
  template void avgpool_forward<T>(const Tensor<T>&, const PoolGeom&, Tensor<T>&);                    \
  template void avgpool_backward<T>(const Grad<T>&, const PoolGeom&, Grad<T>&, bool);                 \
  template void avgpool_backward_sample<T>(const Grad<T>&, const PoolGeom&, Grad<T>&, int);          \
  template void maxpool_forward<T>(const Tensor<T>&, const PoolGeom&, Tensor<T>&, std::vector<int32_t>&); \
  template void maxpool_backward<T>(const Grad<T>&, const std::vector<int32_t>&, Grad<T>&);           \
  template void global_avgpool_forward<T>(const Tensor<T>&, Tensor<T>&);                              \
  template void global_avgpool_backward<T>(const Grad<T>&, Grad<T>&, bool);
TEGNAS_POOL(float)
TEGNAS_POOL(double)
#undef TEGNAS_POOL

}  // namespace tegnas
