// The CUDA backend's device context (device, stream, cuBLAS / cuSOLVER handles, allocator) and an
// owning device buffer. Host code, compiled by the C++ compiler.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "cuda_libs.h"
#include "kernels.h"

namespace tegnas {
namespace cuda {

class Context {
 public:
  // Opens `device`: a non-blocking stream, cuBLAS (pedantic float math: no TF32) and cuSOLVER handles
  // on it, the stream-ordered allocator when the device has one. Throws EngineError.
  Context(int device, const Libs& libs);
  // The handles and stream are deliberately not destroyed: the backend lives until the process exits,
  // and tearing cuBLAS down after the CUDA runtime has shut itself down at exit can crash.
  ~Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  BlasHandle blas() const { return blas_; }
  SolverHandle solver() const { return solver_; }
  const Libs& libs() const { return libs_; }

  // Makes the device current on the calling thread (every entry point calls it first).
  void use() const;
  void* alloc(size_t bytes);
  void free(void* p) noexcept;
  void sync() const;

  void check_blas(BlasStatus s, const char* what) const;
  void check_solver(SolverStatus s, const char* what) const;

 private:
  int device_;
  const Libs& libs_;
  cudaStream_t stream_ = nullptr;
  BlasHandle blas_ = nullptr;
  SolverHandle solver_ = nullptr;
  bool pool_ = false;  // cudaMallocAsync / cudaFreeAsync
};

// n values of T on the device, freed (stream-ordered) when the buffer goes.
template <typename T>
class Buf {
 public:
  Buf() = default;
  Buf(Context& ctx, size_t n) { reset(ctx, n); }
  ~Buf() { release(); }
  Buf(Buf&& o) noexcept : ctx_(o.ctx_), p_(o.p_), n_(o.n_) { o.ctx_ = nullptr; o.p_ = nullptr; o.n_ = 0; }
  Buf& operator=(Buf&& o) noexcept {
    if (this != &o) {
      release();
      ctx_ = o.ctx_; p_ = o.p_; n_ = o.n_;
      o.ctx_ = nullptr; o.p_ = nullptr; o.n_ = 0;
    }
    return *this;
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;

  void reset(Context& ctx, size_t n) {
    release();
    ctx_ = &ctx;
    n_ = n;
    p_ = n ? static_cast<T*>(ctx.alloc(n * sizeof(T))) : nullptr;
  }
  // reset + zero fill (stream-ordered).
  void zeros(Context& ctx, size_t n) {
    reset(ctx, n);
    if (n) TEGNAS_CUDA_CHECK(cudaMemsetAsync(p_, 0, n * sizeof(T), ctx.stream()));
  }
  void release() noexcept {
    if (p_ && ctx_) ctx_->free(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return p_ == nullptr; }

  void upload(Context& ctx, const T* host, size_t n) {
    reset(ctx, n);
    if (n) TEGNAS_CUDA_CHECK(cudaMemcpyAsync(p_, host, n * sizeof(T), cudaMemcpyHostToDevice, ctx.stream()));
  }

 private:
  Context* ctx_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

// Row-major C = alpha op(A) op(B) + beta C (M x N, K inner), batched over `batch` with strides
// sA, sB, sC between the matrices (a stride may be 0: the same matrix for every batch entry).
template <typename T>
void gemm_rm(Context& ctx, bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, long long sA,
             const T* B, int ldb, long long sB, T beta, T* C, int ldc, long long sC, int batch);

// Copies n values from the device (stream-ordered; call ctx.sync() before reading `host`).
template <typename T>
void download(Context& ctx, const T* dev, T* host, size_t n) {
  if (n) TEGNAS_CUDA_CHECK(cudaMemcpyAsync(host, dev, n * sizeof(T), cudaMemcpyDeviceToHost, ctx.stream()));
}

}  // namespace cuda
}  // namespace tegnas
