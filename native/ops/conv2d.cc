// conv2d forward and backward through im2col + GEMM. The column matrix of a sample is built once and
// reused for every seed of a batched backward, which is where per-sample gradients spend their time.
#include <algorithm>
#include <vector>

#include "../linalg/gemm.h"
#include "ops.h"

namespace tegnas {

namespace {
// col (cin_g*kh*kw, hout*wout) for one sample and one group.
template <typename T>
void im2col(const T* x, const ConvGeom& g, int group, T* col) {
  const int cig = g.cin_g();
  const size_t hw = static_cast<size_t>(g.hout) * g.wout;
  for (int ci = 0; ci < cig; ++ci) {
    const T* xc = x + static_cast<size_t>(group * cig + ci) * g.hin * g.win;
    for (int ki = 0; ki < g.kh; ++ki)
      for (int kj = 0; kj < g.kw; ++kj) {
        T* row = col + (static_cast<size_t>(ci * g.kh + ki) * g.kw + kj) * hw;
        for (int oh = 0; oh < g.hout; ++oh) {
          const int ih = oh * g.sh - g.ph + ki * g.dh;
          T* r = row + static_cast<size_t>(oh) * g.wout;
          if (ih < 0 || ih >= g.hin) {
            std::fill(r, r + g.wout, T(0));
            continue;
          }
          const T* xr = xc + static_cast<size_t>(ih) * g.win;
          for (int ow = 0; ow < g.wout; ++ow) {
            const int iw = ow * g.sw - g.pw + kj * g.dw;
            r[ow] = (iw >= 0 && iw < g.win) ? xr[iw] : T(0);
          }
        }
      }
  }
}

template <typename T>
void col2im_add(const T* col, const ConvGeom& g, int group, T* dx) {
  const int cig = g.cin_g();
  const size_t hw = static_cast<size_t>(g.hout) * g.wout;
  for (int ci = 0; ci < cig; ++ci) {
    T* xc = dx + static_cast<size_t>(group * cig + ci) * g.hin * g.win;
    for (int ki = 0; ki < g.kh; ++ki)
      for (int kj = 0; kj < g.kw; ++kj) {
        const T* row = col + (static_cast<size_t>(ci * g.kh + ki) * g.kw + kj) * hw;
        for (int oh = 0; oh < g.hout; ++oh) {
          const int ih = oh * g.sh - g.ph + ki * g.dh;
          if (ih < 0 || ih >= g.hin) continue;
          const T* r = row + static_cast<size_t>(oh) * g.wout;
          T* xr = xc + static_cast<size_t>(ih) * g.win;
          for (int ow = 0; ow < g.wout; ++ow) {
            const int iw = ow * g.sw - g.pw + kj * g.dw;
            if (iw >= 0 && iw < g.win) xr[iw] += r[ow];
          }
        }
      }
  }
}

// A 1x1, stride 1, unpadded convolution reads its input as the column matrix directly.
bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}
}  // namespace

template <typename T>
void conv2d_forward(const Tensor<T>& x, const T* weight, const T* bias, const ConvGeom& g, Tensor<T>& y) {
  const int N = x.n;
  y.reset(N, g.cout, g.hout, g.wout);
  const int K = g.kdim(), cog = g.cout_g();
  const int HW = g.hout * g.wout;
  const bool direct = is_pointwise(g);
  std::vector<T> col(direct ? 0 : static_cast<size_t>(K) * HW);
  for (int n = 0; n < N; ++n) {
    const T* xn = x.data() + n * x.sample();
    T* yn = y.data() + n * y.sample();
    for (int gr = 0; gr < g.groups; ++gr) {
      const T* B = direct ? xn + static_cast<size_t>(gr) * g.cin_g() * HW : col.data();
      if (!direct) im2col(xn, g, gr, col.data());
      gemm<T>(false, false, cog, HW, K, weight + static_cast<size_t>(gr) * cog * K, K, B, HW,
              yn + static_cast<size_t>(gr) * cog * HW, HW, false);
    }
    if (bias)
      for (int co = 0; co < g.cout; ++co) {
        T* p = yn + static_cast<size_t>(co) * HW;
        for (int i = 0; i < HW; ++i) p[i] += bias[co];
      }
  }
}

template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Tensor<T>& dy, const ConvGeom& g, int S,
                     Tensor<T>* dx, T* dweight, size_t dw_stride, T* dbias, size_t db_stride) {
  const int N = x.n;
  const int K = g.kdim(), cog = g.cout_g();
  const int HW = g.hout * g.wout;
  const bool direct = is_pointwise(g);
  std::vector<T> col(direct ? 0 : static_cast<size_t>(K) * HW);
  std::vector<T> dcol(dx && !direct ? static_cast<size_t>(K) * HW : 0);
  for (int n = 0; n < N; ++n) {
    const T* xn = x.data() + n * x.sample();
    for (int gr = 0; gr < g.groups; ++gr) {
      const T* colp = direct ? xn + static_cast<size_t>(gr) * g.cin_g() * HW : col.data();
      if (!direct && dweight) im2col(xn, g, gr, col.data());
      const T* Wg = weight + static_cast<size_t>(gr) * cog * K;
      for (int s = 0; s < S; ++s) {
        const T* dyn = dy.data() + (static_cast<size_t>(s) * N + n) * dy.sample() + static_cast<size_t>(gr) * cog * HW;
        if (dweight)
          gemm<T>(false, true, cog, K, HW, dyn, HW, colp, HW, dweight + s * dw_stride + static_cast<size_t>(gr) * cog * K,
                  K, true);
        if (dx) {
          T* dxn = dx->data() + (static_cast<size_t>(s) * N + n) * dx->sample();
          if (direct) {
            gemm<T>(true, false, K, HW, cog, Wg, K, dyn, HW, dxn + static_cast<size_t>(gr) * K * HW, HW, true);
          } else {
            gemm<T>(true, false, K, HW, cog, Wg, K, dyn, HW, dcol.data(), HW, false);
            col2im_add(dcol.data(), g, gr, dxn);
          }
        }
      }
    }
  }
  if (dbias)
    for (int s = 0; s < S; ++s)
      for (int n = 0; n < N; ++n)
        for (int co = 0; co < g.cout; ++co) {
          const T* p = dy.data() + (static_cast<size_t>(s) * N + n) * dy.sample() + static_cast<size_t>(co) * HW;
          T acc = 0;
          for (int i = 0; i < HW; ++i) acc += p[i];
          dbias[s * db_stride + co] += acc;
        }
}

template void conv2d_forward<float>(const Tensor<float>&, const float*, const float*, const ConvGeom&, Tensor<float>&);
template void conv2d_forward<double>(const Tensor<double>&, const double*, const double*, const ConvGeom&, Tensor<double>&);
template void conv2d_backward<float>(const Tensor<float>&, const float*, const Tensor<float>&, const ConvGeom&, int,
                                     Tensor<float>*, float*, size_t, float*, size_t);
template void conv2d_backward<double>(const Tensor<double>&, const double*, const Tensor<double>&, const ConvGeom&, int,
                                      Tensor<double>*, double*, size_t, double*, size_t);

}  // namespace tegnas
