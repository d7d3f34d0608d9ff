#include "device.h"

#include <cstdint>
#include <sstream>

#include "../tensor.h"

namespace tegnas {
namespace cuda {

void fail(const char* what, cudaError_t e, const char* file, int line) {
  std::ostringstream o;
  const char* f = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') f = p + 1;
  o << "CUDA error in " << what << " (" << f << ":" << line << "): " << cudaGetErrorName(e) << ": " << cudaGetErrorString(e);
  throw EngineError(o.str());
}

Context::Context(int device, const Libs& libs) : device_(device), libs_(libs) {
  TEGNAS_CUDA_CHECK(cudaSetDevice(device));
  TEGNAS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  int pools = 0;
  if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device) == cudaSuccess && pools) {
    cudaMemPool_t pool = nullptr;
    if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
      // Keep freed memory in the pool between evaluations instead of returning it to the driver.
      uint64_t keep = UINT64_MAX;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
      pool_ = true;
    }
  }
  cudaGetLastError();  // a failed optional query above must not be reported by a later check
  check_blas(libs.blas_create(&blas_), "cublasCreate");
  check_blas(libs.blas_set_stream(blas_, stream_), "cublasSetStream");
  // Pedantic: IEEE float32 products, no TF32 even if NVIDIA_TF32_OVERRIDE asks for it.
  check_blas(libs.blas_set_math_mode(blas_, kMathPedantic), "cublasSetMathMode");
  check_solver(libs.solver_create(&solver_), "cusolverDnCreate");
  check_solver(libs.solver_set_stream(solver_, stream_), "cusolverDnSetStream");
}

void Context::use() const { TEGNAS_CUDA_CHECK(cudaSetDevice(device_)); }

void* Context::alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = pool_ ? cudaMallocAsync(&p, bytes, stream_) : cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    std::ostringstream o;
    o << "CUDA out of memory? allocating " << bytes << " bytes failed: " << cudaGetErrorName(e) << ": " << cudaGetErrorString(e);
    throw EngineError(o.str());
  }
  return p;
}

void Context::free(void* p) noexcept {
  if (!p) return;
  if (pool_) cudaFreeAsync(p, stream_);
  else cudaFree(p);
}

void Context::sync() const { TEGNAS_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void Context::check_blas(BlasStatus s, const char* what) const {
  if (s != kBlasSuccess) throw EngineError(std::string("cuBLAS error in ") + what + ": " + blas_status_name(s));
}

void Context::check_solver(SolverStatus s, const char* what) const {
  if (s != kSolverSuccess) throw EngineError(std::string("cuSOLVER error in ") + what + ": " + solver_status_name(s));
}

namespace {
// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the same call with the operands
// swapped and M, N exchanged (each row-major matrix read as its column-major transpose).
BlasStatus gemm_call(Context& ctx, BlasOperation ta, BlasOperation tb, int M, int N, int K, const float* alpha, const float* A,
                     int lda, long long sA, const float* B, int ldb, long long sB, const float* beta, float* C, int ldc,
                     long long sC, int batch) {
  const Libs& L = ctx.libs();
  if (batch == 1) return L.sgemm(ctx.blas(), tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
  return L.sgemm_strided(ctx.blas(), tb, ta, N, M, K, alpha, B, ldb, sB, A, lda, sA, beta, C, ldc, sC, batch);
}
BlasStatus gemm_call(Context& ctx, BlasOperation ta, BlasOperation tb, int M, int N, int K, const double* alpha, const double* A,
                     int lda, long long sA, const double* B, int ldb, long long sB, const double* beta, double* C, int ldc,
                     long long sC, int batch) {
  const Libs& L = ctx.libs();
  if (batch == 1) return L.dgemm(ctx.blas(), tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
  return L.dgemm_strided(ctx.blas(), tb, ta, N, M, K, alpha, B, ldb, sB, A, lda, sA, beta, C, ldc, sC, batch);
}
}  // namespace

template <typename T>
void gemm_rm(Context& ctx, bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, long long sA,
             const T* B, int ldb, long long sB, T beta, T* C, int ldc, long long sC, int batch) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  if (K <= 0) throw EngineError("gemm with an empty inner dimension");
  ctx.check_blas(gemm_call(ctx, transA ? kOpT : kOpN, transB ? kOpT : kOpN, M, N, K, &alpha, A, lda, sA, B, ldb, sB, &beta, C,
                           ldc, sC, batch),
                 batch == 1 ? "gemm" : "gemmStridedBatched");
}

template void gemm_rm<float>(Context&, bool, bool, int, int, int, float, const float*, int, long long, const float*, int,
                             long long, float, float*, int, long long, int);
template void gemm_rm<double>(Context&, bool, bool, int, int, int, double, const double*, int, long long, const double*, int,
                              long long, double, double*, int, long long, int);

}  // namespace cuda
}  // namespace tegnas
