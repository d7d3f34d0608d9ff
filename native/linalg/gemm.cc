// Portable cache-friendly GEMM. Loop orders are chosen so the innermost loop runs over contiguous
// memory of both operands, which lets the compiler vectorise it; speed work lives in a later pass.
#include "gemm.h"

#include "../tensor.h"

#include <algorithm>
#include <vector>

namespace tegnas {

namespace {
constexpr int kBlockK = 256;
constexpr int kBlockN = 512;

// C[i, j] += sum_p A[i, p] * B[p, j]   (A: M x K, B: K x N)
template <typename T>
TEGNAS_INLINE void gemm_nn(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  for (int j0 = 0; j0 < N; j0 += kBlockN) {
    const int j1 = std::min(N, j0 + kBlockN);
    for (int p0 = 0; p0 < K; p0 += kBlockK) {
      const int p1 = std::min(K, p0 + kBlockK);
      for (int i = 0; i < M; ++i) {
        T* c = C + static_cast<size_t>(i) * ldc;
        const T* a = A + static_cast<size_t>(i) * lda;
        for (int p = p0; p < p1; ++p) {
          const T av = a[p];
          if (av == T(0)) continue;
          const T* b = B + static_cast<size_t>(p) * ldb;
          for (int j = j0; j < j1; ++j) c[j] += av * b[j];
        }
      }
    }
  }
}

// C[i, j] += sum_p A[p, i] * B[p, j]   (A: K x M, B: K x N)
template <typename T>
TEGNAS_INLINE void gemm_tn(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  for (int p = 0; p < K; ++p) {
    const T* a = A + static_cast<size_t>(p) * lda;
    const T* b = B + static_cast<size_t>(p) * ldb;
    for (int i = 0; i < M; ++i) {
      const T av = a[i];
      if (av == T(0)) continue;
      T* c = C + static_cast<size_t>(i) * ldc;
      for (int j = 0; j < N; ++j) c[j] += av * b[j];
    }
  }
}

// C[i, j] += sum_p A[i, p] * B[j, p]   (A: M x K, B: N x K): dot products, 4 partial sums.
template <typename T>
TEGNAS_INLINE void gemm_nt(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    const T* a = A + static_cast<size_t>(i) * lda;
    for (int j = 0; j < N; ++j) {
      const T* b = B + static_cast<size_t>(j) * ldb;
      T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int p = 0;
      for (; p + 4 <= K; p += 4) {
        s0 += a[p] * b[p];
        s1 += a[p + 1] * b[p + 1];
        s2 += a[p + 2] * b[p + 2];
        s3 += a[p + 3] * b[p + 3];
      }
      for (; p < K; ++p) s0 += a[p] * b[p];
      C[static_cast<size_t>(i) * ldc + j] += (s0 + s1) + (s2 + s3);
    }
  }
}

// C[i, j] += sum_p A[p, i] * B[j, p]: rare; transpose B into a scratch buffer.
template <typename T>
TEGNAS_INLINE void gemm_tt(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  std::vector<T> bt(static_cast<size_t>(K) * N);
  for (int j = 0; j < N; ++j)
    for (int p = 0; p < K; ++p) bt[static_cast<size_t>(p) * N + j] = B[static_cast<size_t>(j) * ldb + p];
  gemm_tn(M, N, K, A, lda, bt.data(), N, C, ldc);
}

template <typename T>
TEGNAS_INLINE void gemm_any(bool transA, bool transB, int M, int N, int K, const T* A, int lda, const T* B, int ldb,
                            T* C, int ldc, bool accumulate) {
  if (!accumulate)
    for (int i = 0; i < M; ++i) std::fill(C + static_cast<size_t>(i) * ldc, C + static_cast<size_t>(i) * ldc + N, T(0));
  if (M <= 0 || N <= 0 || K <= 0) return;
  if (!transA && !transB) gemm_nn(M, N, K, A, lda, B, ldb, C, ldc);
  else if (transA && !transB) gemm_tn(M, N, K, A, lda, B, ldb, C, ldc);
  else if (!transA && transB) gemm_nt(M, N, K, A, lda, B, ldb, C, ldc);
  else gemm_tt(M, N, K, A, lda, B, ldb, C, ldc);
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
