// TEGNAS_CUDA_EMULATION only: the host stand-ins for the CUDA runtime (cuda_runtime_api.h here) and
// for the cuBLAS / cuSOLVER entry points of cuda_libs.h, written from their documented column-major
// semantics (BLAS gemm/syrk, LAPACK syevd/getrf/getrs), so that the backend's calls (argument order,
// transposes, leading dimensions, strides) are exercised as the real libraries would read them.
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "../../linalg/eigen.h"
#include "../cuda_libs.h"
#include "emu_device.h"

thread_local TegnasDim3 threadIdx, blockIdx, blockDim, gridDim;

const char* cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "an emulated CUDA call failed"; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int* v) { *v = CUDART_VERSION; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  std::memset(p, 0, sizeof(*p));
  std::strcpy(p->name, "tegnas host emulation (no GPU)");
  p->totalGlobalMem = size_t(16) << 30;
  p->major = 9;
  p->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) { *v = 1; return cudaSuccess; }
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) { *pool = nullptr; return cudaSuccess; }
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = nullptr; return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t bytes) {
  // Uninitialised like device memory: fill with a NaN pattern so a kernel that reads before writing shows.
  *p = std::malloc(bytes ? bytes : 1);
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xFF, bytes);
  return cudaSuccess;
}
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) { return cudaMalloc(p, bytes); }
cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaFreeAsync(void* p, cudaStream_t) { std::free(p); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t) { std::memset(p, v, bytes); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  *free_b = size_t(8) << 30;
  *total_b = size_t(16) << 30;
  return cudaSuccess;
}

namespace tegnas {
namespace cuda {
namespace {

struct BlasContext* fake_handle() { return reinterpret_cast<BlasContext*>(0x1); }
BlasStatus blas_create(BlasHandle* h) { *h = fake_handle(); return kBlasSuccess; }
BlasStatus blas_destroy(BlasHandle) { return kBlasSuccess; }
BlasStatus blas_set_stream(BlasHandle, cudaStream_t) { return kBlasSuccess; }
BlasStatus blas_set_math_mode(BlasHandle, BlasMath) { return kBlasSuccess; }

// Column-major C (m x n) = alpha op(A) op(B) + beta C, as BLAS (C not read when beta == 0).
template <typename T>
BlasStatus gemm(BlasOperation ta, BlasOperation tb, int m, int n, int k, const T* alpha, const T* A, int lda, const T* B, int ldb,
                const T* beta, T* C, int ldc) {
  if (m < 0 || n < 0 || k < 0) return kBlasInvalidValue;
  if (lda < std::max(1, ta == kOpN ? m : k) || ldb < std::max(1, tb == kOpN ? k : n) || ldc < std::max(1, m)) return kBlasInvalidValue;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int l = 0; l < k; ++l) {
        const T a = ta == kOpN ? A[i + static_cast<long long>(l) * lda] : A[l + static_cast<long long>(i) * lda];
        const T b = tb == kOpN ? B[l + static_cast<long long>(j) * ldb] : B[j + static_cast<long long>(l) * ldb];
        acc += static_cast<double>(a) * b;
      }
      T& c = C[i + static_cast<long long>(j) * ldc];
      c = *beta == T(0) ? static_cast<T>(*alpha * acc) : static_cast<T>(*alpha * acc + *beta * c);
    }
  return kBlasSuccess;
}
BlasStatus sgemm(BlasHandle, BlasOperation ta, BlasOperation tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                 const float* B, int ldb, const float* beta, float* C, int ldc) {
  return gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
BlasStatus dgemm(BlasHandle, BlasOperation ta, BlasOperation tb, int m, int n, int k, const double* alpha, const double* A, int lda,
                 const double* B, int ldb, const double* beta, double* C, int ldc) {
  return gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
template <typename T>
BlasStatus gemm_strided(BlasOperation ta, BlasOperation tb, int m, int n, int k, const T* alpha, const T* A, int lda, long long sA,
                        const T* B, int ldb, long long sB, const T* beta, T* C, int ldc, long long sC, int batch) {
  for (int b = 0; b < batch; ++b) {
    const BlasStatus s = gemm(ta, tb, m, n, k, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc);
    if (s != kBlasSuccess) return s;
  }
  return kBlasSuccess;
}
BlasStatus sgemm_strided(BlasHandle, BlasOperation ta, BlasOperation tb, int m, int n, int k, const float* alpha, const float* A,
                         int lda, long long sA, const float* B, int ldb, long long sB, const float* beta, float* C, int ldc,
                         long long sC, int batch) {
  return gemm_strided(ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
}
BlasStatus dgemm_strided(BlasHandle, BlasOperation ta, BlasOperation tb, int m, int n, int k, const double* alpha, const double* A,
                         int lda, long long sA, const double* B, int ldb, long long sB, const double* beta, double* C, int ldc,
                         long long sC, int batch) {
  return gemm_strided(ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
}
// C (n x n, the `uplo` triangle only) = alpha op(A) op(A)^T + beta C; op(A) is n x k.
BlasStatus dsyrk(BlasHandle, BlasFill uplo, BlasOperation trans, int n, int k, const double* alpha, const double* A, int lda,
                 const double* beta, double* C, int ldc) {
  if (lda < std::max(1, trans == kOpN ? n : k) || ldc < std::max(1, n)) return kBlasInvalidValue;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      if ((uplo == kFillLower && i < j) || (uplo == kFillUpper && i > j)) continue;
      double acc = 0;
      for (int l = 0; l < k; ++l) {
        const double a = trans == kOpN ? A[i + static_cast<long long>(l) * lda] : A[l + static_cast<long long>(i) * lda];
        const double b = trans == kOpN ? A[j + static_cast<long long>(l) * lda] : A[l + static_cast<long long>(j) * lda];
        acc += a * b;
      }
      double& c = C[i + static_cast<long long>(j) * ldc];
      c = *beta == 0 ? *alpha * acc : *alpha * acc + *beta * c;
    }
  return kBlasSuccess;
}

struct SolverContext* fake_solver() { return reinterpret_cast<SolverContext*>(0x2); }
SolverStatus solver_create(SolverHandle* h) { *h = fake_solver(); return kSolverSuccess; }
SolverStatus solver_destroy(SolverHandle) { return kSolverSuccess; }
SolverStatus solver_set_stream(SolverHandle, cudaStream_t) { return kSolverSuccess; }
SolverStatus dsyevd_buffer(SolverHandle, SolverEigMode, BlasFill, int, const double*, int, const double*, int* lwork) {
  *lwork = 7;
  return kSolverSuccess;
}
// Eigenvalues (ascending) of the symmetric matrix whose `uplo` triangle A holds.
SolverStatus dsyevd(SolverHandle, SolverEigMode, BlasFill uplo, int n, double* A, int lda, double* W, double* work, int lwork,
                    int* info) {
  if (lda < std::max(1, n) || lwork < 7 || !work) return kSolverInvalidValue;
  std::vector<double> full(static_cast<size_t>(n) * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const bool stored = uplo == kFillLower ? i >= j : i <= j;
      const double v = stored ? A[i + static_cast<long long>(j) * lda] : A[j + static_cast<long long>(i) * lda];
      full[static_cast<size_t>(i) * n + j] = v;
    }
  const std::vector<double> w = symmetric_eigenvalues(full.data(), n);
  for (int i = 0; i < n; ++i) W[i] = w[i];
  *info = 0;
  return kSolverSuccess;
}
SolverStatus dgetrf_buffer(SolverHandle, int, int n, double*, int, int* lwork) {
  *lwork = n;
  return kSolverSuccess;
}
// LAPACK getrf: partial pivoting (first largest |entry|), ipiv 1-based, info = first zero pivot (1-based).
SolverStatus dgetrf(SolverHandle, int m, int n, double* A, int lda, double* work, int* ipiv, int* info) {
  if (m != n || lda < std::max(1, m) || !work) return kSolverInvalidValue;
  auto a = [&](int i, int j) -> double& { return A[i + static_cast<long long>(j) * lda]; };
  *info = 0;
  for (int k = 0; k < n; ++k) {
    int p = k;
    for (int i = k + 1; i < n; ++i)
      if (std::fabs(a(i, k)) > std::fabs(a(p, k))) p = i;
    ipiv[k] = p + 1;
    if (a(p, k) == 0) {
      if (*info == 0) *info = k + 1;
      continue;
    }
    if (p != k)
      for (int j = 0; j < n; ++j) std::swap(a(k, j), a(p, j));
    for (int i = k + 1; i < n; ++i) a(i, k) /= a(k, k);
    for (int j = k + 1; j < n; ++j)
      for (int i = k + 1; i < n; ++i) a(i, j) -= a(i, k) * a(k, j);
  }
  return kSolverSuccess;
}
SolverStatus dgetrs(SolverHandle, BlasOperation trans, int n, int nrhs, const double* A, int lda, const int* ipiv, double* B, int ldb,
                    int* info) {
  if (trans != kOpN || lda < std::max(1, n) || ldb < std::max(1, n)) return kSolverInvalidValue;
  auto a = [&](int i, int j) { return A[i + static_cast<long long>(j) * lda]; };
  for (int c = 0; c < nrhs; ++c) {
    double* b = B + static_cast<long long>(c) * ldb;
    for (int k = 0; k < n; ++k) std::swap(b[k], b[ipiv[k] - 1]);
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < i; ++k) b[i] -= a(i, k) * b[k];
    for (int i = n - 1; i >= 0; --i) {
      for (int k = i + 1; k < n; ++k) b[i] -= a(i, k) * b[k];
      b[i] /= a(i, i);
    }
  }
  *info = 0;
  return kSolverSuccess;
}

}  // namespace

Libs emulated_libs() {
  Libs L;
  L.ok = true;
  L.cublas_path = "(host emulation)";
  L.cusolver_path = "(host emulation)";
  L.blas_create = blas_create;
  L.blas_destroy = blas_destroy;
  L.blas_set_stream = blas_set_stream;
  L.blas_set_math_mode = blas_set_math_mode;
  L.sgemm = sgemm;
  L.dgemm = dgemm;
  L.sgemm_strided = sgemm_strided;
  L.dgemm_strided = dgemm_strided;
  L.dsyrk = dsyrk;
  L.solver_create = solver_create;
  L.solver_destroy = solver_destroy;
  L.solver_set_stream = solver_set_stream;
  L.dsyevd_buffer = dsyevd_buffer;
  L.dsyevd = dsyevd;
  L.dgetrf_buffer = dgetrf_buffer;
  L.dgetrf = dgetrf;
  L.dgetrs = dgetrs;
  return L;
}

}  // namespace cuda
}  // namespace tegnas
