// conv2d backward kernels: direct loops over the kernel taps with the seeds innermost, so every
// multiply-add handles kSeeds gradients at once. Per-sample gradients spend nearly all their time here.
// Templates only, compiled once per instruction set by conv2d_backward_{avx512,avx2,base}.cc: one
// translation unit held all three and took eight minutes to compile; apart, they build in parallel.
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops.h"

namespace tegnas {

// The backward of one conv for kSeeds seeds, one function per instruction set (defined in the three
// translation units; overloads so conv2d_backward<T> picks by type).
#define TEGNAS_CONV_BWD_DECL(NAME, T)                                                                                   \
  void NAME(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,        \
            std::size_t dws, T* db, std::size_t dbs, const T* relu, const BnFold<T>* fold, T dys, const DxEpilogue<T>* pa);
TEGNAS_CONV_BWD_DECL(conv_bwd_avx512, float)
TEGNAS_CONV_BWD_DECL(conv_bwd_avx2, float)
TEGNAS_CONV_BWD_DECL(conv_bwd_base, float)
TEGNAS_CONV_BWD_DECL(conv_bwd_avx512, double)
TEGNAS_CONV_BWD_DECL(conv_bwd_avx2, double)
TEGNAS_CONV_BWD_DECL(conv_bwd_base, double)
#undef TEGNAS_CONV_BWD_DECL

// Whether the AVX-512 and AVX2 copies exist (GCC's target attributes on x86-64 Linux); otherwise only
// conv_bwd_base is built, with the compiler's default flags.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(TEGNAS_NO_CLONES)
#define TEGNAS_CONV_ISA_COPIES 1
#else
#define TEGNAS_CONV_ISA_COPIES 0
#endif

// Internal linkage: each translation unit inlines its own copies for its instruction set.
namespace {
using std::size_t;

// Columns per tile of the strided data gradient.
constexpr int kStridedPB = 4;
// Weight-gradient positions summed in T before they are widened to double (a 16x16 plane; larger planes
// are widened after each sample).
constexpr size_t kStagePositions = 256;

// Sample n's output gradient as the backward kernels read it: per output channel a plane of kSeeds
// vectors with a zero border wide enough for every kernel tap of the gather form, holding dy or, when a
// BatchNorm backward was folded into this conv, scale * (dy - m - xhat * mx). Built once per sample, it
// stays in L2 while the weight and data gradients read it many times.
template <typename T>
struct DyPlanes {
  int top = 0, left = 0, Hq = 0, Wq = 0;
  size_t plane = 0;
  std::vector<T, UninitAlloc<T>> store;
  // Sample n's own dy when it needs no border and no BatchNorm term (see dy_planes_borrow): read in place.
  const T* borrowed = nullptr;
  SeedVec<T>* q() { return reinterpret_cast<SeedVec<T>*>(borrowed ? const_cast<T*>(borrowed) : store.data()); }
  // Where output position (0, 0) of channel co lives.
  SeedVec<T>* origin(int co) { return q() + co * plane + static_cast<size_t>(top) * Wq + left; }
};

// Stride 2, 3x3 kernel, padding 1, dilation 1: the shape dgrad_s2k3 handles.
inline bool is_s2k3(const ConvGeom& g) {
  return g.sh == 2 && g.sw == 2 && g.kh == 3 && g.kw == 3 && g.ph == 1 && g.pw == 1 && g.dh == 1 && g.dw == 1;
}

// A 1x1 stride-1 conv without padding reads dy at the output positions only, so its planes have no
// border and are laid out as dy itself: without a BatchNorm term to add, the kernels read dy where it is
// (a shared gradient's factor k is applied to the results instead; see conv_backward_impl). The copy
// cost a memmove per sample (2% of a reduction block's shortcut backward), the scaled copy of an
// all-skip cell's gradient 3% of a whole gradient pass.
inline bool dy_planes_borrow(const ConvGeom& g, bool fold) {
  return !fold && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

template <typename T>
void dy_planes_init(const ConvGeom& g, DyPlanes<T>& qp, bool borrow) {
  if (borrow) {  // geometry of dy itself; q() points into dy, sample by sample
    qp.Hq = g.hout;
    qp.Wq = g.wout;
    qp.plane = static_cast<size_t>(qp.Hq) * qp.Wq;
    return;
  }
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
    // dgrad_s2k3 reads output row m + 1 for input row 2m + 1: one zero row below the last.
    qp.Hq = g.hout + (is_s2k3(g) ? 1 : 0);
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
template <typename T, int KC, int COB, bool D1>
TEGNAS_INLINE void wgrad_tile(const SeedVec<T>* q0, size_t qplane, int Wq, const T* xp, int Wp, const ConvGeom& g,
                              T* tot, size_t tot_co) {
  using V = SeedVec<T>;
  constexpr int KK = KC * KC;
  // Dilation 1 known at compile time turns the KK tap offsets into immediates: as run-time values GCC
  // kept them on the stack and reloaded one per broadcast.
  const int dh = D1 ? 1 : g.dh, dw = D1 ? 1 : g.dw;
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
          const T xv = xo[ki * dh * Wp + kj * dw];
          for (int b = 0; b < COB; ++b) acc[b][ki * KC + kj] += dv[b] * xv;
        }
    }
  }
  for (int b = 0; b < COB; ++b)
    for (int t = 0; t < KK; ++t) *reinterpret_cast<V*>(tot + b * tot_co + t * kSeeds) += acc[b][t];
}

// 1x1 kernels: dW[co][cil] = sum over positions of dy[co] * x[ci], a small GEMM per sample. COB output x
// CIB input channels of accumulators; each position loads COB gradient vectors and broadcasts CIB inputs.
// The one-input-channel tile above gives a 1x1 kernel one accumulator per output channel, and with 3 or
// 6 channels (below its COB of 8) every FMA waited on the one before: a quarter of the FMA rate.
template <typename T, int COB, int CIB>
TEGNAS_INLINE void wgrad1_tile(const SeedVec<T>* q0, size_t qplane, int Wq, const T* xp, size_t xplane, int Wp,
                               const ConvGeom& g, T* tot, size_t tot_co) {
  using V = SeedVec<T>;
  V acc[COB][CIB];
#pragma GCC unroll 4
  for (int b = 0; b < COB; ++b)
#pragma GCC unroll 4
    for (int c = 0; c < CIB; ++c) acc[b][c] = V{};
  for (int oh = 0; oh < g.hout; ++oh) {
    const T* xrow = xp + static_cast<size_t>(oh * g.sh) * Wp;
    const V* qrow = q0 + static_cast<size_t>(oh) * Wq;
    for (int ow = 0; ow < g.wout; ++ow) {
      V dv[COB];
#pragma GCC unroll 4
      for (int b = 0; b < COB; ++b) dv[b] = qrow[b * qplane + ow];
      const T* xo = xrow + static_cast<size_t>(ow) * g.sw;
#pragma GCC unroll 4
      for (int c = 0; c < CIB; ++c) {
        const T xv = xo[c * xplane];
#pragma GCC unroll 4
        for (int b = 0; b < COB; ++b) acc[b][c] += dv[b] * xv;
      }
    }
  }
  for (int b = 0; b < COB; ++b)
    for (int c = 0; c < CIB; ++c) *reinterpret_cast<V*>(tot + b * tot_co + c * kSeeds) += acc[b][c];
}

template <typename T, int COB>
TEGNAS_INLINE void wgrad1_cols(const SeedVec<T>* q0, size_t qplane, int Wq, const T* xp, size_t xplane, int Wp,
                               const ConvGeom& g, T* tot, size_t tot_co, int cig) {
  int c = 0;
  for (; c + 4 <= cig; c += 4) wgrad1_tile<T, COB, 4>(q0, qplane, Wq, xp + c * xplane, xplane, Wp, g, tot + c * kSeeds, tot_co);
  switch (cig - c) {
    case 3: wgrad1_tile<T, COB, 3>(q0, qplane, Wq, xp + c * xplane, xplane, Wp, g, tot + c * kSeeds, tot_co); break;
    case 2: wgrad1_tile<T, COB, 2>(q0, qplane, Wq, xp + c * xplane, xplane, Wp, g, tot + c * kSeeds, tot_co); break;
    case 1: wgrad1_tile<T, COB, 1>(q0, qplane, Wq, xp + c * xplane, xplane, Wp, g, tot + c * kSeeds, tot_co); break;
    default: break;
  }
}

// Any kernel shape, one output channel at a time.
template <typename T>
TEGNAS_INLINE void wgrad_tile_any(const SeedVec<T>* q0, int Wq, const T* xp, int Wp, const ConvGeom& g, T* tot,
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
  for (int t = 0; t < KK; ++t) *reinterpret_cast<V*>(tot + t * kSeeds) += acc[t];
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

// 1 where the forward input was positive (or there is no ReLU mask), else 0.
template <typename T>
TEGNAS_INLINE T relu_keep(const T* mask) {
  return (!mask || *mask > T(0)) ? T(1) : T(0);
}

// Writes (or adds) the gathered values, keeping only positions where the forward input was positive
// when the input is a ReLU's output (the fused ReLU backward). Branch-free: a multiply by 0 or 1.
template <typename T>
TEGNAS_INLINE void store_dx(SeedVec<T>* d, const SeedVec<T>& v, const T* mask, bool overwrite) {
  if (overwrite) *d = v * relu_keep(mask);
  else *d += v * relu_keep(mask);
}

// store_dx, then + p (an average pool's share of the same input gradient), in that order.
template <typename T>
TEGNAS_INLINE void store_dx_pool(SeedVec<T>* d, const SeedVec<T>& v, const T* mask, bool overwrite, const SeedVec<T>& p) {
  if (overwrite) *d = v * relu_keep(mask) + p;
  else *d = (*d + v * relu_keep(mask)) + p;
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

// Stride 2, 3x3 kernel, padding 1, dilation 1 (every reduction conv of the NAS-Bench-201 networks):
// input rows 2m, 2m+1 and columns 2j, 2j+1 read output rows m, m+1 and columns j, j+1 only, so one tile
// covers all four residue classes of PJ column pairs and every dy vector it loads serves up to four
// positions through all nine weights. By class (dgrad_strided) a tile had one to four taps per output
// channel, and the tile's setup and stores cost as much as its multiply-adds.
template <typename T, int PJ, bool R>
TEGNAS_INLINE void dgrad_s2k3_tile(const SeedVec<T>* q0, size_t qplane, int Wq, const T* wc, size_t wstep, int cog,
                                   SeedVec<T> (&out)[2][2][PJ]) {
  using V = SeedVec<T>;
  V a00[PJ], a01[PJ], a10[PJ], a11[PJ];
#pragma GCC unroll 8
  for (int p = 0; p < PJ; ++p) a00[p] = a01[p] = a10[p] = a11[p] = V{};
  for (int col = 0; col < cog; ++col) {
    const V* r0 = q0 + col * qplane;
    const V* r1 = r0 + Wq;
    const T* w = wc + col * wstep;
    // The nine weights live broadcast in registers next to the 4 PJ accumulators, and each dy vector is
    // loaded once for every tap that reads it (up to four): 26 vector registers. Holding the 2 (PJ + 1)
    // dy vectors instead ran out of the 32 and spilled accumulators to the stack. Scalars here, which
    // GCC broadcasts once per channel: a vector made as V{} + w kept that add (x + 0 is not x for -0).
    T wv[9];
#pragma GCC unroll 9
    for (int k = 0; k < 9; ++k) wv[k] = w[k];
#pragma GCC unroll 9
    for (int p = 0; p <= PJ; ++p) {
      V d = r0[p];  // output row m, column j + p
      keep_in_register<R>(d);
      if (p < PJ) {
        a00[p] += wv[4] * d;  // (1, 1): row 2m, column 2(j+p)
        a01[p] += wv[5] * d;  // (1, 2): column 2(j+p)+1
        a10[p] += wv[7] * d;  // (2, 1): row 2m+1
        a11[p] += wv[8] * d;  // (2, 2)
      }
      if (p > 0) {
        a01[p - 1] += wv[3] * d;  // (1, 0): column 2(j+p)-1
        a11[p - 1] += wv[6] * d;  // (2, 0)
      }
      d = r1[p];  // output row m + 1
      keep_in_register<R>(d);
      if (p < PJ) {
        a10[p] += wv[1] * d;  // (0, 1)
        a11[p] += wv[2] * d;  // (0, 2)
      }
      if (p > 0) a11[p - 1] += wv[0] * d;  // (0, 0)
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < PJ; ++p) {
    out[0][0][p] = a00[p];
    out[0][1][p] = a01[p];
    out[1][0][p] = a10[p];
    out[1][1][p] = a11[p];
  }
}

// Whether an average pool's backward can be added by dgrad_s2k3 as it stores dx (pool_dy): the 2x2
// stride-2 pool of the NAS-Bench-201 reduction block's shortcut, which reads the conv's input. Input
// position (2m + a, 2j + b) then lies in pool window (m, j) only, and dx += pool_dy / 4 there; fused, the
// sample's dx is not read and written a second time.
inline bool s2k3_pool_fusable(const ConvGeom& g, const PoolGeom& p) {
  return is_s2k3(g) && p.k == 2 && p.stride == 2 && p.pad == 0 && p.hin == g.hin && p.win == g.win;
}

template <typename T, bool R>
TEGNAS_INLINE void dgrad_s2k3(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, Grad<T>& dx, const T* relu_out,
                              bool overwrite, const Grad<T>* pool_dy) {
  using V = SeedVec<T>;
  constexpr int PJ = kStridedPB;
  const int cig = g.cin_g(), cog = g.cout_g();
  const size_t HW = static_cast<size_t>(g.hin) * g.win, wstep = static_cast<size_t>(cig) * 9;
  // Output rows m + 1 = hout and columns up to the last tile's j + PJ read the planes' zero border
  // (dy_planes_init pads one row below and whole tiles of kStridedPB columns plus one to the right).
  const int hm = (g.hin + 1) / 2, nj = (g.win + 1) / 2;
  const int hp = g.hin / 2, wp = g.win / 2;  // the fused pool's output size
  const T quarter = T(0.25);
  for (int gr = 0; gr < g.groups; ++gr) {
    const V* q = qp.origin(gr * cog);
    const T* wg = weight + static_cast<size_t>(gr * cog) * cig * 9;
    for (int m = 0; m < hm; ++m) {
      const V* q0 = q + static_cast<size_t>(m) * qp.Wq;
      for (int j = 0; j < nj; j += PJ) {
        // Input channels innermost: the tile's dy (2 rows of PJ + 1 vectors per output channel) stays in
        // L1 for all of them instead of coming from L2 once per channel.
        for (int cil = 0; cil < cig; ++cil) {
          V acc[2][2][PJ];
          dgrad_s2k3_tile<T, PJ, R>(q0 + j, qp.plane, qp.Wq, wg + cil * 9, wstep, cog, acc);
          const int ci = gr * cig + cil;
          const size_t ebase = (static_cast<size_t>(n) * g.cin + ci) * HW;
          // Ask now for the lines this tile stores for the next m: dx is a recycled whole-batch buffer
          // (12 MB for a 32x32 input of 3 channels) last touched a layer ago, so every store missed to
          // memory one line at a time (about 90 cycles each, more than the tile's multiply-adds). With
          // the write prefetch one row ahead the reduction conv's data gradient took 18% less time (6
          // output channels: 13 multiply-adds per stored line); with 12 (27 per line) it took 2-4% more.
          if (cog < 8 && 2 * m + 3 < g.hin) {
            const char* pa = reinterpret_cast<const char*>(dx.at(ebase + static_cast<size_t>(2 * m + 2) * g.win + 2 * j));
            const char* pb = pa + static_cast<size_t>(g.win) * kSeeds * sizeof(T);
#pragma GCC unroll 16
            for (int i = 0; i < 2 * PJ * static_cast<int>(sizeof(V) / 64); ++i) {
              __builtin_prefetch(pa + 64 * i, 1, 3);
              __builtin_prefetch(pb + 64 * i, 1, 3);
            }
          }
          const V* prow = pool_dy && m < hp
                              ? reinterpret_cast<const V*>(pool_dy->at((static_cast<size_t>(n) * g.cin + ci) * hp * wp +
                                                                       static_cast<size_t>(m) * wp))
                              : nullptr;
          for (int a = 0; a < 2; ++a) {
            const int ih = 2 * m + a;
            if (ih >= g.hin) break;
            const size_t e0 = ebase + static_cast<size_t>(ih) * g.win + 2 * j;
            V* d = reinterpret_cast<V*>(dx.at(e0));
            const T* mask = relu_out ? relu_out + e0 : nullptr;
            // A whole tile (2 (j + PJ) <= win) lies inside the pool's output too: j + PJ <= win / 2 = wp.
            const bool whole = 2 * (j + PJ) <= g.win;
            if (whole) {
              if (prow) {
#pragma GCC unroll 16
                for (int i = 0; i < 2 * PJ; ++i)
                  store_dx_pool(d + i, acc[a][i & 1][i >> 1], mask ? mask + i : nullptr, overwrite, prow[j + (i >> 1)] * quarter);
              } else {
#pragma GCC unroll 16
                for (int i = 0; i < 2 * PJ; ++i) store_dx(d + i, acc[a][i & 1][i >> 1], mask ? mask + i : nullptr, overwrite);
              }
            } else {
              for (int i = 0; 2 * j + i < g.win; ++i) store_dx(d + i, acc[a][i & 1][i >> 1], mask ? mask + i : nullptr, overwrite);
            }
            // The pool's share where the whole-tile path above did not add it.
            if (prow && !whole)
              for (int i = 0; 2 * j + i < g.win && j + (i >> 1) < wp; ++i) d[i] += prow[j + (i >> 1)] * quarter;
          }
        }
      }
    }
  }
}

template <typename T, int KC>
TEGNAS_INLINE void wgrad_sample(DyPlanes<T>& qp, const T* xpad, int Hp, int Wp, const ConvGeom& g, T* total,
                                std::vector<T>& acc_any) {
  const int cig = g.cin_g(), cog = g.cout_g();
  const int KK = g.kh * g.kw;
  const size_t tot_co = static_cast<size_t>(cig) * KK * kSeeds;
  // Output channels per tile: enough accumulators to hide the FMA latency without spilling registers.
  constexpr int COB = KC == 3 ? 3 : 1;
  if constexpr (KC == 1) {
    const size_t xplane = static_cast<size_t>(Hp) * Wp;
    for (int gr = 0; gr < g.groups; ++gr) {
      const T* xp = xpad + static_cast<size_t>(gr * cig) * xplane;
      for (int col = 0; col < cog;) {
        const int cob = std::min(4, cog - col);
        const SeedVec<T>* q0 = qp.origin(gr * cog + col);
        T* tot = total + static_cast<size_t>(gr * cog + col) * tot_co;
        switch (cob) {
          case 4: wgrad1_cols<T, 4>(q0, qp.plane, qp.Wq, xp, xplane, Wp, g, tot, tot_co, cig); break;
          case 3: wgrad1_cols<T, 3>(q0, qp.plane, qp.Wq, xp, xplane, Wp, g, tot, tot_co, cig); break;
          case 2: wgrad1_cols<T, 2>(q0, qp.plane, qp.Wq, xp, xplane, Wp, g, tot, tot_co, cig); break;
          default: wgrad1_cols<T, 1>(q0, qp.plane, qp.Wq, xp, xplane, Wp, g, tot, tot_co, cig); break;
        }
        col += cob;
      }
    }
  } else {
    for (int ci = 0; ci < g.cin; ++ci) {
      const int gr = ci / cig, cil = ci % cig;
      const T* xp = xpad + static_cast<size_t>(ci) * Hp * Wp;
      int col = 0;
      auto tot_at = [&](int co) { return total + co * tot_co + static_cast<size_t>(cil) * KK * kSeeds; };
      if constexpr (KC > 0) {
        if (g.dh == 1 && g.dw == 1) {
          for (; col + COB <= cog; col += COB)
            wgrad_tile<T, KC, COB, true>(qp.origin(gr * cog + col), qp.plane, qp.Wq, xp, Wp, g, tot_at(gr * cog + col), tot_co);
          for (; col < cog; ++col)
            wgrad_tile<T, KC, 1, true>(qp.origin(gr * cog + col), qp.plane, qp.Wq, xp, Wp, g, tot_at(gr * cog + col), tot_co);
        } else {
          for (; col + COB <= cog; col += COB)
            wgrad_tile<T, KC, COB, false>(qp.origin(gr * cog + col), qp.plane, qp.Wq, xp, Wp, g, tot_at(gr * cog + col), tot_co);
          for (; col < cog; ++col)
            wgrad_tile<T, KC, 1, false>(qp.origin(gr * cog + col), qp.plane, qp.Wq, xp, Wp, g, tot_at(gr * cog + col), tot_co);
        }
      } else {
        for (; col < cog; ++col) wgrad_tile_any<T>(qp.origin(gr * cog + col), qp.Wq, xp, Wp, g, tot_at(gr * cog + col), acc_any);
      }
    }
  }
}

template <typename T, int KC, bool R>
TEGNAS_INLINE void dgrad_sample(DyPlanes<T>& qp, const T* weight, const ConvGeom& g, int n, Grad<T>& dx, const T* relu_out,
                                bool overwrite, const TapList* rows, const Grad<T>* pool_dy) {
  const int cig = g.cin_g();
  if (g.sh != 1 || g.sw != 1) {
    if constexpr (KC == 3) {
      if (is_s2k3(g)) {
        dgrad_s2k3<T, R>(qp, weight, g, n, dx, relu_out, overwrite, pool_dy);
        return;
      }
    }
    for (int gr = 0; gr < g.groups; ++gr) {
      int cil = 0;
      for (; cil + 3 <= cig; cil += 3) dgrad_strided<T, 3>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite, *rows);
      for (; cil < cig; ++cil) dgrad_strided<T, 1>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite, *rows);
    }
    return;
  }
  if constexpr (KC == 0) {
    for (int ci = 0; ci < g.cin; ++ci) dgrad_rows_any(qp, weight, g, n, ci, dx, relu_out, overwrite);
    return;
  } else {
  constexpr int KCc = KC;
  constexpr int CIB = KC == 1 ? 4 : 3;
  for (int gr = 0; gr < g.groups; ++gr) {
    int cil = 0;
    for (; cil + CIB <= cig; cil += CIB) dgrad_rows<T, KCc, CIB, R>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite);
    // The last channels together: one at a time, each dy vector was loaded for a single FMA.
    if constexpr (KC == 1) {
      if (cig - cil == 3) {
        dgrad_rows<T, KCc, 3, R>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite);
        continue;
      }
    }
    if (cig - cil >= 2) {
      dgrad_rows<T, KCc, 2, R>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite);
      if (cig - cil == 3) dgrad_rows<T, KCc, 1, R>(qp, weight, g, n, gr, cil + 2, dx, relu_out, overwrite);
    } else if (cig - cil == 1) dgrad_rows<T, KCc, 1, R>(qp, weight, g, n, gr, cil, dx, relu_out, overwrite);
  }
  }
}

// One short row (8 to 32 values in these networks) of the padded input: a memmove call per row cost
// more than its copy (1% of a backward in call overhead).
template <typename T>
TEGNAS_INLINE void copy_row(T* __restrict d, const T* __restrict s, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) __builtin_memcpy(d + i, s + i, 8 * sizeof(T));
  for (; i < n; ++i) d[i] = s[i];
}

// The whole backward of one conv for kSeeds seeds, sample by sample.
template <typename T, int KC, bool R>
TEGNAS_INLINE void conv_backward_impl(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx,
                                      bool dx_overwrite, T* dweight, size_t dw_stride, T* dbias, size_t db_stride,
                                      const T* relu_out, const BnFold<T>* fold, T dys, const DxEpilogue<T>* epi) {
  using V = SeedVec<T>;
  const int N = dy.n, cig = g.cin_g(), KK = g.kh * g.kw;
  DyPlanes<T> qp;
  const bool borrow = dy_planes_borrow(g, fold != nullptr);
  dy_planes_init(g, qp, borrow);
  // A borrowed dy is read unscaled: both gradients are linear in dy, so k goes into the weights the
  // data gradient reads (cout x cin values) and onto the weight and bias gradients' sums at the end.
  const T post = borrow ? dys : T(1);
  std::vector<T> wk;
  if (borrow && dys != T(1) && dx) {
    const size_t nwt = static_cast<size_t>(g.cout) * cig * KK;
    wk.resize(nwt);
    for (size_t i = 0; i < nwt; ++i) wk[i] = dys * weight[i];
    weight = wk.data();
  }
  const bool strided = g.sh != 1 || g.sw != 1;
  const bool pool_fused = KC == 3 && dx && epi && epi->pool_dy && s2k3_pool_fusable(g, *epi->pool);
  const TapList rows = strided && dx ? strided_taps(g.hin, g.ph, g.kh, g.dh, g.sh, g.hout) : TapList();
  const int Hp = g.hin + 2 * g.ph, Wp = g.win + 2 * g.pw;
  std::vector<T> xpad;
  if (dweight) xpad.assign(static_cast<size_t>(g.cin) * Hp * Wp, T(0));
  // Weight gradients summed over samples in double, the float partial sums kept short: the tiles add into
  // `stage` (in T), which is widened into `total` once it holds about kStagePositions positions. Widening
  // every tile's accumulators took 15% of a 12-channel 8x8 conv's backward.
  const size_t nw = dweight ? static_cast<size_t>(g.cout) * cig * KK * kSeeds : 0;
  std::vector<double> total(nw, 0.0);
  std::vector<T> stage(nw, T(0));
  const size_t positions = static_cast<size_t>(g.hout) * g.wout;
  size_t staged = 0;
  std::vector<double> btotal(dbias ? static_cast<size_t>(g.cout) * kSeeds : 0, 0.0);
  std::vector<T> acc_any;
  for (int n = 0; n < N; ++n) {
    if (borrow) qp.borrowed = dy.at(static_cast<size_t>(n) * g.cout * qp.plane);
    else dy_planes_load(dy, n, g, fold, dys, qp);
    if (dweight) {
      for (int ci = 0; ci < g.cin; ++ci) {
        const T* src = x.data() + (static_cast<size_t>(n) * g.cin + ci) * g.hin * g.win;
        T* dst = xpad.data() + static_cast<size_t>(ci) * Hp * Wp + static_cast<size_t>(g.ph) * Wp + g.pw;
        for (int i = 0; i < g.hin; ++i) copy_row(dst + static_cast<size_t>(i) * Wp, src + static_cast<size_t>(i) * g.win, g.win);
      }
      wgrad_sample<T, KC>(qp, xpad.data(), Hp, Wp, g, stage.data(), acc_any);
      staged += positions;
      if (staged + positions > kStagePositions || n == N - 1) {
        for (size_t i = 0; i < nw; i += kSeeds) add_to_double(total.data() + i, *reinterpret_cast<const V*>(stage.data() + i));
        std::fill(stage.begin(), stage.end(), T(0));
        staged = 0;
      }
    }

    if (dbias)
      for (int co = 0; co < g.cout; ++co) {
        V a{};
        const V* src = qp.origin(co);
        for (int oh = 0; oh < g.hout; ++oh)
          for (int ow = 0; ow < g.wout; ++ow) a += src[static_cast<size_t>(oh) * qp.Wq + ow];
        for (int s = 0; s < kSeeds; ++s) btotal[co * kSeeds + s] += a[s];
      }

    if (dx) dgrad_sample<T, KC, R>(qp, weight, g, n, *dx, relu_out, dx_overwrite, strided ? &rows : nullptr,
                                   pool_fused ? epi->pool_dy : nullptr);

    if (epi && epi->pool_dy && !pool_fused) avgpool_backward_sample(*epi->pool_dy, *epi->pool, *dx, n);

    if (epi && epi->sdy) batchnorm_sums_sample(*dx, epi->xhat, n, epi->sdy, epi->sdyx);

  }
  if (dweight) {
    const size_t per = static_cast<size_t>(cig) * KK;
    for (int co = 0; co < g.cout; ++co)
      for (size_t k = 0; k < per; ++k)
        for (int s = 0; s < kSeeds; ++s)
          dweight[s * dw_stride + co * per + k] += post * static_cast<T>(total[(co * per + k) * kSeeds + s]);
  }
  if (dbias)
    for (int co = 0; co < g.cout; ++co)
      for (int s = 0; s < kSeeds; ++s) dbias[s * db_stride + co] += post * static_cast<T>(btotal[co * kSeeds + s]);
}

}  // namespace

// One function per kernel size, not inlined into one another: as a single function per instruction set
// GCC took minutes over it (its register allocation grows faster than the function).
#define TEGNAS_CONV_KC(NAME, TARGET, T, R, KC)                                                                            \
  TARGET __attribute__((noinline)) void NAME##_k##KC(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, \
                                                      Grad<T>* dx, bool ow, T* dw, std::size_t dws, T* db, std::size_t dbs,\
                                                      const T* relu, const BnFold<T>* fold, T dys,                         \
                                                      const DxEpilogue<T>* pa) {                                              \
    conv_backward_impl<T, KC, R>(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);                              \
  }
#define TEGNAS_CONV_ISA(NAME, TARGET, T, R)                                                                               \
  namespace {                                                                                                             \
  TEGNAS_CONV_KC(NAME, TARGET, T, R, 0)                                                                                   \
  TEGNAS_CONV_KC(NAME, TARGET, T, R, 1)                                                                                   \
  TEGNAS_CONV_KC(NAME, TARGET, T, R, 3)                                                                                   \
  TEGNAS_CONV_KC(NAME, TARGET, T, R, 5)                                                                                   \
  }                                                                                                                       \
  TARGET void NAME(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,   \
                   std::size_t dws, T* db, std::size_t dbs, const T* relu, const BnFold<T>* fold, T dys,                      \
                   const DxEpilogue<T>* pa) {                                                                                 \
    if (g.kh == 1 && g.kw == 1) NAME##_k1(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);                       \
    else if (g.kh == 3 && g.kw == 3) NAME##_k3(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);                  \
    else if (g.kh == 5 && g.kw == 5) NAME##_k5(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);                  \
    else NAME##_k0(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);                                             \
  }
}  // namespace tegnas
