// Compile-time check of cuda_libs.h against the real cuBLAS and cuSOLVER headers, wherever they are
// installed (CMake defines TEGNAS_HAVE_CUDA_MATH_HEADERS when it finds them): every function pointer
// type must equal the real function's type once the real enums and handles are mapped to ours, and
// every enum value we use must have the real value. Without the headers this file compiles to nothing.
#include "cuda_libs.h"

#if defined(TEGNAS_HAVE_CUDA_MATH_HEADERS)
#include <cublas_api.h>
#include <cusolverDn.h>

#include <type_traits>

namespace tegnas {
namespace cuda {
namespace abi {

// Their types -> ours, through pointers and const.
template <typename T> struct Map { using type = T; };
template <typename T> struct Map<T*> { using type = typename Map<T>::type*; };
template <typename T> struct Map<const T> { using type = const typename Map<T>::type; };
template <> struct Map<::cublasContext> { using type = BlasContext; };
template <> struct Map<::cusolverDnContext> { using type = SolverContext; };
template <> struct Map<::cublasStatus_t> { using type = BlasStatus; };
template <> struct Map<::cublasOperation_t> { using type = BlasOperation; };
template <> struct Map<::cublasFillMode_t> { using type = BlasFill; };
template <> struct Map<::cublasMath_t> { using type = BlasMath; };
template <> struct Map<::cusolverStatus_t> { using type = SolverStatus; };
template <> struct Map<::cusolverEigMode_t> { using type = SolverEigMode; };

template <typename F> struct MapFn;
template <typename R, typename... A> struct MapFn<R (*)(A...)> {
  using type = typename Map<R>::type (*)(typename Map<A>::type...);
};
template <typename Real, typename Ours>
constexpr bool same = std::is_same<typename MapFn<Real>::type, Ours>::value;

#define TEGNAS_ABI(real, ours) static_assert(same<decltype(&::real), ours>, #real " does not match " #ours " in cuda_libs.h")
TEGNAS_ABI(cublasCreate_v2, PfnBlasCreate);
TEGNAS_ABI(cublasDestroy_v2, PfnBlasDestroy);
TEGNAS_ABI(cublasSetStream_v2, PfnBlasSetStream);
TEGNAS_ABI(cublasSetMathMode, PfnBlasSetMathMode);
TEGNAS_ABI(cublasSgemm_v2, PfnSgemm);
TEGNAS_ABI(cublasDgemm_v2, PfnDgemm);
TEGNAS_ABI(cublasSgemmStridedBatched, PfnSgemmStrided);
TEGNAS_ABI(cublasDgemmStridedBatched, PfnDgemmStrided);
TEGNAS_ABI(cublasDsyrk_v2, PfnDsyrk);
TEGNAS_ABI(cusolverDnCreate, PfnSolverCreate);
TEGNAS_ABI(cusolverDnDestroy, PfnSolverDestroy);
TEGNAS_ABI(cusolverDnSetStream, PfnSolverSetStream);
TEGNAS_ABI(cusolverDnDsyevd_bufferSize, PfnDsyevdBuffer);
TEGNAS_ABI(cusolverDnDsyevd, PfnDsyevd);
TEGNAS_ABI(cusolverDnDgetrf_bufferSize, PfnDgetrfBuffer);
TEGNAS_ABI(cusolverDnDgetrf, PfnDgetrf);
TEGNAS_ABI(cusolverDnDgetrs, PfnDgetrs);
#undef TEGNAS_ABI

#define TEGNAS_ENUM(real, ours) static_assert(static_cast<long long>(::real) == static_cast<long long>(ours), #real " != " #ours)
TEGNAS_ENUM(CUBLAS_STATUS_SUCCESS, kBlasSuccess);
TEGNAS_ENUM(CUBLAS_STATUS_NOT_INITIALIZED, kBlasNotInitialized);
TEGNAS_ENUM(CUBLAS_STATUS_ALLOC_FAILED, kBlasAllocFailed);
TEGNAS_ENUM(CUBLAS_STATUS_INVALID_VALUE, kBlasInvalidValue);
TEGNAS_ENUM(CUBLAS_STATUS_ARCH_MISMATCH, kBlasArchMismatch);
TEGNAS_ENUM(CUBLAS_STATUS_MAPPING_ERROR, kBlasMappingError);
TEGNAS_ENUM(CUBLAS_STATUS_EXECUTION_FAILED, kBlasExecutionFailed);
TEGNAS_ENUM(CUBLAS_STATUS_INTERNAL_ERROR, kBlasInternalError);
TEGNAS_ENUM(CUBLAS_STATUS_NOT_SUPPORTED, kBlasNotSupported);
TEGNAS_ENUM(CUBLAS_STATUS_LICENSE_ERROR, kBlasLicenseError);
TEGNAS_ENUM(CUBLAS_OP_N, kOpN);
TEGNAS_ENUM(CUBLAS_OP_T, kOpT);
TEGNAS_ENUM(CUBLAS_FILL_MODE_LOWER, kFillLower);
TEGNAS_ENUM(CUBLAS_FILL_MODE_UPPER, kFillUpper);
TEGNAS_ENUM(CUBLAS_DEFAULT_MATH, kMathDefault);
TEGNAS_ENUM(CUBLAS_PEDANTIC_MATH, kMathPedantic);
TEGNAS_ENUM(CUSOLVER_STATUS_SUCCESS, kSolverSuccess);
TEGNAS_ENUM(CUSOLVER_STATUS_NOT_INITIALIZED, kSolverNotInitialized);
TEGNAS_ENUM(CUSOLVER_STATUS_ALLOC_FAILED, kSolverAllocFailed);
TEGNAS_ENUM(CUSOLVER_STATUS_INVALID_VALUE, kSolverInvalidValue);
TEGNAS_ENUM(CUSOLVER_STATUS_ARCH_MISMATCH, kSolverArchMismatch);
TEGNAS_ENUM(CUSOLVER_STATUS_MAPPING_ERROR, kSolverMappingError);
TEGNAS_ENUM(CUSOLVER_STATUS_EXECUTION_FAILED, kSolverExecutionFailed);
TEGNAS_ENUM(CUSOLVER_STATUS_INTERNAL_ERROR, kSolverInternalError);
TEGNAS_ENUM(CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED, kSolverMatrixTypeNotSupported);
TEGNAS_ENUM(CUSOLVER_STATUS_NOT_SUPPORTED, kSolverNotSupported);
TEGNAS_ENUM(CUSOLVER_EIG_MODE_NOVECTOR, kEigNoVector);
TEGNAS_ENUM(CUSOLVER_EIG_MODE_VECTOR, kEigVector);
#undef TEGNAS_ENUM

// Enums are passed by value: they must have the real ones' size.
static_assert(sizeof(BlasStatus) == sizeof(::cublasStatus_t) && sizeof(BlasOperation) == sizeof(::cublasOperation_t) &&
                  sizeof(BlasFill) == sizeof(::cublasFillMode_t) && sizeof(BlasMath) == sizeof(::cublasMath_t) &&
                  sizeof(SolverStatus) == sizeof(::cusolverStatus_t) && sizeof(SolverEigMode) == sizeof(::cusolverEigMode_t),
              "enum sizes differ from the real headers");

}  // namespace abi
}  // namespace cuda
}  // namespace tegnas

// The function-type comparison above would be vacuous if the check were silently skipped: say so.
extern "C" const char tegnas_cuda_abi_checked[] = "cuda_libs.h checked against cublas_api.h and cusolverDn.h";
#else
extern "C" const char tegnas_cuda_abi_checked[] = "not checked (no cuBLAS/cuSOLVER headers at build time)";
#endif
