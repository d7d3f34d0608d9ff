// conv2d: forward through im2col + GEMM (run once per batch); backward as direct loops over the
// kernel taps with the seeds innermost, so every multiply-add handles kSeeds gradients at once. Per-sample
// gradients spend nearly all their time here.
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

namespace {
// Copies channel ci of sample n into a zero-padded plane so that every kernel tap reads in bounds.
template <typename T>
void pad_plane(const T* src, int h, int w, int ph, int pw, std::vector<T>& out) {
  const int Wp = w + 2 * pw;
  out.assign(static_cast<size_t>(h + 2 * ph) * Wp, T(0));
  for (int i = 0; i < h; ++i) std::copy(src + static_cast<size_t>(i) * w, src + static_cast<size_t>(i + 1) * w, out.data() + static_cast<size_t>(i + ph) * Wp + pw);
}

// dW[s][co][cil][ki][kj] += sum over n, oh, ow of dy[n][co][oh][ow][s] * x[n][ci][ih][iw]: each dy vector
// is loaded once and multiplied into one accumulator per kernel tap.
// KC > 0 fixes the (square) kernel size at compile time so the tap loops unroll; 0 reads it from g.
template <typename T, int KC>
TEGNAS_INLINE void conv_weight_grad(const Tensor<T>& x, const Grad<T>& dy, const ConvGeom& g, T* dweight,
                                    size_t stride) {
  using V = SeedVec<T>;
  const int kh = KC ? KC : g.kh, kw = KC ? KC : g.kw;
  const int N = x.n, cig = g.cin_g(), cog = g.cout_g(), KK = kh * kw;
  const int Wp = g.win + 2 * g.pw;
  std::vector<double> total(static_cast<size_t>(g.cout) * cig * KK * kSeeds, 0.0);
  std::vector<T> xp;
  // Accumulators in registers when the kernel size is known at compile time.
  constexpr int KA = KC ? KC * KC : 1;
  V acc_local[KA];
  std::vector<T> acc_store(KC ? 0 : static_cast<size_t>(KK) * kSeeds);
  V* acc = KC ? acc_local : reinterpret_cast<V*>(acc_store.data());
  for (int n = 0; n < N; ++n)
    for (int ci = 0; ci < g.cin; ++ci) {
      const int gr = ci / cig, cil = ci % cig;
      const T* xsrc = x.data() + (static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win;
      // Unpadded convolutions (1x1) read the input in place.
      const T* xplane = xsrc;
      if (g.ph || g.pw) {
        pad_plane(xsrc, g.hin, g.win, g.ph, g.pw, xp);
        xplane = xp.data();
      }
      for (int col = 0; col < cog; ++col) {
        const int co = gr * cog + col;
        for (int t = 0; t < KK; ++t) acc[t] = V{};
        const T* dyp = dy.at((static_cast<size_t>(n) * g.cout + co) * g.hout * g.wout);
        for (int oh = 0; oh < g.hout; ++oh) {
          const T* xrow = xplane + static_cast<size_t>(oh * g.sh) * Wp;
          int ow = 0;
          if (KC == 1) {
            // One tap: four partial sums over consecutive columns hide the FMA latency.
            V p1{}, p2{}, p3{};
            for (; ow + 4 <= g.wout; ow += 4) {
              const T* dv0 = dyp + (static_cast<size_t>(oh) * g.wout + ow) * kSeeds;
              const T* xo = xrow + ow * g.sw;
              acc[0] += *reinterpret_cast<const V*>(dv0) * xo[0];
              p1 += *reinterpret_cast<const V*>(dv0 + kSeeds) * xo[g.sw];
              p2 += *reinterpret_cast<const V*>(dv0 + 2 * kSeeds) * xo[2 * g.sw];
              p3 += *reinterpret_cast<const V*>(dv0 + 3 * kSeeds) * xo[3 * g.sw];
            }
            acc[0] += (p1 + p2) + p3;
          }
          for (; ow < g.wout; ++ow) {
            const V dv = *reinterpret_cast<const V*>(dyp + (static_cast<size_t>(oh) * g.wout + ow) * kSeeds);
            const T* xo = xrow + ow * g.sw;
            for (int ki = 0; ki < kh; ++ki)
              for (int kj = 0; kj < kw; ++kj) acc[ki * kw + kj] += dv * xo[ki * g.dh * Wp + kj * g.dw];
          }
        }
        double* tot = total.data() + ((static_cast<size_t>(co) * cig + cil) * KK) * kSeeds;
        for (int t = 0; t < KK; ++t)
          for (int s = 0; s < kSeeds; ++s) tot[t * kSeeds + s] += acc[t][s];
      }
    }
  const size_t per = static_cast<size_t>(cig) * KK;
  for (int co = 0; co < g.cout; ++co)
    for (size_t k = 0; k < per; ++k)
      for (int s = 0; s < kSeeds; ++s)
        dweight[s * stride + co * per + k] += static_cast<T>(total[(co * per + k) * kSeeds + s]);
}

// dx[n][ci][ih][iw][s] += W[co][cil][ki][kj] * dy[n][co][oh][ow][s] (the transposed convolution), scattered
// into a zero-padded plane per (n, ci) and added back without the padding (and, given `relu_out`, only
// where the forward input was positive).
template <typename T>
TEGNAS_INLINE void conv_data_grad(const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>& dx, const T* relu_out) {
  using V = SeedVec<T>;
  const int N = dy.n, cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw;
  const int Hp = g.hin + 2 * g.ph, Wp = g.win + 2 * g.pw;
  // Rows past Hp / columns past Wp can be touched by taps of windows that run off the padded input.
  const int Hb = std::max(Hp, (g.hout - 1) * g.sh + (g.kh - 1) * g.dh + 1);
  const int Wb = std::max(Wp, (g.wout - 1) * g.sw + (g.kw - 1) * g.dw + 1);
  std::vector<T> buf_store(static_cast<size_t>(Hb) * Wb * kSeeds);
  V* buf = reinterpret_cast<V*>(buf_store.data());
  std::vector<T> w(KK);
  for (int n = 0; n < N; ++n)
    for (int ci = 0; ci < g.cin; ++ci) {
      const int gr = ci / cig, cil = ci % cig;
      std::fill(buf_store.begin(), buf_store.end(), T(0));
      for (int col = 0; col < cog; ++col) {
        const int co = gr * cog + col;
        bool any = false;
        for (int t = 0; t < KK; ++t) {
          w[t] = weight[(static_cast<size_t>(co) * cig + cil) * KK + t];
          any = any || w[t] != T(0);
        }
        if (!any) continue;
        const T* dyp = dy.at((static_cast<size_t>(n) * g.cout + co) * g.hout * g.wout);
        for (int oh = 0; oh < g.hout; ++oh)
          for (int ow = 0; ow < g.wout; ++ow) {
            const V dv = *reinterpret_cast<const V*>(dyp + (static_cast<size_t>(oh) * g.wout + ow) * kSeeds);
            V* o = buf + static_cast<size_t>(oh * g.sh) * Wb + ow * g.sw;
            for (int ki = 0; ki < g.kh; ++ki)
              for (int kj = 0; kj < g.kw; ++kj) o[ki * g.dh * Wb + kj * g.dw] += w[ki * g.kw + kj] * dv;
          }
      }
      T* dxp = dx.at((static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win);
      const T* mask = relu_out ? relu_out + (static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win : nullptr;
      for (int ih = 0; ih < g.hin; ++ih)
        for (int iw = 0; iw < g.win; ++iw) {
          if (mask && !(mask[static_cast<size_t>(ih) * g.win + iw] > T(0))) continue;
          V* d = reinterpret_cast<V*>(dxp + (static_cast<size_t>(ih) * g.win + iw) * kSeeds);
          *d += buf[static_cast<size_t>(ih + g.ph) * Wb + iw + g.pw];
        }
    }
}

// Stride-1 transposed convolution in gather form: each dx vector sums its taps from a zero-padded copy
// of dy and is stored once. Where `relu_out` (the forward input, when it is a ReLU's output) is 0, the
// ReLU backward will discard dx, so those positions are skipped.
template <typename T, int KC>
TEGNAS_INLINE void conv_data_grad_gather(const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>& dx,
                                         const T* relu_out) {
  using V = SeedVec<T>;
  const int kh = KC ? KC : g.kh, kw = KC ? KC : g.kw;
  const int N = dy.n, cig = g.cin_g(), cog = g.cout_g(), KK = kh * kw;
  // dy row oh = ih + ph - ki*dh; pad so every (ih, ki) lands inside.
  const int top = std::max(0, (g.kh - 1) * g.dh - g.ph), left = std::max(0, (g.kw - 1) * g.dw - g.pw);
  const int Hq = top + std::max(g.hout, g.hin + g.ph), Wq = left + std::max(g.wout, g.win + g.pw);
  // Without padding (1x1 convolutions) dy itself is the gathered plane; otherwise a zero-bordered copy.
  const bool direct = top == 0 && left == 0 && Hq == g.hout && Wq == g.wout;
  std::vector<T> q_store(direct ? 0 : static_cast<size_t>(g.cout) * Hq * Wq * kSeeds);
  V* q = reinterpret_cast<V*>(q_store.data());
  const size_t qplane = static_cast<size_t>(Hq) * Wq;
  // The border stays zero; every sample overwrites the interior.
  for (int n = 0; n < N; ++n) {
    if (direct) q = reinterpret_cast<V*>(const_cast<T*>(dy.at(static_cast<size_t>(n) * g.cout * g.hout * g.wout)));
    for (int co = 0; co < g.cout && !direct; ++co) {
      const T* src = dy.at((static_cast<size_t>(n) * g.cout + co) * g.hout * g.wout);
      for (int oh = 0; oh < g.hout; ++oh)
        std::copy(src + static_cast<size_t>(oh) * g.wout * kSeeds, src + static_cast<size_t>(oh + 1) * g.wout * kSeeds,
                  reinterpret_cast<T*>(q + co * qplane + static_cast<size_t>(oh + top) * Wq + left));
    }
    for (int ci = 0; ci < g.cin; ++ci) {
      const int gr = ci / cig, cil = ci % cig;
      T* dxp = dx.at((static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win);
      const T* mask = relu_out ? relu_out + (static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win : nullptr;
      // tap (ki, kj) of output channel co reads q[co][ih + ph - ki*dh + top][iw + pw - kj*dw + left]
      const size_t origin = static_cast<size_t>(g.ph + top) * Wq + g.pw + left;
      for (int ih = 0; ih < g.hin; ++ih)
        for (int iw = 0; iw < g.win; ++iw) {
          if (mask && !(mask[static_cast<size_t>(ih) * g.win + iw] > T(0))) continue;
          V* d = reinterpret_cast<V*>(dxp + (static_cast<size_t>(ih) * g.win + iw) * kSeeds);
          // Independent partial sums (two output channels at a time, one per kernel row) hide the FMA
          // latency; their indices are compile-time constants so they live in registers.
          constexpr int R = KC ? KC : 1;
          V a0[R], a1[R];
          for (int r = 0; r < R; ++r) a0[r] = a1[r] = V{};
          const V* qpos = q + origin + static_cast<size_t>(ih) * Wq + iw;
          const T* wc = weight + (static_cast<size_t>(gr * cog) * cig + cil) * KK;
          const size_t wstep = static_cast<size_t>(cig) * KK;
          int col = 0;
          for (; col + 2 <= cog; col += 2) {
            const T* w0 = wc + col * wstep;
            const T* w1 = w0 + wstep;
            const V* b0 = qpos + static_cast<size_t>(gr * cog + col) * qplane;
            const V* b1 = b0 + qplane;
            for (int ki = 0; ki < kh; ++ki)
              for (int kj = 0; kj < kw; ++kj) {
                const long off = -static_cast<long>(ki * g.dh) * Wq - kj * g.dw;
                a0[KC ? ki : 0] += w0[ki * kw + kj] * b0[off];
                a1[KC ? ki : 0] += w1[ki * kw + kj] * b1[off];
              }
          }
          if (col < cog) {
            const T* w0 = wc + col * wstep;
            const V* b0 = qpos + static_cast<size_t>(gr * cog + col) * qplane;
            for (int ki = 0; ki < kh; ++ki)
              for (int kj = 0; kj < kw; ++kj) a0[KC ? ki : 0] += w0[ki * kw + kj] * b0[-static_cast<long>(ki * g.dh) * Wq - kj * g.dw];
          }
          V total = *d;
          for (int r = 0; r < R; ++r) total += a0[r] + a1[r];
          *d = total;
        }
    }
  }
}

template <typename T>
TEGNAS_INLINE void conv_weight_grad_any(const Tensor<T>& x, const Grad<T>& dy, const ConvGeom& g, T* dw, size_t st) {
  if (g.kh == 1 && g.kw == 1) conv_weight_grad<T, 1>(x, dy, g, dw, st);
  else if (g.kh == 3 && g.kw == 3) conv_weight_grad<T, 3>(x, dy, g, dw, st);
  else if (g.kh == 5 && g.kw == 5) conv_weight_grad<T, 5>(x, dy, g, dw, st);
  else conv_weight_grad<T, 0>(x, dy, g, dw, st);
}
template <typename T>
TEGNAS_INLINE void conv_data_grad_any(const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>& dx, const T* m) {
  if (g.sh != 1 || g.sw != 1) conv_data_grad(w, dy, g, dx, m);
  else if (g.kh == 1 && g.kw == 1) conv_data_grad_gather<T, 1>(w, dy, g, dx, m);
  else if (g.kh == 3 && g.kw == 3) conv_data_grad_gather<T, 3>(w, dy, g, dx, m);
  else if (g.kh == 5 && g.kw == 5) conv_data_grad_gather<T, 5>(w, dy, g, dx, m);
  else conv_data_grad_gather<T, 0>(w, dy, g, dx, m);
}
// One clone set per precision; overloads so conv2d_backward<T> picks by type.
TEGNAS_SIMD void weight_grad(const Tensor<float>& x, const Grad<float>& dy, const ConvGeom& g, float* dw, size_t st) {
  conv_weight_grad_any(x, dy, g, dw, st);
}
TEGNAS_SIMD void weight_grad(const Tensor<double>& x, const Grad<double>& dy, const ConvGeom& g, double* dw, size_t st) {
  conv_weight_grad_any(x, dy, g, dw, st);
}
TEGNAS_SIMD void data_grad(const float* w, const Grad<float>& dy, const ConvGeom& g, Grad<float>& dx, const float* m) {
  conv_data_grad_any(w, dy, g, dx, m);
}
TEGNAS_SIMD void data_grad(const double* w, const Grad<double>& dy, const ConvGeom& g, Grad<double>& dx, const double* m) {
  conv_data_grad_any(w, dy, g, dx, m);
}
}  // namespace

template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx,
                     T* dweight, size_t dw_stride, T* dbias, size_t db_stride, bool input_is_relu) {
  if (dweight) weight_grad(x, dy, g, dweight, dw_stride);
  if (dx) data_grad(weight, dy, g, *dx, input_is_relu ? x.data() : nullptr);
  if (dbias) {
    const size_t HW = static_cast<size_t>(g.hout) * g.wout;
    for (int co = 0; co < g.cout; ++co) {
      double acc[kSeeds] = {};
      for (int n = 0; n < dy.n; ++n) {
        const T* p = dy.at((static_cast<size_t>(n) * g.cout + co) * HW);
        for (size_t i = 0; i < HW; ++i)
          for (int s = 0; s < kSeeds; ++s) acc[s] += p[i * kSeeds + s];
      }
      for (int s = 0; s < kSeeds; ++s) dbias[s * db_stride + co] += static_cast<T>(acc[s]);
    }
  }
}

template void conv2d_forward<float>(const Tensor<float>&, const float*, const float*, const ConvGeom&, Tensor<float>&);
template void conv2d_forward<double>(const Tensor<double>&, const double*, const double*, const ConvGeom&, Tensor<double>&);
template void conv2d_backward<float>(const Tensor<float>&, const float*, const Grad<float>&, const ConvGeom&,
                                     Grad<float>*, float*, size_t, float*, size_t, bool);
template void conv2d_backward<double>(const Tensor<double>&, const double*, const Grad<double>&, const ConvGeom&,
                                      Grad<double>*, double*, size_t, double*, size_t, bool);

}  // namespace tegnas
