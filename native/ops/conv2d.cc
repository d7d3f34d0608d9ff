// conv2d: forward through im2col + GEMM (run once per batch); backward as direct loops over the
// kernel taps with the seeds innermost, so every multiply-add handles kSeeds gradients at once. Per-sample
// gradients spend nearly all their time here.
#include <algorithm>
#include <cstring>
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
using std::size_t;

// Sample n's output gradient as the backward kernels read it: per output channel a plane of kSeeds
// vectors with a zero border wide enough for every kernel tap of the gather form, holding dy or, when a
// BatchNorm backward was folded into this conv, scale * (dy - m - xhat * mx). Built once per sample, it
// stays in L2 while the weight and data gradients read it many times.
template <typename T>
struct DyPlanes {
  int top = 0, left = 0, Hq = 0, Wq = 0;
  size_t plane = 0;
  std::vector<T> store;
  SeedVec<T>* q() { return reinterpret_cast<SeedVec<T>*>(store.data()); }
  // Where output position (0, 0) of channel co lives.
  SeedVec<T>* origin(int co) { return q() + co * plane + static_cast<size_t>(top) * Wq + left; }
};

template <typename T>
void dy_planes_init(const ConvGeom& g, DyPlanes<T>& qp) {
  if (g.sh == 1 && g.sw == 1) {
    // dy row oh = ih + ph - ki*dh: pad so every (ih, ki) lands inside.
    qp.top = std::max(0, (g.kh - 1) * g.dh - g.ph);
    qp.left = std::max(0, (g.kw - 1) * g.dw - g.pw);
    qp.Hq = qp.top + std::max(g.hout, g.hin + g.ph);
    qp.Wq = qp.left + std::max(g.wout, g.win + g.pw);
  } else {
    qp.top = qp.left = 0;
    qp.Hq = g.hout;
    qp.Wq = g.wout;
  }
  qp.plane = static_cast<size_t>(qp.Hq) * qp.Wq;
  qp.store.assign(static_cast<size_t>(g.cout) * qp.plane * kSeeds, T(0));
}

template <typename T>
TEGNAS_INLINE void dy_planes_load(const Grad<T>& dy, int n, const ConvGeom& g, const BnFold<T>* fold, DyPlanes<T>& qp) {
  using V = SeedVec<T>;
  const int hout = g.hout, wout = g.wout, Wq = qp.Wq;
  const size_t HWo = static_cast<size_t>(hout) * wout;
  for (int co = 0; co < g.cout; ++co) {
    const size_t base = (static_cast<size_t>(n) * g.cout + co) * HWo;
    const T* src = dy.at(base);
    T* dst = reinterpret_cast<T*>(qp.origin(co));
    if (!fold) {
      for (int oh = 0; oh < hout; ++oh)
        std::memcpy(dst + static_cast<size_t>(oh) * Wq * kSeeds, src + static_cast<size_t>(oh) * wout * kSeeds,
                    sizeof(T) * kSeeds * wout);
      continue;
    }
    const T sc = fold->scale[co], k = fold->k;
    const V m = *reinterpret_cast<const V*>(fold->m.data() + co * kSeeds);
    const V mx = *reinterpret_cast<const V*>(fold->mx.data() + co * kSeeds);
    const T* xh = fold->xhat + base;
    for (int oh = 0; oh < hout; ++oh) {
      V* __restrict d = reinterpret_cast<V*>(dst + static_cast<size_t>(oh) * Wq * kSeeds);
      const V* __restrict sv = reinterpret_cast<const V*>(src + static_cast<size_t>(oh) * wout * kSeeds);
      const T* __restrict xr = xh + static_cast<size_t>(oh) * wout;
      for (int ow = 0; ow < wout; ++ow) d[ow] = sc * (k * sv[ow] - m - xr[ow] * mx);
    }
  }
}

// tot[s] += v[s] for the kSeeds lanes of v, widened to double with vector instructions: small feature
// maps add a tile's partial sums often, and a scalar loop here cost a quarter of an 8x8 conv's time.
TEGNAS_INLINE void add_to_double(double* tot, const SeedVec<float>& v) {
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9 || defined(__clang__)
  using VD = SeedVec<double>;
  *reinterpret_cast<VD*>(tot) += __builtin_convertvector(v, VD);
#else
  for (int s = 0; s < kSeeds; ++s) tot[s] += v[s];
#endif
}
TEGNAS_INLINE void add_to_double(double* tot, const SeedVec<double>& v) { *reinterpret_cast<SeedVec<double>*>(tot) += v; }

// dW[co][cil][ki][kj] += sum over positions of dy[co][oh][ow] * x[ci][oh*sh + ki*dh][ow*sw + kj*dw] for COB
// output channels at once: each x value is broadcast once for COB gradient vectors, and the COB x KK
// accumulators stay in registers (KC, the square kernel size, is a compile-time constant).
template <typename T, int KC, int COB>
TEGNAS_INLINE void wgrad_tile(const SeedVec<T>* q0, size_t qplane, int Wq, const T* xp, int Wp, const ConvGeom& g,
                              double* tot, size_t tot_co) {
  using V = SeedVec<T>;
  constexpr int KK = KC * KC;
  V acc[COB][KK];
  for (int b = 0; b < COB; ++b)
    for (int t = 0; t < KK; ++t) acc[b][t] = V{};
  for (int oh = 0; oh < g.hout; ++oh) {
    const T* xrow = xp + static_cast<size_t>(oh * g.sh) * Wp;
    const V* qrow = q0 + static_cast<size_t>(oh) * Wq;
    for (int ow = 0; ow < g.wout; ++ow) {
      V dv[COB];
      for (int b = 0; b < COB; ++b) dv[b] = qrow[b * qplane + ow];
      const T* xo = xrow + ow * g.sw;
      for (int ki = 0; ki < KC; ++ki)
        for (int kj = 0; kj < KC; ++kj) {
          const T xv = xo[ki * g.dh * Wp + kj * g.dw];
          for (int b = 0; b < COB; ++b) acc[b][ki * KC + kj] += dv[b] * xv;
        }
    }
  }
  for (int b = 0; b < COB; ++b)
    for (int t = 0; t < KK; ++t) add_to_double(tot + b * tot_co + t * kSeeds, acc[b][t]);
}

// Any kernel shape, one output channel at a time.
template <typename T>
TEGNAS_INLINE void wgrad_tile_any(const SeedVec<T>* q0, int Wq, const T* xp, int Wp, const ConvGeom& g, double* tot,
                                  std::vector<T>& acc_store) {
  using V = SeedVec<T>;
  const int KK = g.kh * g.kw;
  acc_store.assign(static_cast<size_t>(KK) * kSeeds, T(0));
  V* acc = reinterpret_cast<V*>(acc_store.data());
  for (int oh = 0; oh < g.hout; ++oh)
    for (int ow = 0; ow < g.wout; ++ow) {
      const V dv = q0[static_cast<size_t>(oh) * Wq + ow];
      const T* xo = xp + static_cast<size_t>(oh * g.sh) * Wp + ow * g.sw;
      for (int ki = 0; ki < g.kh; ++ki)
        for (int kj = 0; kj < g.kw; ++kj) acc[ki * g.kw + kj] += dv * xo[ki * g.dh * Wp + kj * g.dw];
    }
  for (int t = 0; t < KK; ++t) add_to_double(tot + t * kSeeds, acc[t]);
}

// GCC folds a vector load into every FMA that uses it, so a dy vector shared by CIB channels was loaded
// CIB times and the tile ran at the load ports' speed. An empty asm that takes the value in a register
// forces one load. Only where one register holds the whole vector (16 floats in AVX-512).
template <bool R, typename V>
TEGNAS_INLINE void keep_in_register(V& v) {
#if defined(__GNUC__) && defined(__x86_64__)
  if constexpr (R) asm("" : "+v"(v));
#endif
  (void)v;
}

// dx for CIB input channels of one group at PB consecutive positions of row ih (stride 1, gather form):
// dx[ci][ih][iw] = sum over co, ki, kj of W[co][cil][ki][kj] * dy[co][ih + ph - ki*dh][iw + pw - kj*dw].
// Each dy vector loaded serves CIB channels, each broadcast weight PB positions.
template <typename T, int KC, int CIB, int PB, bool R>
TEGNAS_INLINE void dgrad_tile(const SeedVec<T>* qpos, size_t qplane, int Wq, const T* wc, int cog, int cig,
                              const ConvGeom& g, SeedVec<T> (&out)[CIB][PB]) {
  using V = SeedVec<T>;
  constexpr int KK = KC * KC;
  // Accumulators local and every loop over them unrolled: GCC kept the caller's array on the stack
  // and every FMA went through memory (a load and a store per multiply-add).
  V acc[CIB][PB];
#pragma GCC unroll 16
  for (int c = 0; c < CIB; ++c)
#pragma GCC unroll 16
    for (int p = 0; p < PB; ++p) acc[c][p] = V{};
  const size_t wstep = static_cast<size_t>(cig) * KK;
  const long rstep = static_cast<long>(g.dh) * Wq, cstep = g.dw;
  for (int col = 0; col < cog; ++col) {
    const V* b = qpos + col * qplane;
    const T* w = wc + col * wstep;
#pragma GCC unroll 8
    for (int ki = 0; ki < KC; ++ki)
#pragma GCC unroll 8
      for (int kj = 0; kj < KC; ++kj) {
        const V* src = b - ki * rstep - kj * cstep;
        V qv[PB];
#pragma GCC unroll 16
        for (int p = 0; p < PB; ++p) {
          qv[p] = src[p];
          keep_in_register<R>(qv[p]);
        }
#pragma GCC unroll 16
        for (int c = 0; c < CIB; ++c) {
          const T wv = w[c * KK + ki * KC + kj];
#pragma GCC unroll 16
          for (int p = 0; p < PB; ++p) acc[c][p] += wv * qv[p];
        }
      }
  }
#pragma GCC unroll 16
  for (int c = 0; c < CIB; ++c)
#pragma GCC unroll 16
    for (int p = 0; p < PB; ++p) out[c][p] = acc[c][p];
}

// Writes (or adds) the gathered values, keeping only positions where the forward input was positive
// when the input is a ReLU's output (the fused ReLU backward). Branch-free: a multiply by 0 or 1.
template <typename T>
TEGNAS_INLINE void store_dx(SeedVec<T>* d, const SeedVec<T>& v, const T* mask, bool overwrite) {
  const T keep = (!mask || *mask > T(0)) ? T(1) : T(0);
  if (overwrite) *d = v * keep;
  else *d += v * keep;
}

template <typename T, int KC, int CIB, bool R>
TEGNAS_INLINE void dgrad_rows(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, int gr, int cil0, Grad<T>& dx,
                              const T* relu_out, bool overwrite) {
  using V = SeedVec<T>;
  constexpr int KK = KC * KC, PB = 4;
  const int cig = g.cin_g(), cog = g.cout_g();
  const T* wc = weight + (static_cast<size_t>(gr * cog) * cig + cil0) * KK;
  const V* q = qp.q() + static_cast<size_t>(gr * cog) * qp.plane + static_cast<size_t>(g.ph + qp.top) * qp.Wq + g.pw + qp.left;
  const size_t HW = static_cast<size_t>(g.hin) * g.win;
  for (int ih = 0; ih < g.hin; ++ih) {
    const V* qrow = q + static_cast<size_t>(ih) * qp.Wq;
    int iw = 0;
    for (; iw + PB <= g.win; iw += PB) {
      V acc[CIB][PB];
      dgrad_tile<T, KC, CIB, PB, R>(qrow + iw, qp.plane, qp.Wq, wc, cog, cig, g, acc);
      for (int c = 0; c < CIB; ++c) {
        const size_t e = (static_cast<size_t>(n) * g.cin + gr * cig + cil0 + c) * HW + static_cast<size_t>(ih) * g.win + iw;
        V* d = reinterpret_cast<V*>(dx.at(e));
        for (int p = 0; p < PB; ++p) store_dx(d + p, acc[c][p], relu_out ? relu_out + e + p : nullptr, overwrite);
      }
    }
    for (; iw < g.win; ++iw) {
      V acc[CIB][1];
      dgrad_tile<T, KC, CIB, 1, R>(qrow + iw, qp.plane, qp.Wq, wc, cog, cig, g, acc);
      for (int c = 0; c < CIB; ++c) {
        const size_t e = (static_cast<size_t>(n) * g.cin + gr * cig + cil0 + c) * HW + static_cast<size_t>(ih) * g.win + iw;
        store_dx(reinterpret_cast<V*>(dx.at(e)), acc[c][0], relu_out ? relu_out + e : nullptr, overwrite);
      }
    }
  }
}

// Any kernel shape (stride 1): one input channel and position at a time.
template <typename T>
TEGNAS_INLINE void dgrad_rows_any(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, int ci, Grad<T>& dx,
                                  const T* relu_out, bool overwrite) {
  using V = SeedVec<T>;
  const int cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw, gr = ci / cig, cil = ci % cig;
  const V* q = qp.q() + static_cast<size_t>(gr * cog) * qp.plane + static_cast<size_t>(g.ph + qp.top) * qp.Wq + g.pw + qp.left;
  const size_t HW = static_cast<size_t>(g.hin) * g.win;
  for (int ih = 0; ih < g.hin; ++ih)
    for (int iw = 0; iw < g.win; ++iw) {
      V acc{};
      const V* qpos = q + static_cast<size_t>(ih) * qp.Wq + iw;
      for (int col = 0; col < cog; ++col) {
        const T* w = weight + (static_cast<size_t>(gr * cog + col) * cig + cil) * KK;
        for (int ki = 0; ki < g.kh; ++ki)
          for (int kj = 0; kj < g.kw; ++kj)
            acc += w[ki * g.kw + kj] * qpos[col * qp.plane - static_cast<long>(ki * g.dh) * qp.Wq - kj * g.dw];
      }
      const size_t e = (static_cast<size_t>(n) * g.cin + ci) * HW + static_cast<size_t>(ih) * g.win + iw;
      store_dx(reinterpret_cast<V*>(dx.at(e)), acc, relu_out ? relu_out + e : nullptr, overwrite);
    }
}

// Strided convolutions in gather form: input row ih receives kernel row ki from output row
// oh = (ih + ph - ki*dh) / sh when that division is exact and oh is in range; the (ki, oh) pairs of each row
// and (kj, ow) pairs of each column are listed once, then every dx vector sums its few taps over all
// output channels in registers, CIB input channels at a time.
struct TapList {
  std::vector<int> start;               // per input row (column): first entry
  std::vector<std::pair<int, int>> e;   // (kernel index, output index)
};

inline TapList strided_taps(int in, int pad, int k, int dil, int stride, int out) {
  TapList t;
  t.start.reserve(static_cast<size_t>(in) + 1);
  for (int i = 0; i < in; ++i) {
    t.start.push_back(static_cast<int>(t.e.size()));
    for (int ki = 0; ki < k; ++ki) {
      const int num = i + pad - ki * dil;
      if (num < 0 || num % stride) continue;
      const int o = num / stride;
      if (o < out) t.e.emplace_back(ki, o);
    }
  }
  t.start.push_back(static_cast<int>(t.e.size()));
  return t;
}

// One input position (ih, iw) of CIB channels from its tap lists, bounds already in the lists.
template <typename T, int CIB>
TEGNAS_INLINE void dgrad_strided_one(DyPlanes<T>& qp, const T* wc, const ConvGeom& g, int n, int gr, int cil0, Grad<T>& dx,
                                     const T* relu_out, bool overwrite, const TapList& rows, const TapList& cols, int ih, int iw) {
  using V = SeedVec<T>;
  const int cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw;
  const size_t HW = static_cast<size_t>(g.hin) * g.win, wstep = static_cast<size_t>(cig) * KK;
  V acc[CIB];
  for (int c = 0; c < CIB; ++c) acc[c] = V{};
  for (int col = 0; col < cog; ++col) {
    const V* q = qp.origin(gr * cog + col);
    const T* w = wc + col * wstep;
    for (int r = rows.start[ih]; r < rows.start[ih + 1]; ++r) {
      const int ki = rows.e[r].first;
      const V* qr = q + static_cast<size_t>(rows.e[r].second) * qp.Wq;
      for (int k = cols.start[iw]; k < cols.start[iw + 1]; ++k) {
        const V qv = qr[cols.e[k].second];
        const int t = ki * g.kw + cols.e[k].first;
        for (int c = 0; c < CIB; ++c) acc[c] += w[c * KK + t] * qv;
      }
    }
  }
  for (int c = 0; c < CIB; ++c) {
    const size_t e = (static_cast<size_t>(n) * g.cin + gr * cig + cil0 + c) * HW + static_cast<size_t>(ih) * g.win + iw;
    store_dx(reinterpret_cast<V*>(dx.at(e)), acc[c], relu_out ? relu_out + e : nullptr, overwrite);
  }
}

// Columns iw = px + sw * j of one residue class px read the same kernel columns kj, from output column
// ow = j + shift(kj): away from the edges PB such columns share every weight broadcast.
template <typename T, int CIB, int PB>
TEGNAS_INLINE void dgrad_strided_tile(DyPlanes<T>& qp, const T* wc, const ConvGeom& g, int n, int gr, int cil0, Grad<T>& dx,
                                      const T* relu_out, bool overwrite, const TapList& rows, int ih, int px, int j,
                                      const std::vector<std::pair<int, int>>& ctaps) {
  using V = SeedVec<T>;
  const int cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw;
  const size_t HW = static_cast<size_t>(g.hin) * g.win, wstep = static_cast<size_t>(cig) * KK;
  V acc[CIB][PB];
  for (int c = 0; c < CIB; ++c)
    for (int p = 0; p < PB; ++p) acc[c][p] = V{};
  for (int col = 0; col < cog; ++col) {
    const V* q = qp.origin(gr * cog + col);
    const T* w = wc + col * wstep;
    for (int r = rows.start[ih]; r < rows.start[ih + 1]; ++r) {
      const int ki = rows.e[r].first;
      const V* qr = q + static_cast<size_t>(rows.e[r].second) * qp.Wq + j;
      for (const auto& ct : ctaps) {
        const int t = ki * g.kw + ct.first;
        V qv[PB];
        for (int p = 0; p < PB; ++p) qv[p] = qr[ct.second + p];
        for (int c = 0; c < CIB; ++c) {
          const T wv = w[c * KK + t];
          for (int p = 0; p < PB; ++p) acc[c][p] += wv * qv[p];
        }
      }
    }
  }
  for (int c = 0; c < CIB; ++c)
    for (int p = 0; p < PB; ++p) {
      const int iw = px + g.sw * (j + p);
      const size_t e = (static_cast<size_t>(n) * g.cin + gr * cig + cil0 + c) * HW + static_cast<size_t>(ih) * g.win + iw;
      store_dx(reinterpret_cast<V*>(dx.at(e)), acc[c][p], relu_out ? relu_out + e : nullptr, overwrite);
    }
}

template <typename T, int CIB>
TEGNAS_INLINE void dgrad_strided(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, int gr, int cil0, Grad<T>& dx,
                                 const T* relu_out, bool overwrite, const TapList& rows, const TapList& cols) {
  constexpr int PB = 4;
  const int cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw;
  const T* wc = weight + (static_cast<size_t>(gr * cog) * cig + cil0) * KK;
  std::vector<std::pair<int, int>> ctaps;
  for (int px = 0; px < g.sw && px < g.win; ++px) {
    // Kernel columns of this class and their output-column shift: ow = j + shift.
    ctaps.clear();
    int jlo = 0, jhi = (g.win - px + g.sw - 1) / g.sw;  // class columns j = 0 .. jhi-1
    const int nj = jhi;
    for (int kj = 0; kj < g.kw; ++kj) {
      const int num = px + g.pw - kj * g.dw;  // ow * sw = sw * j + num
      if (((num % g.sw) + g.sw) % g.sw) continue;
      const int shift = num >= 0 ? num / g.sw : -((-num + g.sw - 1) / g.sw);
      ctaps.emplace_back(kj, shift);
      jlo = std::max(jlo, -shift);
      jhi = std::min(jhi, g.wout - shift);
    }
    for (int ih = 0; ih < g.hin; ++ih) {
      int j = 0;
      for (; j < nj; ++j) {
        if (j >= jlo && j + PB <= jhi) {
          dgrad_strided_tile<T, CIB, PB>(qp, wc, g, n, gr, cil0, dx, relu_out, overwrite, rows, ih, px, j, ctaps);
          j += PB - 1;
        } else {
          dgrad_strided_one<T, CIB>(qp, wc, g, n, gr, cil0, dx, relu_out, overwrite, rows, cols, ih, px + g.sw * j);
        }
      }
    }
  }
}

template <typename T, int KC>
TEGNAS_INLINE void wgrad_sample(DyPlanes<T>& qp, const T* xpad, int Hp, int Wp, const ConvGeom& g, double* total,
                                std::vector<T>& acc_any) {
  const int cig = g.cin_g(), cog = g.cout_g();
  const int KK = g.kh * g.kw;
  const size_t tot_co = static_cast<size_t>(cig) * KK * kSeeds;
  // Output channels per tile: enough accumulators to hide the FMA latency without spilling registers.
  constexpr int COB = KC == 1 ? 8 : KC == 3 ? 3 : 1;
  for (int ci = 0; ci < g.cin; ++ci) {
    const int gr = ci / cig, cil = ci % cig;
    const T* xp = xpad + static_cast<size_t>(ci) * Hp * Wp;
    int col = 0;
    auto tot_at = [&](int co) { return total + co * tot_co + static_cast<size_t>(cil) * KK * kSeeds; };
    if (KC > 0) {
      for (; col + COB <= cog; col += COB)
        wgrad_tile<T, KC, COB>(qp.origin(gr * cog + col), qp.plane, qp.Wq, xp, Wp, g, tot_at(gr * cog + col), tot_co);
      for (; col < cog; ++col)
        wgrad_tile<T, KC, 1>(qp.origin(gr * cog + col), qp.plane, qp.Wq, xp, Wp, g, tot_at(gr * cog + col), tot_co);
    } else {
      for (; col < cog; ++col) wgrad_tile_any<T>(qp.origin(gr * cog + col), qp.Wq, xp, Wp, g, tot_at(gr * cog + col), acc_any);
    }
  }
}

template <typename T, int KC, bool R>
TEGNAS_INLINE void dgrad_sample(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, Grad<T>& dx, const T* relu_out,
                                bool overwrite) {
  const int cig = g.cin_g();
  if (g.sh != 1 || g.sw != 1) {
    const TapList rows = strided_taps(g.hin, g.ph, g.kh, g.dh, g.sh, g.hout);
    const TapList cols = strided_taps(g.win, g.pw, g.kw, g.dw, g.sw, g.wout);
    for (int gr = 0; gr < g.groups; ++gr) {
      int cil = 0;
      for (; cil + 3 <= cig; cil += 3) dgrad_strided<T, 3>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite, rows, cols);
      for (; cil < cig; ++cil) dgrad_strided<T, 1>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite, rows, cols);
    }
    return;
  }
  if (KC == 0) {
    for (int ci = 0; ci < g.cin; ++ci) dgrad_rows_any(qp, weight, g, n, ci, dx, relu_out, overwrite);
    return;
  }
  constexpr int KCc = KC > 0 ? KC : 1;
  constexpr int CIB = KC == 1 ? 4 : 3;
  for (int gr = 0; gr < g.groups; ++gr) {
    int cil = 0;
    for (; cil + CIB <= cig; cil += CIB) dgrad_rows<T, KCc, CIB, R>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite);
    for (; cil < cig; ++cil) dgrad_rows<T, KCc, 1, R>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite);
  }
}

// The whole backward of one conv for kSeeds seeds, sample by sample.
template <typename T, int KC, bool R>
TEGNAS_INLINE void conv_backward_impl(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx,
                                      bool dx_overwrite, T* dweight, size_t dw_stride, T* dbias, size_t db_stride,
                                      const T* relu_out, const BnFold<T>* fold) {
  using V = SeedVec<T>;
  const int N = dy.n, cig = g.cin_g(), KK = g.kh * g.kw;
  DyPlanes<T> qp;
  dy_planes_init(g, qp);
  const int Hp = g.hin + 2 * g.ph, Wp = g.win + 2 * g.pw;
  std::vector<T> xpad;
  if (dweight) xpad.assign(static_cast<size_t>(g.cin) * Hp * Wp, T(0));
  // Weight gradients summed over samples in double: a sample's float partial sums stay short.
  std::vector<double> total(dweight ? static_cast<size_t>(g.cout) * cig * KK * kSeeds : 0, 0.0);
  std::vector<double> btotal(dbias ? static_cast<size_t>(g.cout) * kSeeds : 0, 0.0);
  std::vector<T> acc_any;
  for (int n = 0; n < N; ++n) {
    dy_planes_load(dy, n, g, fold, qp);
    if (dweight) {
      for (int ci = 0; ci < g.cin; ++ci) {
        const T* src = x.data() + (static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win;
        T* dst = xpad.data() + static_cast<size_t>(ci) * Hp * Wp + static_cast<size_t>(g.ph) * Wp + g.pw;
        for (int i = 0; i < g.hin; ++i) std::copy(src + static_cast<size_t>(i) * g.win, src + static_cast<size_t>(i + 1) * g.win, dst + static_cast<size_t>(i) * Wp);
      }
      wgrad_sample<T, KC>(qp, xpad.data(), Hp, Wp, g, total.data(), acc_any);
    }
    if (dbias)
      for (int co = 0; co < g.cout; ++co) {
        V a{};
        const V* src = qp.origin(co);
        for (int oh = 0; oh < g.hout; ++oh)
          for (int ow = 0; ow < g.wout; ++ow) a += src[static_cast<size_t>(oh) * qp.Wq + ow];
        for (int s = 0; s < kSeeds; ++s) btotal[co * kSeeds + s] += a[s];
      }
    if (dx) dgrad_sample<T, KC, R>(qp, weight, g, n, *dx, relu_out, dx_overwrite);
  }
  if (dweight) {
    const size_t per = static_cast<size_t>(cig) * KK;
    for (int co = 0; co < g.cout; ++co)
      for (size_t k = 0; k < per; ++k)
        for (int s = 0; s < kSeeds; ++s) dweight[s * dw_stride + co * per + k] += static_cast<T>(total[(co * per + k) * kSeeds + s]);
  }
  if (dbias)
    for (int co = 0; co < g.cout; ++co)
      for (int s = 0; s < kSeeds; ++s) dbias[s * db_stride + co] += static_cast<T>(btotal[co * kSeeds + s]);
}

template <typename T, bool R>
TEGNAS_INLINE void conv_backward_any(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow,
                                     T* dw, size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold) {
  if (g.kh == 1 && g.kw == 1) conv_backward_impl<T, 1, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);
  else if (g.kh == 3 && g.kw == 3) conv_backward_impl<T, 3, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);
  else if (g.kh == 5 && g.kw == 5) conv_backward_impl<T, 5, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);
  else conv_backward_impl<T, 0, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);
}
// One copy per instruction set, picked once at run time: AVX-512 (float: dy vectors pinned in
// registers), AVX2, baseline. Overloads so conv2d_backward<T> picks by type.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(TEGNAS_NO_CLONES)
#define TEGNAS_CONV_ISA(NAME, TARGET, T, R)                                                                               \
  TARGET void NAME(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,   \
                   size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold) {                              \
    conv_backward_any<T, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);                                        \
  }
TEGNAS_CONV_ISA(conv_bwd_avx512, __attribute__((target("avx512f"))), float, true)
TEGNAS_CONV_ISA(conv_bwd_avx2, __attribute__((target("avx2,fma"))), float, false)
TEGNAS_CONV_ISA(conv_bwd_base, , float, false)
TEGNAS_CONV_ISA(conv_bwd_avx512, __attribute__((target("avx512f"))), double, false)
TEGNAS_CONV_ISA(conv_bwd_avx2, __attribute__((target("avx2,fma"))), double, false)
TEGNAS_CONV_ISA(conv_bwd_base, , double, false)
#undef TEGNAS_CONV_ISA
template <typename T>
void conv_backward_clone(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,
                         size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold) {
  using Fn = void (*)(const Tensor<T>&, const T*, const Grad<T>&, const ConvGeom&, Grad<T>*, bool, T*, size_t, T*, size_t,
                      const T*, const BnFold<T>*);
  static const Fn fn = __builtin_cpu_supports("avx512f") ? static_cast<Fn>(conv_bwd_avx512)
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? static_cast<Fn>(conv_bwd_avx2)
                                                                                          : static_cast<Fn>(conv_bwd_base);
  fn(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);
}
#else
template <typename T>
void conv_backward_clone(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,
                         size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold) {
  conv_backward_any<T, false>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold);
}
#endif
}  // namespace

template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool dx_overwrite,
                     T* dweight, size_t dw_stride, T* dbias, size_t db_stride, bool input_is_relu, const BnFold<T>* fold) {
  if (!dx && !dweight && !dbias) return;
  conv_backward_clone(x, weight, dy, g, dx, dx_overwrite, dweight, dw_stride, dbias, db_stride,
                      input_is_relu ? x.data() : nullptr, fold);
}

template void conv2d_forward<float>(const Tensor<float>&, const float*, const float*, const ConvGeom&, Tensor<float>&);
template void conv2d_forward<double>(const Tensor<double>&, const double*, const double*, const ConvGeom&, Tensor<double>&);
template void conv2d_backward<float>(const Tensor<float>&, const float*, const Grad<float>&, const ConvGeom&,
                                     Grad<float>*, bool, float*, size_t, float*, size_t, bool, const BnFold<float>*);
template void conv2d_backward<double>(const Tensor<double>&, const double*, const Grad<double>&, const ConvGeom&,
                                      Grad<double>*, bool, double*, size_t, double*, size_t, bool, const BnFold<double>*);

}  // namespace tegnas
