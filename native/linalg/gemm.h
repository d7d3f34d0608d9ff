#pragma once

namespace tegnas {

// C (M x N, row-major, leading dim ldc) = op(A) * op(B) (+ C when accumulate).
// op(A) is M x K: A is M x K (lda) or, transposed, K x M. op(B) is K x N: B is K x N (ldb) or N x K.
template <typename T>
void gemm(bool transA, bool transB, int M, int N, int K, const T* A, int lda, const T* B, int ldb,
          T* C, int ldc, bool accumulate);

}  // namespace tegnas
