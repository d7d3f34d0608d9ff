// dlopen loader for cuBLAS and cuSOLVER (see cuda_libs.h).
#include "cuda_libs.h"

#include <dlfcn.h>

#include <cstdlib>
#include <sstream>
#include <vector>

#ifndef TEGNAS_CUDA_TOOLKIT_LIBDIR
#define TEGNAS_CUDA_TOOLKIT_LIBDIR ""
#endif

namespace tegnas {
namespace cuda {

namespace {

constexpr int kCudaMajor = CUDART_VERSION / 1000;

// Shared-object names per CUDA major version: cuBLAS follows the toolkit's major version; cuSOLVER
// is one behind from CUDA 13 (11.x ships with CUDA 11 and 12, 12.x with CUDA 13).
struct Names {
  std::string cublaslt, cublas, cusolver;
  std::vector<std::string> solver_deps;  // what libcusolver needs besides cuBLAS, preloaded when found
};

Names names_for_build() {
  Names n;
  const std::string blas = std::to_string(kCudaMajor);
  const std::string solver = std::to_string(kCudaMajor >= 13 ? kCudaMajor - 1 : 11);
  n.cublaslt = "libcublasLt.so." + blas;
  n.cublas = "libcublas.so." + blas;
  n.cusolver = "libcusolver.so." + solver;
  if (kCudaMajor >= 12) {
    n.solver_deps = {"libnvJitLink.so." + blas, "libcusparse.so." + std::to_string(kCudaMajor >= 13 ? kCudaMajor - 1 : 12)};
  } else {
    n.solver_deps = {"libcusparse.so." + blas};
  }
  return n;
}

std::vector<std::string> split_dirs(const char* s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = s; *p; ++p) {
    if (*p == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += *p;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Where to look. An empty folder means "the loader's own search path" (the bare name).
std::vector<std::string> search_dirs(bool& overridden) {
  const char* env = std::getenv("TEGNAS_CUDA_LIB_DIR");
  overridden = env && *env;
  if (overridden) return split_dirs(env);
  std::vector<std::string> dirs{""};
  const std::string toolkit = TEGNAS_CUDA_TOOLKIT_LIBDIR;
  if (!toolkit.empty()) dirs.push_back(toolkit);
  if (toolkit != "/usr/local/cuda/lib64") dirs.push_back("/usr/local/cuda/lib64");
  return dirs;
}

std::string join(const std::string& dir, const std::string& file) {
  if (dir.empty()) return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

// dlopen of `file` in the first folder that has it; the handle, or null with every attempt in `tried`.
void* open_first(const std::vector<std::string>& dirs, const std::string& file, std::string& tried) {
  for (const std::string& d : dirs) {
    const std::string path = join(d, file);
    dlerror();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char* e = dlerror();
    if (!tried.empty()) tried += "; ";
    tried += e ? e : (path + ": dlopen failed");
  }
  return nullptr;
}

std::string path_of(void* symbol) {
  Dl_info info;
  if (symbol && dladdr(symbol, &info) && info.dli_fname) return info.dli_fname;
  return "?";
}

template <typename F>
bool sym(void* lib, const char* name, const std::string& file, F& out, std::string& error) {
  dlerror();
  void* p = dlsym(lib, name);
  if (!p) {
    const char* e = dlerror();
    error = file + " has no symbol " + name + (e ? std::string(" (") + e + ")" : std::string());
    return false;
  }
  out = reinterpret_cast<F>(p);
  return true;
}

}  // namespace

#ifdef TEGNAS_CUDA_EMULATION
Libs emulated_libs();  // emu/emu_runtime.cc
#endif

Libs load_libs() {
#ifdef TEGNAS_CUDA_EMULATION
  return emulated_libs();
#endif
  Libs L;
  const Names n = names_for_build();
  bool overridden = false;
  const std::vector<std::string> dirs = search_dirs(overridden);
  const std::string where = overridden ? std::string(" in TEGNAS_CUDA_LIB_DIR=") + std::getenv("TEGNAS_CUDA_LIB_DIR") : std::string();
  const std::string hint = overridden ? std::string()
                                      : std::string("; set TEGNAS_CUDA_LIB_DIR to the folder holding ") + n.cublas + " and " +
                                            n.cusolver;

  // cuBLAS needs cuBLASLt: load it first from the same folders, so that libcublas finds it there even
  // when that folder is not on the loader's search path (a dependency already loaded is matched by name).
  std::string tried_lt;
  open_first(dirs, n.cublaslt, tried_lt);  // optional here: if it is missing, loading libcublas says so
  std::string tried;
  void* blas = open_first(dirs, n.cublas, tried);
  if (!blas) {
    L.error = "cuBLAS not found" + where + ": " + tried + hint;
    return L;
  }
  std::string ignored;
  for (const std::string& dep : n.solver_deps) open_first(dirs, dep, ignored);  // optional: the loader may find them itself
  tried.clear();
  void* solver = open_first(dirs, n.cusolver, tried);
  if (!solver) {
    L.error = "cuSOLVER not found" + where + ": " + tried + hint;
    return L;
  }
  std::string& e = L.error;
  const bool all =
      sym(blas, "cublasCreate_v2", n.cublas, L.blas_create, e) && sym(blas, "cublasDestroy_v2", n.cublas, L.blas_destroy, e) &&
      sym(blas, "cublasSetStream_v2", n.cublas, L.blas_set_stream, e) &&
      sym(blas, "cublasSetMathMode", n.cublas, L.blas_set_math_mode, e) && sym(blas, "cublasSgemm_v2", n.cublas, L.sgemm, e) &&
      sym(blas, "cublasDgemm_v2", n.cublas, L.dgemm, e) &&
      sym(blas, "cublasSgemmStridedBatched", n.cublas, L.sgemm_strided, e) &&
      sym(blas, "cublasDgemmStridedBatched", n.cublas, L.dgemm_strided, e) && sym(blas, "cublasDsyrk_v2", n.cublas, L.dsyrk, e) &&
      sym(solver, "cusolverDnCreate", n.cusolver, L.solver_create, e) &&
      sym(solver, "cusolverDnDestroy", n.cusolver, L.solver_destroy, e) &&
      sym(solver, "cusolverDnSetStream", n.cusolver, L.solver_set_stream, e) &&
      sym(solver, "cusolverDnDsyevd_bufferSize", n.cusolver, L.dsyevd_buffer, e) &&
      sym(solver, "cusolverDnDsyevd", n.cusolver, L.dsyevd, e) &&
      sym(solver, "cusolverDnDgetrf_bufferSize", n.cusolver, L.dgetrf_buffer, e) &&
      sym(solver, "cusolverDnDgetrf", n.cusolver, L.dgetrf, e) && sym(solver, "cusolverDnDgetrs", n.cusolver, L.dgetrs, e);
  if (!all) return L;
  L.cublas_path = path_of(reinterpret_cast<void*>(L.sgemm));
  L.cusolver_path = path_of(reinterpret_cast<void*>(L.dsyevd));
  L.ok = true;
  L.error.clear();
  // The libraries stay loaded for the life of the process (the handles are never closed).
  return L;
}

std::string library_names() {
  const Names n = names_for_build();
  return n.cublas + " and " + n.cusolver;
}

const char* blas_status_name(BlasStatus s) {
  switch (s) {
    case kBlasSuccess: return "CUBLAS_STATUS_SUCCESS";
    case kBlasNotInitialized: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case kBlasAllocFailed: return "CUBLAS_STATUS_ALLOC_FAILED";
    case kBlasInvalidValue: return "CUBLAS_STATUS_INVALID_VALUE";
    case kBlasArchMismatch: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case kBlasMappingError: return "CUBLAS_STATUS_MAPPING_ERROR";
    case kBlasExecutionFailed: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case kBlasInternalError: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case kBlasNotSupported: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case kBlasLicenseError: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_(unknown)";
}

const char* solver_status_name(SolverStatus s) {
  switch (s) {
    case kSolverSuccess: return "CUSOLVER_STATUS_SUCCESS";
    case kSolverNotInitialized: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case kSolverAllocFailed: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case kSolverInvalidValue: return "CUSOLVER_STATUS_INVALID_VALUE";
    case kSolverArchMismatch: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case kSolverMappingError: return "CUSOLVER_STATUS_MAPPING_ERROR";
    case kSolverExecutionFailed: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case kSolverInternalError: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case kSolverMatrixTypeNotSupported: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case kSolverNotSupported: return "CUSOLVER_STATUS_NOT_SUPPORTED";
  }
  return "CUSOLVER_STATUS_(unknown)";
}

}  // namespace cuda
}  // namespace tegnas
