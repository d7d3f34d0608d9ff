// conv2d: forward as direct loops over phase-split input (run once per batch); backward as direct loops
// over the kernel taps with the seeds innermost, so every multiply-add handles kSeeds gradients at once. Per-sample
// gradients spend nearly all their time here.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops.h"

namespace tegnas {

namespace {
// Forward, direct. Per sample the zero-padded input is split into its sh x sw phases (row r, column c of
// phase (pr, pc) is padded row sh*r + pr, column sw*c + pc), so that for every tap (ki, kj) the outputs
// read one contiguous run of one phase: output (oh, ow), at flat index oh*Wq + ow, reads phase
// (dh*ki % sh, dw*kj % sw) at flat index (oh + dh*ki/sh)*Wq + ow + dw*kj/sw. The outputs are computed over
// the phase width Wq (the extra columns are dropped) in strips of SB vectors for COB output channels,
// the accumulators in registers. im2col + GEMM ran at 1-5% of the CPU's peak on these narrow networks
// (3 to 16 channels: the GEMM's M dimension).
struct PhaseGeom {
  int Hq = 0, Wq = 0;
  size_t L = 0, Lpad = 0, Pq = 0;  // outputs computed, rounded up to whole strips; one phase plane
  // Only the phases some tap reads are stored (at most kh x kw of the sh x sw: a stride far larger
  // than the kernel must not cost sh x sw planes): the row phases and column phases in use, and for
  // each kernel row / column the index of its phase among them.
  std::vector<int> rows, cols, row_of_ki, col_of_kj;
};

inline void used_phases(int k, int dil, int stride, std::vector<int>& used, std::vector<int>& of_tap) {
  for (int t = 0; t < k; ++t) {
    const int ph = (t * dil) % stride;
    const auto it = std::find(used.begin(), used.end(), ph);
    of_tap.push_back(static_cast<int>(it - used.begin()));
    if (it == used.end()) used.push_back(ph);
  }
}
constexpr int kFwdStrip = 4;  // vectors per strip

template <typename T>
PhaseGeom phase_geom(const ConvGeom& g) {
  PhaseGeom p;
  const int Hp = g.hin + 2 * g.ph, Wp = g.win + 2 * g.pw;
  p.Hq = (Hp + g.sh - 1) / g.sh;
  p.Wq = (Wp + g.sw - 1) / g.sw;
  p.L = static_cast<size_t>(g.hout) * p.Wq;
  const size_t strip = static_cast<size_t>(kFwdStrip) * kSeeds;
  p.Lpad = (p.L + strip - 1) / strip * strip;
  const size_t omax = static_cast<size_t>((g.kh - 1) * g.dh / g.sh) * p.Wq + (g.kw - 1) * g.dw / g.sw;
  p.Pq = std::max(static_cast<size_t>(p.Hq) * p.Wq, p.Lpad + omax);
  used_phases(g.kh, g.dh, g.sh, p.rows, p.row_of_ki);
  used_phases(g.kw, g.dw, g.sw, p.cols, p.col_of_kj);
  return p;
}

template <typename T, int COB>
TEGNAS_INLINE void conv_fwd_strips(const T* xq, const PhaseGeom& p, const T* weight, const ConvGeom& g, int gr, int co0, T* yq) {
  using V = SeedVec<T>;
  constexpr int SB = kFwdStrip;
  const int cig = g.cin_g(), KK = g.kh * g.kw;
  for (size_t l0 = 0; l0 < p.Lpad; l0 += static_cast<size_t>(SB) * kSeeds) {
    V acc[COB][SB];
#pragma GCC unroll 16
    for (int b = 0; b < COB; ++b)
#pragma GCC unroll 16
      for (int v = 0; v < SB; ++v) acc[b][v] = V{};
    for (int cil = 0; cil < cig; ++cil) {
      const int ci = gr * cig + cil;
      const T* w = weight + (static_cast<size_t>(co0) * cig + cil) * KK;
      for (int ki = 0; ki < g.kh; ++ki) {
        const int rk = ki * g.dh;
        for (int kj = 0; kj < g.kw; ++kj) {
          const int ck = kj * g.dw;
          const T* src = xq + ((static_cast<size_t>(ci) * p.rows.size() + p.row_of_ki[ki]) * p.cols.size() + p.col_of_kj[kj]) * p.Pq +
                         static_cast<size_t>(rk / g.sh) * p.Wq + ck / g.sw + l0;
          V xv[SB];
#pragma GCC unroll 16
          for (int v = 0; v < SB; ++v) std::memcpy(&xv[v], src + v * kSeeds, sizeof(V));
#pragma GCC unroll 16
          for (int b = 0; b < COB; ++b) {
            const T wv = w[static_cast<size_t>(b) * cig * KK + ki * g.kw + kj];
#pragma GCC unroll 16
            for (int v = 0; v < SB; ++v) acc[b][v] += wv * xv[v];
          }
        }
      }
    }
#pragma GCC unroll 16
    for (int b = 0; b < COB; ++b)
#pragma GCC unroll 16
      for (int v = 0; v < SB; ++v) std::memcpy(yq + b * p.Lpad + l0 + v * kSeeds, &acc[b][v], sizeof(V));
  }
}

template <typename T>
TEGNAS_INLINE void conv_fwd(const Tensor<T>& x, const T* weight, const T* bias, const ConvGeom& g, Tensor<T>& y) {
  constexpr int COB = 4;
  const PhaseGeom p = phase_geom<T>(g);
  const int cog = g.cout_g();
  // Zeroed once: the interior is rewritten for every sample, the padding and the slack stay zero.
  const size_t nr = p.rows.size(), nc = p.cols.size();
  std::vector<T> xq(static_cast<size_t>(g.cin) * nr * nc * p.Pq, T(0));
  std::vector<T> yq(static_cast<size_t>(COB) * p.Lpad);
  const size_t HWi = static_cast<size_t>(g.hin) * g.win, HWo = static_cast<size_t>(g.hout) * g.wout;
  for (int n = 0; n < x.n; ++n) {
    const T* xn = x.data() + n * x.sample();
    for (int ci = 0; ci < g.cin; ++ci)
      for (int ih = 0; ih < g.hin; ++ih) {
        const int hp = ih + g.ph;
        const T* xr = xn + ci * HWi + static_cast<size_t>(ih) * g.win;
        const auto r = std::find(p.rows.begin(), p.rows.end(), hp % g.sh);
        if (r == p.rows.end()) continue;  // a row no tap reads
        for (size_t c = 0; c < nc; ++c) {
          // Input columns iw with (iw + pw) % sw == pc land in phase column (iw + pw) / sw.
          const int pc = p.cols[c];
          T* dst = xq.data() + ((static_cast<size_t>(ci) * nr + (r - p.rows.begin())) * nc + c) * p.Pq + static_cast<size_t>(hp / g.sh) * p.Wq;
          int iw = ((pc - g.pw) % g.sw + g.sw) % g.sw;
          for (; iw < g.win; iw += g.sw) dst[(iw + g.pw) / g.sw] = xr[iw];
        }
      }
    T* yn = y.data() + n * y.sample();
    for (int gr = 0; gr < g.groups; ++gr) {
      int c = 0;
      auto emit = [&](int nb) {
        for (int b = 0; b < nb; ++b) {
          const int co = gr * cog + c + b;
          const T bv = bias ? bias[co] : T(0);
          T* yo = yn + co * HWo;
          const T* src = yq.data() + b * p.Lpad;
          for (int oh = 0; oh < g.hout; ++oh)
            for (int ow = 0; ow < g.wout; ++ow) yo[oh * g.wout + ow] = src[static_cast<size_t>(oh) * p.Wq + ow] + bv;
        }
      };
      for (; c + COB <= cog; c += COB) {
        conv_fwd_strips<T, COB>(xq.data(), p, weight, g, gr, gr * cog + c, yq.data());
        emit(COB);
      }
      // The last 1 to 3 channels in one block too: the stem and the first cells have 3 channels.
      const int rest = cog - c;
      if (rest == 3) conv_fwd_strips<T, 3>(xq.data(), p, weight, g, gr, gr * cog + c, yq.data());
      if (rest == 2) conv_fwd_strips<T, 2>(xq.data(), p, weight, g, gr, gr * cog + c, yq.data());
      if (rest == 1) conv_fwd_strips<T, 1>(xq.data(), p, weight, g, gr, gr * cog + c, yq.data());
      if (rest > 0) emit(rest);
    }
  }
}
TEGNAS_SIMD void conv_fwd_clone(const Tensor<float>& x, const float* w, const float* b, const ConvGeom& g, Tensor<float>& y) {
  conv_fwd(x, w, b, g, y);
}
TEGNAS_SIMD void conv_fwd_clone(const Tensor<double>& x, const double* w, const double* b, const ConvGeom& g, Tensor<double>& y) {
  conv_fwd(x, w, b, g, y);
}
}  // namespace

template <typename T>
void conv2d_forward(const Tensor<T>& x, const T* weight, const T* bias, const ConvGeom& g, Tensor<T>& y) {
  y.reset(x.n, g.cout, g.hout, g.wout);
  conv_fwd_clone(x, weight, bias, g, y);
}

namespace {
using std::size_t;

// Columns per tile of the strided data gradient.
constexpr int kStridedPB = 4;

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
    // Strided gather form (dgrad_strided): row taps come bounded from a TapList, but whole tiles of
    // kStridedPB columns of one residue class read column j + shift(kj) for every j of the class
    // (rounded up to a whole tile): pad left and right so those reads land in zeros.
    int lo = 0, hi = g.wout - 1;
    for (int px = 0; px < g.sw && px < g.win; ++px) {
      const int nj = (g.win - px + g.sw - 1) / g.sw;
      const int njp = (nj + kStridedPB - 1) / kStridedPB * kStridedPB;
      for (int kj = 0; kj < g.kw; ++kj) {
        const int num = px + g.pw - kj * g.dw;
        if (((num % g.sw) + g.sw) % g.sw) continue;
        const int shift = num >= 0 ? num / g.sw : -((-num + g.sw - 1) / g.sw);
        lo = std::min(lo, shift);
        hi = std::max(hi, njp - 1 + shift);
      }
    }
    qp.top = 0;
    qp.left = -lo;
    qp.Hq = g.hout;
    qp.Wq = qp.left + hi + 1;
  }
  qp.plane = static_cast<size_t>(qp.Hq) * qp.Wq;
  qp.store.assign(static_cast<size_t>(g.cout) * qp.plane * kSeeds, T(0));
}

template <typename T>
TEGNAS_INLINE void dy_planes_load(const Grad<T>& dy, int n, const ConvGeom& g, const BnFold<T>* fold, T dy_scale,
                                  DyPlanes<T>& qp) {
  using V = SeedVec<T>;
  const int hout = g.hout, wout = g.wout, Wq = qp.Wq;
  const size_t HWo = static_cast<size_t>(hout) * wout;
  for (int co = 0; co < g.cout; ++co) {
    const size_t base = (static_cast<size_t>(n) * g.cout + co) * HWo;
    const T* src = dy.at(base);
    T* dst = reinterpret_cast<T*>(qp.origin(co));
    if (!fold && dy_scale == T(1)) {
      for (int oh = 0; oh < hout; ++oh)
        std::memcpy(dst + static_cast<size_t>(oh) * Wq * kSeeds, src + static_cast<size_t>(oh) * wout * kSeeds,
                    sizeof(T) * kSeeds * wout);
      continue;
    }
    if (!fold) {  // a gradient shared with an add that reaches this conv k times
      for (int oh = 0; oh < hout; ++oh) {
        V* __restrict d = reinterpret_cast<V*>(dst + static_cast<size_t>(oh) * Wq * kSeeds);
        const V* __restrict sv = reinterpret_cast<const V*>(src + static_cast<size_t>(oh) * wout * kSeeds);
        for (int ow = 0; ow < wout; ++ow) d[ow] = dy_scale * sv[ow];
      }
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

// Columns iw = px + sw * j of one residue class px read the same kernel columns kj, from output column
// ow = j + shift(kj) (the planes are padded for every j of the class), and row ih reads the kernel rows
// and output rows of its TapList entries: PB such columns share every weight broadcast. NR row taps and
// NC column taps fixed at compile time (1 or 2 each for the usual 3x3 stride-2 kernels) unroll the tap
// loops completely; a loop over a run-time count of one or two taps cost half the speed.
template <typename T, int CIB, int PB, int NR, int NC>
TEGNAS_INLINE void dgrad_strided_tile(const SeedVec<T>* q, size_t qplane, const T* wc, int cog, size_t wstep, int KK,
                                      const long (&roff)[NR], const int (&coff)[NC], const int (&tap)[NR][NC],
                                      SeedVec<T> (&out)[CIB][PB]) {
  using V = SeedVec<T>;
  V acc[CIB][PB];
#pragma GCC unroll 16
  for (int c = 0; c < CIB; ++c)
#pragma GCC unroll 16
    for (int p = 0; p < PB; ++p) acc[c][p] = V{};
  for (int col = 0; col < cog; ++col) {
    const V* b = q + col * qplane;
    const T* w = wc + col * wstep;
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
      for (int k = 0; k < NC; ++k) {
        const V* src = b + roff[r] + coff[k];
        V qv[PB];
#pragma GCC unroll 16
        for (int p = 0; p < PB; ++p) qv[p] = src[p];
#pragma GCC unroll 16
        for (int c = 0; c < CIB; ++c) {
          const T wv = w[c * KK + tap[r][k]];
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

// Any number of row and column taps (other strides and kernel sizes), the same tiles.
template <typename T, int CIB, int PB>
TEGNAS_INLINE void dgrad_strided_tile_any(const SeedVec<T>* q, size_t qplane, const T* wc, int cog, size_t wstep, int KK,
                                          const std::vector<long>& roff, const std::vector<int>& coff,
                                          const std::vector<int>& tap, SeedVec<T> (&out)[CIB][PB]) {
  using V = SeedVec<T>;
  const size_t nr = roff.size(), nc = coff.size();
  for (int c = 0; c < CIB; ++c)
    for (int p = 0; p < PB; ++p) out[c][p] = V{};
  for (int col = 0; col < cog; ++col) {
    const V* b = q + col * qplane;
    const T* w = wc + col * wstep;
    for (size_t r = 0; r < nr; ++r)
      for (size_t k = 0; k < nc; ++k) {
        const V* src = b + roff[r] + coff[k];
        for (int c = 0; c < CIB; ++c) {
          const T wv = w[c * KK + tap[r * nc + k]];
          for (int p = 0; p < PB; ++p) out[c][p] += wv * src[p];
        }
      }
  }
}

// Strided convolutions in gather form: input row ih receives kernel row ki from output row
// oh = (ih + ph - ki*dh) / sh when that division is exact and oh is in range; the (ki, oh) pairs of each row
// are listed once per conv.
struct TapList {
  std::vector<int> start;               // per input row: first entry
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

// One row ih of one column class px, for CIB input channels: whole tiles of PB class columns, the last
// one storing only the columns that exist.
template <typename T, int CIB, int NR, int NC>
TEGNAS_INLINE void dgrad_strided_row(DyPlanes<T>& qp, const T* wc, const ConvGeom& g, int n, int gr, int cil0, Grad<T>& dx,
                                     const T* relu_out, bool overwrite, const std::pair<int, int>* rtaps, int nr,
                                     const std::pair<int, int>* ctaps, int nc, int ih, int px) {
  using V = SeedVec<T>;
  constexpr int PB = kStridedPB;
  const int cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw;
  const size_t HW = static_cast<size_t>(g.hin) * g.win, wstep = static_cast<size_t>(cig) * KK;
  const int nj = (g.win - px + g.sw - 1) / g.sw;
  const V* q = qp.origin(gr * cog);
  long roff[NR > 0 ? NR : 1];
  int coff[NC > 0 ? NC : 1], tap[NR > 0 ? NR : 1][NC > 0 ? NC : 1];
  std::vector<long> roff_any;
  std::vector<int> coff_any, tap_any;
  if constexpr (NR > 0 && NC > 0) {
    for (int r = 0; r < NR; ++r) roff[r] = static_cast<long>(rtaps[r].second) * qp.Wq;
    for (int k = 0; k < NC; ++k) coff[k] = ctaps[k].second;
    for (int r = 0; r < NR; ++r)
      for (int k = 0; k < NC; ++k) tap[r][k] = rtaps[r].first * g.kw + ctaps[k].first;
  } else {
    for (int r = 0; r < nr; ++r) roff_any.push_back(static_cast<long>(rtaps[r].second) * qp.Wq);
    for (int k = 0; k < nc; ++k) coff_any.push_back(ctaps[k].second);
    for (int r = 0; r < nr; ++r)
      for (int k = 0; k < nc; ++k) tap_any.push_back(rtaps[r].first * g.kw + ctaps[k].first);
  }
  for (int j = 0; j < nj; j += PB) {
    V acc[CIB][PB];
    if constexpr (NR > 0 && NC > 0)
      dgrad_strided_tile<T, CIB, PB, NR, NC>(q + j, qp.plane, wc, cog, wstep, KK, roff, coff, tap, acc);
    else
      dgrad_strided_tile_any<T, CIB, PB>(q + j, qp.plane, wc, cog, wstep, KK, roff_any, coff_any, tap_any, acc);
    const int np = std::min(PB, nj - j);
    for (int c = 0; c < CIB; ++c)
      for (int p = 0; p < np; ++p) {
        const int iw = px + g.sw * (j + p);
        const size_t e = (static_cast<size_t>(n) * g.cin + gr * cig + cil0 + c) * HW + static_cast<size_t>(ih) * g.win + iw;
        store_dx(reinterpret_cast<V*>(dx.at(e)), acc[c][p], relu_out ? relu_out + e : nullptr, overwrite);
      }
  }
}

template <typename T, int CIB>
TEGNAS_INLINE void dgrad_strided(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, int gr, int cil0, Grad<T>& dx,
                                 const T* relu_out, bool overwrite, const TapList& rows) {
  const int cig = g.cin_g(), cog = g.cout_g(), KK = g.kh * g.kw;
  const T* wc = weight + (static_cast<size_t>(gr * cog) * cig + cil0) * KK;
  std::vector<std::pair<int, int>> ctaps;
  for (int px = 0; px < g.sw && px < g.win; ++px) {
    // Kernel columns of this class and their output-column shift: ow = j + shift.
    ctaps.clear();
    for (int kj = 0; kj < g.kw; ++kj) {
      const int num = px + g.pw - kj * g.dw;  // ow * sw = sw * j + num
      if (((num % g.sw) + g.sw) % g.sw) continue;
      const int shift = num >= 0 ? num / g.sw : -((-num + g.sw - 1) / g.sw);
      ctaps.emplace_back(kj, shift);
    }
    const int nc = static_cast<int>(ctaps.size());
    for (int ih = 0; ih < g.hin; ++ih) {
      const std::pair<int, int>* rt = rows.e.data() + rows.start[ih];
      const int nr = rows.start[ih + 1] - rows.start[ih];
      const auto* ct = ctaps.data();
#define TEGNAS_STRIDED_ROW(NR, NC) \
  dgrad_strided_row<T, CIB, NR, NC>(qp, wc, g, n, gr, cil0, dx, relu_out, overwrite, rt, nr, ct, nc, ih, px)
      if (nr == 1 && nc == 1) TEGNAS_STRIDED_ROW(1, 1);
      else if (nr == 1 && nc == 2) TEGNAS_STRIDED_ROW(1, 2);
      else if (nr == 2 && nc == 1) TEGNAS_STRIDED_ROW(2, 1);
      else if (nr == 2 && nc == 2) TEGNAS_STRIDED_ROW(2, 2);
      else TEGNAS_STRIDED_ROW(0, 0);
#undef TEGNAS_STRIDED_ROW
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
                                bool overwrite, const TapList* rows) {
  const int cig = g.cin_g();
  if (g.sh != 1 || g.sw != 1) {
    for (int gr = 0; gr < g.groups; ++gr) {
      int cil = 0;
      for (; cil + 3 <= cig; cil += 3) dgrad_strided<T, 3>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite, *rows);
      for (; cil < cig; ++cil) dgrad_strided<T, 1>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite, *rows);
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
                                      const T* relu_out, const BnFold<T>* fold, T dys) {
  using V = SeedVec<T>;
  const int N = dy.n, cig = g.cin_g(), KK = g.kh * g.kw;
  DyPlanes<T> qp;
  dy_planes_init(g, qp);
  const bool strided = g.sh != 1 || g.sw != 1;
  const TapList rows = strided && dx ? strided_taps(g.hin, g.ph, g.kh, g.dh, g.sh, g.hout) : TapList();
  const int Hp = g.hin + 2 * g.ph, Wp = g.win + 2 * g.pw;
  std::vector<T> xpad;
  if (dweight) xpad.assign(static_cast<size_t>(g.cin) * Hp * Wp, T(0));
  // Weight gradients summed over samples in double: a sample's float partial sums stay short.
  std::vector<double> total(dweight ? static_cast<size_t>(g.cout) * cig * KK * kSeeds : 0, 0.0);
  std::vector<double> btotal(dbias ? static_cast<size_t>(g.cout) * kSeeds : 0, 0.0);
  std::vector<T> acc_any;
  for (int n = 0; n < N; ++n) {
    dy_planes_load(dy, n, g, fold, dys, qp);
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
    if (dx) dgrad_sample<T, KC, R>(qp, weight, g, n, *dx, relu_out, dx_overwrite, strided ? &rows : nullptr);
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
                                     T* dw, size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold, T dys) {
  if (g.kh == 1 && g.kw == 1) conv_backward_impl<T, 1, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);
  else if (g.kh == 3 && g.kw == 3) conv_backward_impl<T, 3, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);
  else if (g.kh == 5 && g.kw == 5) conv_backward_impl<T, 5, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);
  else conv_backward_impl<T, 0, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);
}
// One copy per instruction set, picked once at run time: AVX-512 (float: dy vectors pinned in
// registers), AVX2, baseline. Overloads so conv2d_backward<T> picks by type.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(TEGNAS_NO_CLONES)
#define TEGNAS_CONV_ISA(NAME, TARGET, T, R)                                                                               \
  TARGET void NAME(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,   \
                   size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold, T dys) {                              \
    conv_backward_any<T, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);                                        \
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
                         size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold, T dys) {
  using Fn = void (*)(const Tensor<T>&, const T*, const Grad<T>&, const ConvGeom&, Grad<T>*, bool, T*, size_t, T*, size_t,
                      const T*, const BnFold<T>*, T);
  static const Fn fn = __builtin_cpu_supports("avx512f") ? static_cast<Fn>(conv_bwd_avx512)
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? static_cast<Fn>(conv_bwd_avx2)
                                                                                          : static_cast<Fn>(conv_bwd_base);
  fn(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);
}
#else
template <typename T>
void conv_backward_clone(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,
                         size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold, T dys) {
  conv_backward_any<T, false>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys);
}
#endif
}  // namespace

template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool dx_overwrite,
                     T* dweight, size_t dw_stride, T* dbias, size_t db_stride, bool input_is_relu, const BnFold<T>* fold,
                     T dy_scale) {
  if (!dx && !dweight && !dbias) return;
  if (fold && dy_scale != T(1)) throw EngineError("internal: conv2d_backward takes a dy scale or a BatchNorm fold, not both");
  conv_backward_clone(x, weight, dy, g, dx, dx_overwrite, dweight, dw_stride, dbias, db_stride,
                      input_is_relu ? x.data() : nullptr, fold, dy_scale);
}

template void conv2d_forward<float>(const Tensor<float>&, const float*, const float*, const ConvGeom&, Tensor<float>&);
template void conv2d_forward<double>(const Tensor<double>&, const double*, const double*, const ConvGeom&, Tensor<double>&);
template void conv2d_backward<float>(const Tensor<float>&, const float*, const Grad<float>&, const ConvGeom&,
                                     Grad<float>*, bool, float*, size_t, float*, size_t, bool, const BnFold<float>*, float);
template void conv2d_backward<double>(const Tensor<double>&, const double*, const Grad<double>&, const ConvGeom&,
                                      Grad<double>*, bool, double*, size_t, double*, size_t, bool, const BnFold<double>*, double);

}  // namespace tegnas
