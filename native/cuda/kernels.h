// Launchers of the CUDA backend's kernels (kernels.cu). Plain types only, so the host code that calls
// them (device_net.cc, cuda_backend.cc) is compiled by the C++ compiler, not nvcc.
//
// Layouts on the device:
//   activation of a node   [C][N][H][W]       ("CNHW": a channel's values over the batch are contiguous)
//   output gradient        [S][C][N][H][W]    (S seeds, seed outermost: each seed is one CNHW tensor)
// Every backward launcher ACCUMULATES (+=) into its outputs. Every launcher checks the launch and
// throws EngineError (through fail()) on a CUDA error; kernels run on the given stream.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace tegnas {
namespace cuda {

// Throws EngineError "CUDA error in <what> (<file>:<line>): <name>: <text>".
[[noreturn]] void fail(const char* what, cudaError_t e, const char* file, int line);

#define TEGNAS_CUDA_CHECK(call)                                                          \
  do {                                                                                   \
    const cudaError_t tegnas_e_ = (call);                                                \
    if (tegnas_e_ != cudaSuccess) ::tegnas::cuda::fail(#call, tegnas_e_, __FILE__, __LINE__); \
  } while (0)

struct ConvDims {
  int cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int hin, win, hout, wout;
};
struct PoolDims {
  int k, stride, pad;
  int hin, win, hout, wout;
};

// A tiny kernel, launched and waited for: proves that this binary has code the device can run.
void probe_kernel(cudaStream_t st);

template <typename T> void nchw_to_cnhw(const T* x, T* y, int N, int C, long long HW, cudaStream_t st);
template <typename T> void cnhw_to_nchw(const T* x, T* y, int N, int C, long long HW, cudaStream_t st);

// col[(ci*kh + i)*kw + j][n*HWo + o] = x[ci][n][input pixel of output o and tap (i, j)] or 0 (padding).
template <typename T> void im2col(const T* x, T* col, const ConvDims& g, int N, cudaStream_t st);
// y[c][*] += b[c] over `plane` values per channel.
template <typename T> void add_channel_bias(T* y, const T* b, int C, long long plane, cudaStream_t st);
// dx[s] += the conv's data gradient of dy[s], for S seeds (direct gather over the kernel taps).
template <typename T> void conv_dgrad(const T* w, const T* dy, T* dx, const ConvDims& g, int N, int S, cudaStream_t st);
// out[s * stride + c] += sum over `plane` values of dy[s][c][*] (conv and linear bias gradients).
template <typename T> void channel_sums(const T* dy, T* out, long long stride, int S, int C, long long plane, cudaStream_t st);

// BatchNorm in training mode, per channel over `plane` = N*H*W values (two passes, in double).
template <typename T>
void bn_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat, T* invstd, int C, long long plane,
                cudaStream_t st);
// sdy[s*C + c] = sum dy, sdyx[s*C + c] = sum dy * xhat (double); dgamma / dbeta (may be null) += them at
// [s * stride + c].
template <typename T>
void bn_backward_sums(const T* dy, const T* xhat, double* sdy, double* sdyx, T* dgamma, T* dbeta, long long stride, int S, int C,
                      long long plane, cudaStream_t st);
// dx[s] += gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
template <typename T>
void bn_backward_dx(const T* dy, const T* xhat, const T* gamma, const T* invstd, const double* sdy, const double* sdyx, T* dx,
                    int S, int C, long long plane, cudaStream_t st);

template <typename T> void relu_forward(const T* x, T* y, long long n, cudaStream_t st);
// dx[s][e] += x[e] > 0 ? dy[s][e] : 0, e < M.
template <typename T> void relu_backward(const T* x, const T* dy, T* dx, long long M, int S, cudaStream_t st);

// planes = C * N input planes of hin x win.
template <typename T> void avgpool_forward(const T* x, T* y, const PoolDims& g, long long planes, cudaStream_t st);
template <typename T> void avgpool_backward(const T* dy, T* dx, const PoolDims& g, long long planes, int S, cudaStream_t st);
// argmax: index ih * win + iw in the input plane of each output (the first maximum in scan order).
template <typename T>
void maxpool_forward(const T* x, T* y, int32_t* argmax, const PoolDims& g, long long planes, cudaStream_t st);
template <typename T>
void maxpool_backward(const T* dy, const int32_t* argmax, T* dx, const PoolDims& g, long long planes, int S, cudaStream_t st);

template <typename T> void gap_forward(const T* x, T* y, long long planes, long long HW, cudaStream_t st);
template <typename T> void gap_backward(const T* dy, T* dx, long long planes, long long HW, int S, cudaStream_t st);

// Linear over the flattened sample (F = C*HW features, feature f = c*HW + hw): x [C][N][HW],
// y [K][N], weight [K][F], bias [K] or null.
template <typename T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int N, int C, long long HW, int K, cudaStream_t st);
// dw[s * stride + k*F + f] += sum_n dy[s][k][n] x[f][n]
template <typename T>
void linear_wgrad(const T* dy, const T* x, T* dw, long long stride, int S, int N, int C, long long HW, int K, cudaStream_t st);
// dx[s][c][n][hw] += sum_k w[k][c*HW + hw] dy[s][k][n]
template <typename T>
void linear_dgrad(const T* dy, const T* w, T* dx, int S, int N, int C, long long HW, int K, cudaStream_t st);

// y[i] += k * x[i], i < n.
template <typename T> void axpy(T* y, const T* x, T k, long long n, cudaStream_t st);
// dx[s][i] += dy[s * dy_stride + offset + i], i < len (a channel slice of a concat's gradient).
template <typename T>
void slice_add(const T* dy, long long dy_stride, long long offset, T* dx, long long len, int S, cudaStream_t st);

template <typename T> void shift_forward(const T* x, T* y, long long planes, int H, int W, cudaStream_t st);
template <typename T> void shift_backward(const T* dy, T* dx, long long planes, int H, int W, int S, cudaStream_t st);

// The per-sample seeds: g[s][c][n][hw] = (n == s0 + s), for S seeds.
template <typename T> void seed_fill(T* g, int S, int s0, int C, int N, long long HW, cudaStream_t st);

// out[i] = in[i] as double.
template <typename T> void to_double(const T* in, double* out, long long n, cudaStream_t st);
// out[r][j] = in[r * ld + cols[j]] for r < rows, j < ncols.
void gather_columns(const double* in, int rows, long long ld, const long long* cols, long long ncols, double* out,
                    cudaStream_t st);

// Single-block reductions writing one double (deterministic order).
void sum_all(const double* a, long long n, double* out, cudaStream_t st);
void max_abs(const double* a, long long n, double* out, cudaStream_t st);
// flag = 1 if any value is not finite, else 0.
void any_nonfinite(const double* a, long long n, int* flag, cudaStream_t st);
// sum (a - b)^2 / divisor.
void squared_error(const double* a, const double* b, long long n, double divisor, double* out, cudaStream_t st);

// After an LU factorisation (getrf) of an n x n matrix whose max |entry| was *scale (before): singular
// = info != 0 or scale == 0 or some |U_kk| <= n * eps * scale (the CPU engine's test); logdet = sum
// log |U_kk| (when `logdet` is not null).
void lu_verdict(const double* lu, int n, int lda, const int* info, const double* scale, int* singular, double* logdet,
                cudaStream_t st);

// Bit k of rows[n][*] for the ReLU activation a [C][N][HW] (k = bit_offset + c*HW + hw, set when > 0),
// OR-ed into the rows (words 64-bit words per row). Calls for successive ReLUs run in stream order.
template <typename T>
void pack_relu_bits(const T* a, int C, int N, long long HW, long long bit_offset, uint64_t* rows, int words, cudaStream_t st);
// K[i][j] = bits - popcount(row_i xor row_j) (NASWOT's agreement kernel), n x n doubles.
void hamming_agreement(const uint64_t* rows, int n, int words, long long bits, double* K, cudaStream_t st);
// Number of distinct rows, by an open-addressing hash table of row indices (slots: cap ints, cap a
// power of two >= 2 * count; filled with -1 here). Exact: every hash match compares the whole rows.
void count_distinct_rows(const uint64_t* rows, int count, int words, int* slots, long long cap, unsigned long long* distinct,
                         cudaStream_t st);

}  // namespace cuda
}  // namespace tegnas
