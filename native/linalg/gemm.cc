// GEMM for the engine's linear layers: packed panels and a register-tiled micro-kernel, any transpose.
// A block of B (kKC x kNC) is packed into panels of kNR columns and a strip of A into panels of kMR
// rows, both k-major and zero-padded, so the micro-kernel keeps kMR x 2 vectors of C in registers and
// reads both operands contiguously whatever their layout. The loops it replaced (dot products and
// axpys) ran at 2-3% of one core's peak.
#include "gemm.h"

#include "../tensor.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tegnas {

namespace {
constexpr int kMR = 6;     // rows of C per micro-tile: 6 x 2 accumulators, 6 broadcasts and 2 loads per k
constexpr int kKC = 256;   // k per packed block: a kKC x kNR panel of B (32 KB in float) stays in L1
constexpr int kNC = 1024;  // columns per packed block of B (kKC x kNC: 1 MB in float, in L2)

template <typename T>
struct Lanes {
  static constexpr int W = 64 / static_cast<int>(sizeof(T));  // one 64-byte vector
  typedef T V __attribute__((vector_size(64), aligned(alignof(T))));
};

template <typename T>
TEGNAS_INLINE void gemm_packed(bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  using V = typename Lanes<T>::V;
  constexpr int W = Lanes<T>::W, NR = 2 * W;
  std::vector<T> bp, ap(static_cast<size_t>(kKC) * kMR);
  for (int j0 = 0; j0 < N; j0 += kNC) {
    const int nc = std::min(kNC, N - j0), npan = (nc + NR - 1) / NR;
    for (int p0 = 0; p0 < K; p0 += kKC) {
      const int kc = std::min(kKC, K - p0);
      bp.assign(static_cast<size_t>(npan) * kc * NR, T(0));
      for (int q = 0; q < npan; ++q) {
        T* dst = bp.data() + static_cast<size_t>(q) * kc * NR;
        for (int c = 0; c < NR && j0 + q * NR + c < N; ++c) {
          const int j = j0 + q * NR + c;
          if (tb) {
            const T* src = B + static_cast<size_t>(j) * ldb + p0;
            for (int p = 0; p < kc; ++p) dst[static_cast<size_t>(p) * NR + c] = src[p];
          } else {
            for (int p = 0; p < kc; ++p) dst[static_cast<size_t>(p) * NR + c] = B[static_cast<size_t>(p0 + p) * ldb + j];
          }
        }
      }
      for (int i0 = 0; i0 < M; i0 += kMR) {
        const int mr = std::min(kMR, M - i0);
        for (int r = 0; r < kMR; ++r)
          for (int p = 0; p < kc; ++p) {
            T v = T(0);
            if (r < mr) v = ta ? A[static_cast<size_t>(p0 + p) * lda + i0 + r] : A[static_cast<size_t>(i0 + r) * lda + p0 + p];
            ap[static_cast<size_t>(p) * kMR + r] = v;
          }
        for (int q = 0; q < npan; ++q) {
          V acc[kMR][2];
          for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = V{};
          const T* b = bp.data() + static_cast<size_t>(q) * kc * NR;
          const T* a = ap.data();
          for (int p = 0; p < kc; ++p) {
            V b0, b1;
            std::memcpy(&b0, b + static_cast<size_t>(p) * NR, sizeof(V));
            std::memcpy(&b1, b + static_cast<size_t>(p) * NR + W, sizeof(V));
#pragma GCC unroll 8
            for (int r = 0; r < kMR; ++r) {
              const T av = a[static_cast<size_t>(p) * kMR + r];
              acc[r][0] += av * b0;
              acc[r][1] += av * b1;
            }
          }
          const int j = j0 + q * NR, ncols = std::min(NR, N - j);
          for (int r = 0; r < mr; ++r) {
            T* c = C + static_cast<size_t>(i0 + r) * ldc + j;
            if (ncols == NR) {
              V c0, c1;
              std::memcpy(&c0, c, sizeof(V));
              std::memcpy(&c1, c + W, sizeof(V));
              c0 += acc[r][0];
              c1 += acc[r][1];
              std::memcpy(c, &c0, sizeof(V));
              std::memcpy(c + W, &c1, sizeof(V));
            } else {
              for (int x = 0; x < ncols; ++x) c[x] += x < W ? acc[r][0][x] : acc[r][1][x - W];
            }
          }
        }
      }
    }
  }
}

template <typename T>
TEGNAS_INLINE void gemm_any(bool transA, bool transB, int M, int N, int K, const T* A, int lda, const T* B, int ldb,
                            T* C, int ldc, bool accumulate) {
  if (!accumulate)
    for (int i = 0; i < M; ++i) std::fill(C + static_cast<size_t>(i) * ldc, C + static_cast<size_t>(i) * ldc + N, T(0));
  if (M <= 0 || N <= 0 || K <= 0) return;
  gemm_packed(transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
}

// One copy of the loops per instruction set (AVX-512, AVX2, baseline), picked when the addon loads.
TEGNAS_SIMD void gemm_f(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                        int ldc, bool acc) {
  gemm_any(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
}
TEGNAS_SIMD void gemm_d(bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B, int ldb,
                        double* C, int ldc, bool acc) {
  gemm_any(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
}
}  // namespace

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                 bool acc) {
  gemm_f(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
}
template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B, int ldb, double* C,
                  int ldc, bool acc) {
  gemm_d(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
}


}  // namespace tegnas
