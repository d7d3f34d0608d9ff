// conv2d: forward as direct loops over phase-split input (run once per batch); the backward's kernels
// are in conv2d_backward.h, compiled once per instruction set.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv2d_backward.h"
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
          const int iw0 = ((pc - g.pw) % g.sw + g.sw) % g.sw;
          // Phase column (iw + pw) / sw, counted rather than divided: a division per element (sw is a
          // run-time value, 1 included) was most of a narrow conv's forward.
          T* d = dst + (iw0 + g.pw) / g.sw;
          if (g.sw == 1) {
            std::memcpy(d, xr + iw0, sizeof(T) * static_cast<size_t>(g.win - iw0));
          } else {
            for (int iw = iw0; iw < g.win; iw += g.sw) *d++ = xr[iw];
          }
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
  y.shape(x.n, g.cout, g.hout, g.wout);
  conv_fwd_clone(x, weight, bias, g, y);
}

namespace {
// One copy per instruction set (conv2d_backward_*.cc), picked once at run time: AVX-512 (float: dy
// vectors pinned in registers), AVX2, baseline.
template <typename T>
void conv_backward_clone(const Tensor<T>& x, const T* w, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool ow, T* dw,
                         size_t dws, T* db, size_t dbs, const T* relu, const BnFold<T>* fold, T dys, const DxEpilogue<T>* pa) {
#if TEGNAS_CONV_ISA_COPIES
  using Fn = void (*)(const Tensor<T>&, const T*, const Grad<T>&, const ConvGeom&, Grad<T>*, bool, T*, size_t, T*, size_t,
                      const T*, const BnFold<T>*, T, const DxEpilogue<T>*);
  static const Fn fn = __builtin_cpu_supports("avx512f") ? static_cast<Fn>(conv_bwd_avx512)
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? static_cast<Fn>(conv_bwd_avx2)
                                                                                          : static_cast<Fn>(conv_bwd_base);
  fn(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);
#else
  conv_bwd_base(x, w, dy, g, dx, ow, dw, dws, db, dbs, relu, fold, dys, pa);
#endif
}
}  // namespace

template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool dx_overwrite,
                     T* dweight, size_t dw_stride, T* dbias, size_t db_stride, bool input_is_relu, const BnFold<T>* fold,
                     T dy_scale, const DxEpilogue<T>* epi) {
  if (epi && !dx) throw EngineError("internal: conv2d_backward was handed work on dx but no dx");
  if (!dx && !dweight && !dbias) return;
  if (fold && dy_scale != T(1)) throw EngineError("internal: conv2d_backward takes a dy scale or a BatchNorm fold, not both");
  conv_backward_clone(x, weight, dy, g, dx, dx_overwrite, dweight, dw_stride, dbias, db_stride,
                      input_is_relu ? x.data() : nullptr, fold, dy_scale, epi);
}

template void conv2d_forward<float>(const Tensor<float>&, const float*, const float*, const ConvGeom&, Tensor<float>&);
template void conv2d_forward<double>(const Tensor<double>&, const double*, const double*, const ConvGeom&, Tensor<double>&);
template void conv2d_backward<float>(const Tensor<float>&, const float*, const Grad<float>&, const ConvGeom&,
                                     Grad<float>*, bool, float*, size_t, float*, size_t, bool, const BnFold<float>*, float,
                                     const DxEpilogue<float>*);
template void conv2d_backward<double>(const Tensor<double>&, const double*, const Grad<double>&, const ConvGeom&,
                                      Grad<double>*, bool, double*, size_t, double*, size_t, bool, const BnFold<double>*, double,
                                      const DxEpilogue<double>*);

}  // namespace tegnas
