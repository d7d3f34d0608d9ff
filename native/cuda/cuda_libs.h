// The few cuBLAS and cuSOLVER entry points the CUDA backend uses, declared here (their headers and
// libraries are not on the build machines) and loaded with dlopen at first use. Names are our own
// (no cublas*/cusolver* identifiers), so this header can sit next to the real headers: abi_check.cc
// includes both wherever the real ones exist and checks, at compile time, that every declaration and
// enum value here matches them.
#pragma once
#include <cuda_runtime_api.h>

#include <string>

namespace tegnas {
namespace cuda {

// ---- cuBLAS (cublas_api.h) ----
struct BlasContext;                      // struct cublasContext
typedef BlasContext* BlasHandle;         // cublasHandle_t
enum BlasStatus : int {                  // cublasStatus_t
  kBlasSuccess = 0,
  kBlasNotInitialized = 1,
  kBlasAllocFailed = 3,
  kBlasInvalidValue = 7,
  kBlasArchMismatch = 8,
  kBlasMappingError = 11,
  kBlasExecutionFailed = 13,
  kBlasInternalError = 14,
  kBlasNotSupported = 15,
  kBlasLicenseError = 16,
};
enum BlasOperation : int { kOpN = 0, kOpT = 1 };          // cublasOperation_t (CUBLAS_OP_N, CUBLAS_OP_T)
enum BlasFill : int { kFillLower = 0, kFillUpper = 1 };  // cublasFillMode_t
enum BlasMath : int { kMathDefault = 0, kMathPedantic = 2 };  // cublasMath_t (CUBLAS_DEFAULT_MATH, CUBLAS_PEDANTIC_MATH)

typedef BlasStatus (*PfnBlasCreate)(BlasHandle*);                 // cublasCreate_v2
typedef BlasStatus (*PfnBlasDestroy)(BlasHandle);                 // cublasDestroy_v2
typedef BlasStatus (*PfnBlasSetStream)(BlasHandle, cudaStream_t); // cublasSetStream_v2
typedef BlasStatus (*PfnBlasSetMathMode)(BlasHandle, BlasMath);   // cublasSetMathMode
// cublasSgemm_v2 / cublasDgemm_v2
typedef BlasStatus (*PfnSgemm)(BlasHandle, BlasOperation, BlasOperation, int, int, int, const float*, const float*, int,
                               const float*, int, const float*, float*, int);
typedef BlasStatus (*PfnDgemm)(BlasHandle, BlasOperation, BlasOperation, int, int, int, const double*, const double*, int,
                               const double*, int, const double*, double*, int);
// cublasSgemmStridedBatched / cublasDgemmStridedBatched
typedef BlasStatus (*PfnSgemmStrided)(BlasHandle, BlasOperation, BlasOperation, int, int, int, const float*, const float*,
                                      int, long long, const float*, int, long long, const float*, float*, int, long long, int);
typedef BlasStatus (*PfnDgemmStrided)(BlasHandle, BlasOperation, BlasOperation, int, int, int, const double*, const double*,
                                      int, long long, const double*, int, long long, const double*, double*, int, long long,
                                      int);
// cublasDsyrk_v2
typedef BlasStatus (*PfnDsyrk)(BlasHandle, BlasFill, BlasOperation, int, int, const double*, const double*, int,
                               const double*, double*, int);

// ---- cuSOLVER dense (cusolverDn.h, cusolver_common.h) ----
struct SolverContext;                    // struct cusolverDnContext
typedef SolverContext* SolverHandle;     // cusolverDnHandle_t
enum SolverStatus : int {                // cusolverStatus_t
  kSolverSuccess = 0,
  kSolverNotInitialized = 1,
  kSolverAllocFailed = 2,
  kSolverInvalidValue = 3,
  kSolverArchMismatch = 4,
  kSolverMappingError = 5,
  kSolverExecutionFailed = 6,
  kSolverInternalError = 7,
  kSolverMatrixTypeNotSupported = 8,
  kSolverNotSupported = 9,
};
enum SolverEigMode : int { kEigNoVector = 0, kEigVector = 1 };  // cusolverEigMode_t

typedef SolverStatus (*PfnSolverCreate)(SolverHandle*);                 // cusolverDnCreate
typedef SolverStatus (*PfnSolverDestroy)(SolverHandle);                 // cusolverDnDestroy
typedef SolverStatus (*PfnSolverSetStream)(SolverHandle, cudaStream_t); // cusolverDnSetStream
// cusolverDnDsyevd_bufferSize / cusolverDnDsyevd
typedef SolverStatus (*PfnDsyevdBuffer)(SolverHandle, SolverEigMode, BlasFill, int, const double*, int, const double*, int*);
typedef SolverStatus (*PfnDsyevd)(SolverHandle, SolverEigMode, BlasFill, int, double*, int, double*, double*, int, int*);
// cusolverDnDgetrf_bufferSize / cusolverDnDgetrf / cusolverDnDgetrs
typedef SolverStatus (*PfnDgetrfBuffer)(SolverHandle, int, int, double*, int, int*);
typedef SolverStatus (*PfnDgetrf)(SolverHandle, int, int, double*, int, double*, int*, int*);
typedef SolverStatus (*PfnDgetrs)(SolverHandle, BlasOperation, int, int, const double*, int, const int*, double*, int, int*);

// The loaded libraries. ok == false: `error` says what was tried and what dlopen/dlsym answered.
struct Libs {
  bool ok = false;
  std::string error;
  std::string cublas_path, cusolver_path;  // the files actually loaded

  PfnBlasCreate blas_create = nullptr;
  PfnBlasDestroy blas_destroy = nullptr;
  PfnBlasSetStream blas_set_stream = nullptr;
  PfnBlasSetMathMode blas_set_math_mode = nullptr;
  PfnSgemm sgemm = nullptr;
  PfnDgemm dgemm = nullptr;
  PfnSgemmStrided sgemm_strided = nullptr;
  PfnDgemmStrided dgemm_strided = nullptr;
  PfnDsyrk dsyrk = nullptr;

  PfnSolverCreate solver_create = nullptr;
  PfnSolverDestroy solver_destroy = nullptr;
  PfnSolverSetStream solver_set_stream = nullptr;
  PfnDsyevdBuffer dsyevd_buffer = nullptr;
  PfnDsyevd dsyevd = nullptr;
  PfnDgetrfBuffer dgetrf_buffer = nullptr;
  PfnDgetrf dgetrf = nullptr;
  PfnDgetrs dgetrs = nullptr;
};

// Loads cuBLAS (with cuBLASLt) and cuSOLVER for the CUDA major version this addon was built with:
// libcublas.so.13 / libcusolver.so.12 for CUDA 13, .12 / .11 for CUDA 12, .11 / .11 for CUDA 11.
// Looks in $TEGNAS_CUDA_LIB_DIR (a folder, or several separated by ':') when it is set, and only
// there; else on the loader's search path, then in the toolkit folder found at build time and in
// /usr/local/cuda/lib64. Never throws. The libraries stay loaded for the life of the process (the
// CUDA backend calls this once, when it is created, and keeps the result).
Libs load_libs();

// The names tried, for messages: e.g. "libcublas.so.13 and libcusolver.so.12".
std::string library_names();

const char* blas_status_name(BlasStatus s);
const char* solver_status_name(SolverStatus s);

}  // namespace cuda
}  // namespace tegnas
