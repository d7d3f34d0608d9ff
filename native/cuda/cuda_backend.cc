#include "cuda_backend.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <sstream>

#include "../metrics/patterns.h"
#include "device_net.h"

#ifndef TEGNAS_CUDA_ARCHS
#define TEGNAS_CUDA_ARCHS "?"
#endif

extern "C" const char tegnas_cuda_abi_checked[];  // abi_check.cc

namespace tegnas {
namespace cuda {

namespace {

std::string version_text(int v) {
  if (v <= 0) return "none";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// Bits per input of the activation patterns: every ReLU node of the plan, in node order (as the CPU's
// append_patterns).
long long pattern_bits(const Plan& plan) {
  long long bits = 0;
  for (const Node& nd : plan.nodes)
    if (nd.op == Op::Relu) bits += static_cast<long long>(nd.c) * nd.h * nd.w;
  return bits;
}

// The patterns of the N inputs of a forward pass, OR-ed into rows (N x words, zeroed by the caller).
template <typename T>
void pack_patterns(Context& ctx, const Plan& plan, const DevActs<T>& acts, uint64_t* rows, int words) {
  long long off = 0;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const Node& nd = plan.nodes[i];
    if (nd.op != Op::Relu) continue;
    const long long HW = static_cast<long long>(nd.h) * nd.w;
    pack_relu_bits(acts.act[i].get(), nd.c, acts.N, HW, off, rows, words, ctx.stream());
    off += nd.c * HW;
  }
}

// LU of the n x n matrix A (overwritten) on the device: singular flag and log |det| into device slots,
// with the CPU engine's singularity test (see lu_verdict).
struct DeviceLu {
  Buf<double> work, scale;
  Buf<int> ipiv, info;
  void factor(Context& ctx, double* A, int n, int* singular, double* logdet) {
    const Libs& L = ctx.libs();
    scale.reset(ctx, 1);
    max_abs(A, static_cast<long long>(n) * n, scale.get(), ctx.stream());
    int lwork = 0;
    ctx.check_solver(L.dgetrf_buffer(ctx.solver(), n, n, A, n, &lwork), "cusolverDnDgetrf_bufferSize");
    work.reset(ctx, static_cast<size_t>(lwork > 0 ? lwork : 1));
    ipiv.reset(ctx, n);
    info.zeros(ctx, 1);
    ctx.check_solver(L.dgetrf(ctx.solver(), n, n, A, n, work.get(), ipiv.get(), info.get()), "cusolverDnDgetrf");
    lu_verdict(A, n, n, info.get(), scale.get(), singular, logdet, ctx.stream());
  }
};

// Slots of the small result arrays that come back at the end of an evaluation.
enum ResultSlot { kLambdaMin, kLambdaMax, kSumX, kSumY, kMse, kNaswotLogdet, kResults };
enum FlagSlot { kSyevdInfo, kKxxSingular, kGetrsInfo, kNaswotSingular, kFlags };

class CudaBackend final : public Backend {
 public:
  CudaBackend(Libs libs, int device) : libs_(std::move(libs)), ctx_(device, libs_) {}

  const char* name() const override { return "cuda"; }

  NtkResult ntk_indicators(const Plan& plan, const float* params, const NtkInputs<float>& in, const std::vector<int>& weights,
                           const std::vector<int>& cells, int) override {
    return ntk_as(plan, params, in, weights, cells);
  }
  NtkResult ntk_indicators(const Plan& plan, const double* params, const NtkInputs<double>& in, const std::vector<int>& weights,
                           const std::vector<int>& cells, int) override {
    return ntk_as(plan, params, in, weights, cells);
  }
  RegionResult linear_regions(const Plan& plan, const float* params, const float* x, int batch, int batches) override {
    return regions_as(plan, params, x, batch, batches);
  }
  RegionResult linear_regions(const Plan& plan, const double* params, const double* x, int batch, int batches) override {
    return regions_as(plan, params, x, batch, batches);
  }
  NaswotResult naswot(const Plan& plan, const float* params, const float* x, int batch) override {
    return naswot_as(plan, params, x, batch);
  }
  NaswotResult naswot(const Plan& plan, const double* params, const double* x, int batch) override {
    return naswot_as(plan, params, x, batch);
  }
  void forward(const Plan& plan, const float* params, const float* x, int N, std::vector<float>& out) override {
    forward_as(plan, params, x, N, out);
  }
  void forward(const Plan& plan, const double* params, const double* x, int N, std::vector<double>& out) override {
    forward_as(plan, params, x, N, out);
  }
  void per_sample_gradients(const Plan& plan, const float* params, const float* x, int N, const std::vector<int>& req, int,
                            float* logits, float* G) override {
    per_sample_as(plan, params, x, N, req, logits, G);
  }
  void per_sample_gradients(const Plan& plan, const double* params, const double* x, int N, const std::vector<int>& req, int,
                            double* logits, double* G) override {
    per_sample_as(plan, params, x, N, req, logits, G);
  }

 private:
  std::mutex mu_;  // one evaluation at a time on the device
  Libs libs_;
  Context ctx_;

  size_t input_size(const Plan& plan) const { return static_cast<size_t>(plan.in_c) * plan.in_h * plan.in_w; }

  template <typename T>
  void forward_as(const Plan& plan, const T* params, const T* x, int N, std::vector<T>& out) {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.use();
    Buf<T> dp, dx;
    dp.upload(ctx_, params, plan.total_params);
    dx.upload(ctx_, x, static_cast<size_t>(N) * input_size(plan));
    DevActs<T> acts;
    device_forward(ctx_, plan, dp.get(), dx.get(), N, acts, false);
    const Node& o = plan.nodes[plan.output];
    const long long HW = static_cast<long long>(o.h) * o.w;
    Buf<T> nchw(ctx_, static_cast<size_t>(N) * o.c * HW);
    cnhw_to_nchw(acts.act[plan.output].get(), nchw.get(), N, o.c, HW, ctx_.stream());
    out.assign(nchw.size(), T(0));
    download(ctx_, nchw.get(), out.data(), out.size());
    ctx_.sync();
  }

  template <typename T>
  void per_sample_as(const Plan& plan, const T* params, const T* x, int N, const std::vector<int>& req, T* logits, T* G) {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.use();
    const size_t P = requested_numel(plan, req);
    Buf<T> dp, dx;
    dp.upload(ctx_, params, plan.total_params);
    dx.upload(ctx_, x, static_cast<size_t>(N) * input_size(plan));
    DevActs<T> acts;
    device_forward(ctx_, plan, dp.get(), dx.get(), N, acts, true);
    Buf<T> dG;
    dG.zeros(ctx_, static_cast<size_t>(N) * P);
    device_per_sample_gradients(ctx_, plan, dp.get(), acts, req, dG.get());
    const Node& o = plan.nodes[plan.output];
    const long long HW = static_cast<long long>(o.h) * o.w;
    Buf<T> nchw(ctx_, static_cast<size_t>(N) * o.c * HW);
    cnhw_to_nchw(acts.act[plan.output].get(), nchw.get(), N, o.c, HW, ctx_.stream());
    download(ctx_, nchw.get(), logits, nchw.size());
    download(ctx_, dG.get(), G, dG.size());
    ctx_.sync();
  }

  template <typename T>
  NaswotResult naswot_as(const Plan& plan, const T* params, const T* x, int batch) {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.use();
    Buf<T> dp, dx;
    dp.upload(ctx_, params, plan.total_params);
    dx.upload(ctx_, x, static_cast<size_t>(batch) * input_size(plan));
    DevActs<T> acts;
    device_forward(ctx_, plan, dp.get(), dx.get(), batch, acts, false);
    Buf<double> res;
    res.zeros(ctx_, kResults);
    Buf<int> flags;
    flags.zeros(ctx_, kFlags);
    DeviceLu lu;
    Buf<uint64_t> rows;
    Buf<double> K;
    const long long bits = naswot_on_device(plan, acts, rows, K, lu, res.get(), flags.get());
    double hres[kResults];
    int hflags[kFlags];
    download(ctx_, res.get(), hres, kResults);
    download(ctx_, flags.get(), hflags, kFlags);
    ctx_.sync();
    NaswotResult r;
    r.bits = bits;
    r.singular = hflags[kNaswotSingular] != 0;
    r.logdet = r.singular ? -std::numeric_limits<double>::infinity() : hres[kNaswotLogdet];
    return r;
  }

  // NASWOT of the forward pass `acts`: patterns, agreement kernel, LU. Returns the bits per input.
  template <typename T>
  long long naswot_on_device(const Plan& plan, const DevActs<T>& acts, Buf<uint64_t>& rows, Buf<double>& K, DeviceLu& lu,
                             double* res, int* flags) {
    const int n = acts.N;
    const long long bits = pattern_bits(plan);
    const int words = static_cast<int>((bits + 63) / 64);
    rows.zeros(ctx_, static_cast<size_t>(n) * words);
    pack_patterns(ctx_, plan, acts, rows.get(), words);
    K.reset(ctx_, static_cast<size_t>(n) * n);
    hamming_agreement(rows.get(), n, words, bits, K.get(), ctx_.stream());
    lu.factor(ctx_, K.get(), n, flags + kNaswotSingular, res + kNaswotLogdet);
    return bits;
  }

  template <typename T>
  RegionResult regions_as(const Plan& plan, const T* params, const T* x, int batch, int batches) {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.use();
    const long long bits = pattern_bits(plan);
    const int words = static_cast<int>((bits + 63) / 64);
    const long long count = static_cast<long long>(batch) * batches;
    RegionResult r;
    r.bits = bits;
    r.inputs = static_cast<int>(count);
    if (count == 0) return r;
    const size_t per = input_size(plan);
    Buf<T> dp, dx;
    dp.upload(ctx_, params, plan.total_params);
    dx.upload(ctx_, x, static_cast<size_t>(count) * per);
    Buf<uint64_t> rows;
    rows.zeros(ctx_, static_cast<size_t>(count) * words);
    for (int b = 0; b < batches; ++b) {
      DevActs<T> acts;  // BatchNorm statistics per batch, as the CPU engine
      device_forward(ctx_, plan, dp.get(), dx.get() + static_cast<size_t>(b) * batch * per, batch, acts, false);
      pack_patterns(ctx_, plan, acts, rows.get() + static_cast<size_t>(b) * batch * words, words);
    }
    long long cap = 16;
    while (cap < count * 2) cap <<= 1;
    Buf<int> slots(ctx_, static_cast<size_t>(cap));
    Buf<unsigned long long> distinct(ctx_, 1);
    count_distinct_rows(rows.get(), static_cast<int>(count), words, slots.get(), cap, distinct.get(), ctx_.stream());
    unsigned long long h = 0;
    download(ctx_, distinct.get(), &h, 1);
    ctx_.sync();
    r.regions = static_cast<long long>(h);
    return r;
  }

  template <typename T>
  NtkResult ntk_as(const Plan& plan, const T* params, const NtkInputs<T>& in, const std::vector<int>& weights,
                   const std::vector<int>& cells) {
    std::lock_guard<std::mutex> lock(mu_);
    ctx_.use();
    const cudaStream_t st = ctx_.stream();
    const Libs& L = libs_;
    NtkResult r;
    const int B = in.B;
    const size_t P = requested_numel(plan, weights);
    // Columns of the cell parameters inside a row of G (for the regression), as the CPU engine.
    std::vector<long long> cell_cols;
    for (int c : cells) {
      size_t off = 0;
      bool found = false;
      for (int wi : weights) {
        if (wi == c) {
          found = true;
          break;
        }
        off += plan.params[wi].numel;
      }
      if (!found) throw EngineError("cell parameter '" + plan.params[c].name + "' is not among the NTK parameters");
      for (size_t k = 0; k < plan.params[c].numel; ++k) cell_cols.push_back(static_cast<long long>(off + k));
    }
    const long long Pc = static_cast<long long>(cell_cols.size());
    const size_t per = input_size(plan);

    Buf<double> res;
    res.zeros(ctx_, kResults);
    Buf<int> flags;
    flags.zeros(ctx_, kFlags);
    Buf<T> dp;
    dp.upload(ctx_, params, plan.total_params);

    // Training batch: forward (with NASWOT from its patterns), per-sample gradients of `weights`.
    Buf<T> G;
    G.zeros(ctx_, static_cast<size_t>(B) * P);
    DeviceLu naswot_lu;
    Buf<uint64_t> naswot_rows;
    Buf<double> naswot_K;
    long long naswot_bits = 0;
    {
      Buf<T> dx;
      dx.upload(ctx_, in.x, static_cast<size_t>(B) * per);
      DevActs<T> acts;
      device_forward(ctx_, plan, dp.get(), dx.get(), B, acts, true);
      if (in.naswot) naswot_bits = naswot_on_device(plan, acts, naswot_rows, naswot_K, naswot_lu, res.get(), flags.get());
      device_per_sample_gradients(ctx_, plan, dp.get(), acts, weights, G.get());
    }

    // NTK = G G^T in float64 (lower triangle), checked finite before the eigensolver sees it.
    Buf<double> Gd(ctx_, static_cast<size_t>(B) * P);
    to_double(G.get(), Gd.get(), static_cast<long long>(B) * P, st);
    G.release();
    Buf<double> K;
    K.zeros(ctx_, static_cast<size_t>(B) * B);
    if (P > 0) {
      const double one = 1, zero = 0;
      ctx_.check_blas(L.dsyrk(ctx_.blas(), kFillLower, kOpT, B, static_cast<int>(P), &one, Gd.get(), static_cast<int>(P), &zero,
                              K.get(), B),
                      "cublasDsyrk");
    }
    Buf<int> nonfinite(ctx_, 1);
    any_nonfinite(K.get(), static_cast<long long>(B) * B, nonfinite.get(), st);
    int h_nonfinite = 0;
    download(ctx_, nonfinite.get(), &h_nonfinite, 1);
    ctx_.sync();
    if (h_nonfinite) throw EngineError("eigensolver: the matrix has a non-finite entry");
    Buf<double> W(ctx_, static_cast<size_t>(B));
    {
      int lwork = 0;
      ctx_.check_solver(L.dsyevd_buffer(ctx_.solver(), kEigNoVector, kFillLower, B, K.get(), B, W.get(), &lwork),
                        "cusolverDnDsyevd_bufferSize");
      Buf<double> work(ctx_, static_cast<size_t>(lwork > 0 ? lwork : 1));
      ctx_.check_solver(L.dsyevd(ctx_.solver(), kEigNoVector, kFillLower, B, K.get(), B, W.get(), work.get(), lwork,
                                 flags.get() + kSyevdInfo),
                        "cusolverDnDsyevd");
    }
    // Eigenvalues come ascending.
    TEGNAS_CUDA_CHECK(cudaMemcpyAsync(res.get() + kLambdaMin, W.get(), sizeof(double), cudaMemcpyDeviceToDevice, st));
    TEGNAS_CUDA_CHECK(cudaMemcpyAsync(res.get() + kLambdaMax, W.get() + (B - 1), sizeof(double), cudaMemcpyDeviceToDevice, st));

    // The regression: cell gradients of both batches, Kxx^-1 Tx, prediction Kyx Z against Ty.
    const bool regression = in.vx && Pc > 0;
    std::string label_error;
    Buf<double> Gc, Gyd, Kxx, Kyx, Z, Ty, Pred;
    Buf<long long> dcols;
    Buf<int> ipiv_info;
    DeviceLu kxx_lu;
    if (regression) {
      Buf<T> Gy;
      Gy.zeros(ctx_, static_cast<size_t>(in.Bv) * Pc);
      {
        Buf<T> dvx;
        dvx.upload(ctx_, in.vx, static_cast<size_t>(in.Bv) * per);
        DevActs<T> vacts;
        device_forward(ctx_, plan, dp.get(), dvx.get(), in.Bv, vacts, true);
        device_per_sample_gradients(ctx_, plan, dp.get(), vacts, cells, Gy.get());
      }
      dcols.upload(ctx_, cell_cols.data(), cell_cols.size());
      Gc.reset(ctx_, static_cast<size_t>(B) * Pc);
      gather_columns(Gd.get(), B, static_cast<long long>(P), dcols.get(), Pc, Gc.get(), st);
      Gd.release();
      sum_all(Gc.get(), static_cast<long long>(B) * Pc, res.get() + kSumX, st);
      Gyd.reset(ctx_, static_cast<size_t>(in.Bv) * Pc);
      to_double(Gy.get(), Gyd.get(), static_cast<long long>(in.Bv) * Pc, st);
      Gy.release();
      sum_all(Gyd.get(), static_cast<long long>(in.Bv) * Pc, res.get() + kSumY, st);

      // Centred one-hot targets: Tx column-major (the solver's right-hand side), Ty row-major.
      const int C = in.classes;
      auto centred = [&](const int* y, int n, bool col_major, std::vector<double>& out) {
        out.assign(static_cast<size_t>(n) * C, 0.0);
        for (int i = 0; i < n; ++i) {
          if (y[i] < 0 || y[i] >= C) {
            if (label_error.empty())
              label_error = "label " + std::to_string(y[i]) + " is outside 0.." + std::to_string(C - 1);
            return false;
          }
        }
        std::vector<double> rm(static_cast<size_t>(n) * C, 0.0);
        for (int i = 0; i < n; ++i) rm[static_cast<size_t>(i) * C + y[i]] = 1.0;
        for (int k = 0; k < C; ++k) {
          double m = 0;
          for (int i = 0; i < n; ++i) m += rm[static_cast<size_t>(i) * C + k];
          m /= n;
          for (int i = 0; i < n; ++i) rm[static_cast<size_t>(i) * C + k] -= m;
        }
        for (int i = 0; i < n; ++i)
          for (int k = 0; k < C; ++k)
            out[col_major ? static_cast<size_t>(k) * n + i : static_cast<size_t>(i) * C + k] = rm[static_cast<size_t>(i) * C + k];
        return true;
      };
      std::vector<double> tx, ty;
      if (C >= 1 && centred(in.y, B, true, tx) && centred(in.vy, in.Bv, false, ty)) {
        Kxx.reset(ctx_, static_cast<size_t>(B) * B);
        gemm_rm<double>(ctx_, false, true, B, B, static_cast<int>(Pc), 1.0, Gc.get(), static_cast<int>(Pc), 0, Gc.get(),
                        static_cast<int>(Pc), 0, 0.0, Kxx.get(), B, 0, 1);
        Kyx.reset(ctx_, static_cast<size_t>(in.Bv) * B);
        gemm_rm<double>(ctx_, false, true, in.Bv, B, static_cast<int>(Pc), 1.0, Gyd.get(), static_cast<int>(Pc), 0, Gc.get(),
                        static_cast<int>(Pc), 0, 0.0, Kyx.get(), B, 0, 1);
        Z.upload(ctx_, tx.data(), tx.size());
        Ty.upload(ctx_, ty.data(), ty.size());
        // Kxx is symmetric: its row-major layout is also the column-major one the solver reads.
        kxx_lu.factor(ctx_, Kxx.get(), B, flags.get() + kKxxSingular, nullptr);
        ctx_.check_solver(L.dgetrs(ctx_.solver(), kOpN, B, C, Kxx.get(), B, kxx_lu.ipiv.get(), Z.get(), B,
                                   flags.get() + kGetrsInfo),
                          "cusolverDnDgetrs");
        // Z is B x C column-major = C x B row-major: prediction (Bv x C, row-major) = Kyx Z.
        Pred.reset(ctx_, static_cast<size_t>(in.Bv) * C);
        gemm_rm<double>(ctx_, false, true, in.Bv, C, B, 1.0, Kyx.get(), B, 0, Z.get(), B, 0, 0.0, Pred.get(), C, 0, 1);
        squared_error(Pred.get(), Ty.get(), static_cast<long long>(in.Bv) * C, static_cast<double>(in.Bv), res.get() + kMse, st);
      }
    }

    // The only copy back: the final numbers.
    double hres[kResults];
    int hflags[kFlags];
    download(ctx_, res.get(), hres, kResults);
    download(ctx_, flags.get(), hflags, kFlags);
    ctx_.sync();

    if (hflags[kSyevdInfo] != 0) {
      std::ostringstream o;
      o << "eigensolver: cuSOLVER syevd " << (hflags[kSyevdInfo] > 0 ? "did not converge" : "rejected an argument")
        << " (info " << hflags[kSyevdInfo] << ")";
      throw EngineError(o.str());
    }
    // From here on, the CPU engine's decisions and messages (metrics/indicators.cc).
    r.lambda_min = hres[kLambdaMin];
    r.lambda_max = hres[kLambdaMax];
    if (!(r.lambda_max > 0)) {
      r.cond_bad = true;
      r.cond_reason = "all gradients are zero (the NTK is the zero matrix)";
    } else if (!(r.lambda_min > B * std::numeric_limits<double>::epsilon() * r.lambda_max)) {
      r.cond_bad = true;
      std::ostringstream o;
      o << "the NTK is singular (smallest eigenvalue " << r.lambda_min << ", largest " << r.lambda_max << ")";
      r.cond_reason = o.str();
    } else {
      r.cond = r.lambda_max / r.lambda_min;
    }
    if (in.naswot) {
      r.naswot_computed = true;
      r.naswot_bits = naswot_bits;
      r.naswot_singular = hflags[kNaswotSingular] != 0;
      r.naswot_logdet = r.naswot_singular ? -std::numeric_limits<double>::infinity() : hres[kNaswotLogdet];
    }
    if (!in.vx) return r;
    r.mse_computed = true;
    if (Pc == 0) {
      r.mse_bad = true;
      r.mse_reason = "the network has no cell parameters";
      return r;
    }
    if (hres[kSumX] == 0 || hres[kSumY] == 0) {
      r.mse_bad = true;
      r.mse_reason = "the cell gradients are all zero";
      return r;
    }
    if (!label_error.empty()) throw EngineError(label_error);
    if (hflags[kKxxSingular] != 0) {
      r.mse_bad = true;
      r.mse_reason = "the cell NTK of the training batch is singular";
      return r;
    }
    r.mse = hres[kMse];
    if (!std::isfinite(r.mse)) {
      r.mse_bad = true;
      r.mse_reason = "the regression error is not finite";
      r.mse = 0;
    }
    return r;
  }
};

// Why the driver cannot be used, as plainly as possible.
std::string driver_problem(cudaError_t e) {
  std::ostringstream o;
  if (e == cudaErrorInsufficientDriver) {
    int drv = 0;
    cudaDriverGetVersion(&drv);
    o << "the NVIDIA driver supports CUDA " << version_text(drv) << " but this build needs CUDA " << version_text(CUDART_VERSION)
      << " or newer (cudaErrorInsufficientDriver); update the driver";
  } else if (e == cudaErrorNoDevice) {
    o << "no CUDA device (the driver is installed but found no GPU: cudaErrorNoDevice)";
  } else {
    o << "CUDA cannot start: " << cudaGetErrorName(e) << ": " << cudaGetErrorString(e);
  }
  return o.str();
}

std::unique_ptr<Backend> create(std::string& why, BackendDetails& details) {
  details.emplace_back("runtime", version_text(CUDART_VERSION));
  details.emplace_back("architectures", TEGNAS_CUDA_ARCHS);
  details.emplace_back("abiCheck", tegnas_cuda_abi_checked);
  // The driver library: without it there is nothing to try (and the runtime's own error, "driver
  // version is insufficient", would mislead).
#ifndef TEGNAS_CUDA_EMULATION
  dlerror();
  void* drv_lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!drv_lib) {
    const char* e = dlerror();
    why = std::string("no NVIDIA driver: ") + (e ? e : "libcuda.so.1 cannot be loaded");
    return nullptr;
  }
#else
  details.emplace_back("emulation", "host emulation of the CUDA runtime, cuBLAS and cuSOLVER (native/cuda/emu): not a GPU");
#endif
  int drv = 0;
  if (cudaDriverGetVersion(&drv) == cudaSuccess) details.emplace_back("driver", version_text(drv));
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    why = driver_problem(e);
    return nullptr;
  }
  details.emplace_back("devices", std::to_string(n));
  if (n <= 0) {
    why = "no CUDA device";
    return nullptr;
  }
  int device = 0;
  if (const char* env = std::getenv("TEGNAS_CUDA_DEVICE")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (!*env || *end || v < 0 || v >= n) {
      why = std::string("TEGNAS_CUDA_DEVICE=") + env + " is not a device index (0.." + std::to_string(n - 1) + ")";
      return nullptr;
    }
    device = static_cast<int>(v);
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();
    why = "cannot read the properties of CUDA device " + std::to_string(device);
    return nullptr;
  }
  details.emplace_back("device", std::to_string(device));
  details.emplace_back("name", prop.name);
  details.emplace_back("computeCapability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
  details.emplace_back("memory", std::to_string(prop.totalGlobalMem));
  try {
    TEGNAS_CUDA_CHECK(cudaSetDevice(device));
    probe_kernel(nullptr);
  } catch (const std::exception& ex) {
    cudaGetLastError();
    why = std::string("the GPU cannot run this build's kernels (built for CUDA architectures ") + TEGNAS_CUDA_ARCHS + ", the device is sm_" +
          std::to_string(prop.major) + std::to_string(prop.minor) + "): " + ex.what();
    return nullptr;
  }
  Libs L = load_libs();
  if (!L.ok) {
    why = L.error;
    return nullptr;
  }
  details.emplace_back("cublas", L.cublas_path);
  details.emplace_back("cusolver", L.cusolver_path);
  std::unique_ptr<CudaBackend> b(new CudaBackend(std::move(L), device));  // throws EngineError on a failed handle
  const std::string bad = self_test(*b);
  if (!bad.empty()) {
    why = "the CUDA backend's self-test does not agree with the CPU engine, so it is not used: " + bad;
    return nullptr;
  }
  details.emplace_back("selfTest", "passed");
  return b;
}

// ---- self-test ----

// A deterministic uniform draw in [lo, hi).
struct Lcg {
  uint64_t s;
  double next(double lo, double hi) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
  }
};

// Every op: conv (bias, padding, stride, dilation, groups, pointwise), batchnorm, relu, both pools,
// add (an input twice), shift, zero, concat, global average pool, linear over a map and over a vector.
Plan self_test_plan() {
  Plan p;
  p.in_c = 2; p.in_h = 6; p.in_w = 6;
  auto param = [&](const std::string& name, std::vector<int> shape) {
    ParamInfo pi;
    pi.name = name;
    pi.shape = std::move(shape);
    p.params.push_back(pi);
    return static_cast<int>(p.params.size() - 1);
  };
  auto node = [&](Op op, std::vector<int> inputs) -> Node& {
    Node nd;
    nd.op = op;
    nd.inputs = std::move(inputs);
    p.nodes.push_back(nd);
    return p.nodes.back();
  };
  node(Op::Input, {});
  { Node& n = node(Op::Conv2d, {0}); n.weight = param("a.weight", {3, 2, 3, 3}); n.bias = param("a.bias", {3}); n.ph = n.pw = 1; }  // 1
  { Node& n = node(Op::BatchNorm, {1}); n.weight = param("bn1.weight", {3}); n.bias = param("bn1.bias", {3}); }                     // 2
  node(Op::Relu, {2});                                                                                                               // 3
  { Node& n = node(Op::MaxPool, {3}); n.kh = n.kw = 3; n.sh = n.sw = 2; n.ph = n.pw = 1; }                                         // 4: 3x3x3
  { Node& n = node(Op::Conv2d, {4}); n.weight = param("cells.b.weight", {3, 1, 3, 3}); n.groups = 3; n.dh = n.dw = 2; n.ph = n.pw = 2; }  // 5
  { Node& n = node(Op::AvgPool, {5}); n.kh = n.kw = 3; n.sh = n.sw = 1; n.ph = n.pw = 1; }                                         // 6
  node(Op::Add, {4, 6, 6});                                                                                                          // 7
  node(Op::Shift, {7});                                                                                                              // 8
  { Node& n = node(Op::Conv2d, {7}); n.weight = param("cells.c.weight", {2, 3, 1, 1}); }                                           // 9
  { Node& n = node(Op::Zero, {7}); n.channels = 2; n.stride = 1; }                                                                 // 10
  node(Op::Concat, {8, 9, 10});                                                                                                      // 11: 7x3x3
  node(Op::Relu, {11});                                                                                                              // 12
  { Node& n = node(Op::Conv2d, {12}); n.weight = param("cells.d.weight", {4, 7, 3, 3}); n.sh = n.sw = 2; n.ph = n.pw = 1; }        // 13: 4x2x2
  { Node& n = node(Op::BatchNorm, {13}); n.weight = param("bn2.weight", {4}); n.bias = param("bn2.bias", {4}); }                   // 14
  node(Op::Relu, {14});                                                                                                              // 15
  node(Op::GlobalAvgPool, {15});                                                                                                     // 16
  { Node& n = node(Op::Linear, {16}); n.weight = param("fc.weight", {3, 4}); n.bias = param("fc.bias", {3}); }                     // 17
  { Node& n = node(Op::Linear, {15}); n.weight = param("fc2.weight", {3, 16}); }                                                   // 18
  node(Op::Add, {17, 18});                                                                                                           // 19
  p.output = 19;
  validate_plan(p);
  return p;
}

template <typename T>
double max_rel(const std::vector<T>& a, const std::vector<T>& b) {
  double scale = 0, diff = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  return scale > 0 ? diff / scale : diff;
}

bool close(double a, double b, double tol) {
  return std::fabs(a - b) <= tol * std::max(std::fabs(a), std::fabs(b)) || (std::isinf(a) && std::isinf(b) && a == b);
}

}  // namespace

std::string self_test(Backend& gpu) {
  Backend& cpu = cpu_backend();
  const Plan plan = self_test_plan();
  Lcg rng{12345};
  std::vector<double> params(plan.total_params);
  for (const ParamInfo& pi : plan.params) {
    const bool bn = pi.name.rfind("bn", 0) == 0;
    const bool bias = pi.name.find("bias") != std::string::npos;
    for (size_t k = 0; k < pi.numel; ++k)
      params[pi.offset + k] = bn && !bias ? rng.next(0.5, 1.5) : rng.next(-0.6, 0.6);
  }
  const int B = 8;
  const size_t per = static_cast<size_t>(plan.in_c) * plan.in_h * plan.in_w;
  std::vector<double> x(B * per), vx(B * per), rx(3 * B * per);
  for (double& v : x) v = rng.next(-1, 1);
  for (double& v : vx) v = rng.next(-1, 1);
  for (double& v : rx) v = rng.next(-1, 1);
  std::vector<int> y(B), vy(B), all, weights, cells;
  for (int i = 0; i < B; ++i) y[i] = i % 3, vy[i] = (i * 2 + 1) % 3;
  for (size_t i = 0; i < plan.params.size(); ++i) {
    all.push_back(static_cast<int>(i));
    if (plan.params[i].name.find("weight") != std::string::npos) weights.push_back(static_cast<int>(i));
    if (plan.params[i].name.rfind("cells.", 0) == 0) cells.push_back(static_cast<int>(i));
  }
  std::ostringstream bad;
  try {
    // float64: the two engines agree to rounding.
    std::vector<double> out_c, out_g;
    cpu.forward(plan, params.data(), x.data(), B, out_c);
    gpu.forward(plan, params.data(), x.data(), B, out_g);
    if (max_rel(out_g, out_c) > 1e-9) bad << "forward differs by " << max_rel(out_g, out_c) << "; ";
    const size_t P = requested_numel(plan, all), K = out_c.size() / B;
    std::vector<double> lc(B * K), lg(B * K), Gc(B * P), Gg(B * P);
    cpu.per_sample_gradients(plan, params.data(), x.data(), B, all, 1, lc.data(), Gc.data());
    gpu.per_sample_gradients(plan, params.data(), x.data(), B, all, 1, lg.data(), Gg.data());
    if (max_rel(Gg, Gc) > 1e-8) bad << "per-sample gradients differ by " << max_rel(Gg, Gc) << "; ";
    NtkInputs<double> in;
    in.x = x.data(); in.B = B; in.y = y.data(); in.vx = vx.data(); in.Bv = B; in.vy = vy.data(); in.classes = 3; in.naswot = true;
    const NtkResult a = cpu.ntk_indicators(plan, params.data(), in, weights, cells, 1);
    const NtkResult b = gpu.ntk_indicators(plan, params.data(), in, weights, cells, 1);
    if (a.cond_bad != b.cond_bad || (!a.cond_bad && !close(a.cond, b.cond, 1e-6)))
      bad << "NTK condition number " << b.cond << " (" << b.cond_reason << ") vs CPU " << a.cond << " (" << a.cond_reason << "); ";
    if (a.mse_bad != b.mse_bad || (!a.mse_bad && !close(a.mse, b.mse, 1e-6)))
      bad << "regression error " << b.mse << " (" << b.mse_reason << ") vs CPU " << a.mse << " (" << a.mse_reason << "); ";
    if (a.naswot_singular != b.naswot_singular || a.naswot_bits != b.naswot_bits || !close(a.naswot_logdet, b.naswot_logdet, 1e-9))
      bad << "NASWOT " << b.naswot_logdet << " vs CPU " << a.naswot_logdet << "; ";
    const RegionResult ra = cpu.linear_regions(plan, params.data(), rx.data(), B, 3);
    const RegionResult rb = gpu.linear_regions(plan, params.data(), rx.data(), B, 3);
    if (ra.regions != rb.regions || ra.bits != rb.bits)
      bad << "linear regions " << rb.regions << " vs CPU " << ra.regions << "; ";
    // float32: the same code path at the precision the scorer uses.
    std::vector<float> pf(params.begin(), params.end()), xf(x.begin(), x.end());
    std::vector<float> lcf(B * K), lgf(B * K), Gcf(B * P), Ggf(B * P);
    cpu.per_sample_gradients(plan, pf.data(), xf.data(), B, all, 1, lcf.data(), Gcf.data());
    gpu.per_sample_gradients(plan, pf.data(), xf.data(), B, all, 1, lgf.data(), Ggf.data());
    if (max_rel(lgf, lcf) > 1e-4 || max_rel(Ggf, Gcf) > 1e-4)
      bad << "float32 per-sample gradients differ by " << max_rel(Ggf, Gcf) << "; ";
  } catch (const std::exception& e) {
    bad << "it failed: " << e.what();
  }
  std::string s = bad.str();
  if (s.size() >= 2 && s.compare(s.size() - 2, 2, "; ") == 0) s.resize(s.size() - 2);
  return s;
}

void register_backend() {
  static std::once_flag once;  // the registry is the state; this only keeps a second addon load from re-registering
  std::call_once(once, []() { tegnas::register_backend("cuda", create); });
}

}  // namespace cuda
}  // namespace tegnas
