// The CUDA backend's kernels (see kernels.h for layouts and conventions). Simple one-thread-per-output
// kernels with grid-stride loops: the networks scored are small, so clarity wins over tiling. Sums
// over many terms are accumulated in double, as the CPU engine does.
#include <cfloat>
#include <cstdint>

#include "kernels.h"

// A kernel launch. Under TEGNAS_CUDA_EMULATION (native/cuda/emu: these kernels compiled as C++ and run
// on the host, one thread per block, to test the backend's logic where there is no GPU) a loop.
#ifndef TEGNAS_GO
#define TEGNAS_GO(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

namespace tegnas {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// Blocks for n grid-stride items: enough to fill any current GPU, never 0, never above the grid limit.
unsigned blocks_for(long long n) {
  long long b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > (1 << 20)) b = 1 << 20;
  return static_cast<unsigned>(b);
}

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(what, e, __FILE__, __LINE__);
}

#define TEGNAS_GRID_LOOP(i, n) \
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<long long>(gridDim.x) * blockDim.x)

// Launches kernel over blocks_for(n) blocks of kThreads unless n == 0, then checks the launch.
#define TEGNAS_LAUNCH(kernel, n, st, ...)                          \
  do {                                                             \
    const long long tegnas_n_ = (n);                               \
    if (tegnas_n_ > 0) {                                           \
      TEGNAS_GO(kernel, blocks_for(tegnas_n_), kThreads, (st), __VA_ARGS__); \
      check_launch(#kernel);                                       \
    }                                                              \
  } while (0)

// Sum of a block's values (blockDim.x == kThreads); the result is valid in thread 0.
__device__ double block_sum(double v) {
  __shared__ double buf[kThreads];
  buf[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {  // blockDim.x: a power of two <= kThreads
    if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  const double r = buf[0];
  __syncthreads();  // buf is reused by the next call
  return r;
}

__device__ double block_max(double v) {
  __shared__ double buf[kThreads];
  buf[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] = fmax(buf[threadIdx.x], buf[threadIdx.x + s]);
    __syncthreads();
  }
  const double r = buf[0];
  __syncthreads();
  return r;
}

__global__ void probe_k(int* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out = 42;
}

template <typename T>
__global__ void nchw_to_cnhw_k(const T* x, T* y, int N, int C, long long HW) {
  const long long total = static_cast<long long>(N) * C * HW;
  TEGNAS_GRID_LOOP(i, total) {
    const long long hw = i % HW;
    const long long c = (i / HW) % C;
    const long long n = i / (HW * C);
    y[(c * N + n) * HW + hw] = x[i];
  }
}

template <typename T>
__global__ void cnhw_to_nchw_k(const T* x, T* y, int N, int C, long long HW) {
  const long long total = static_cast<long long>(N) * C * HW;
  TEGNAS_GRID_LOOP(i, total) {
    const long long hw = i % HW;
    const long long c = (i / HW) % C;
    const long long n = i / (HW * C);
    y[i] = x[(c * N + n) * HW + hw];
  }
}

template <typename T>
__global__ void im2col_k(const T* x, T* col, ConvDims g, int N) {
  const long long HWo = static_cast<long long>(g.hout) * g.wout;
  const long long cols = N * HWo;
  const long long rows = static_cast<long long>(g.cin) * g.kh * g.kw;
  TEGNAS_GRID_LOOP(i, rows * cols) {
    const long long r = i / cols, q = i % cols;
    const int kj = static_cast<int>(r % g.kw);
    const int ki = static_cast<int>((r / g.kw) % g.kh);
    const long long ci = r / (static_cast<long long>(g.kw) * g.kh);
    const long long n = q / HWo, o = q % HWo;
    const int oh = static_cast<int>(o / g.wout), ow = static_cast<int>(o % g.wout);
    const int ih = oh * g.sh - g.ph + ki * g.dh, iw = ow * g.sw - g.pw + kj * g.dw;
    T v = T(0);
    if (ih >= 0 && ih < g.hin && iw >= 0 && iw < g.win) v = x[((ci * N + n) * g.hin + ih) * g.win + iw];
    col[i] = v;
  }
}

template <typename T>
__global__ void add_channel_bias_k(T* y, const T* b, int C, long long plane) {
  TEGNAS_GRID_LOOP(i, C * plane) y[i] += b[i / plane];
}

// One thread per input-gradient element (s, ci, n, ih, iw): sum over the output channels of its group
// and the kernel taps that read it.
template <typename T>
__global__ void conv_dgrad_k(const T* w, const T* dy, T* dx, ConvDims g, int N, int S) {
  const long long HWi = static_cast<long long>(g.hin) * g.win, HWo = static_cast<long long>(g.hout) * g.wout;
  const long long Mx = static_cast<long long>(g.cin) * N * HWi, My = static_cast<long long>(g.cout) * N * HWo;
  const int cig = g.cin / g.groups, cog = g.cout / g.groups;
  TEGNAS_GRID_LOOP(i, S * Mx) {
    const long long s = i / Mx, e = i % Mx;
    const int iw = static_cast<int>(e % g.win);
    const int ih = static_cast<int>((e / g.win) % g.hin);
    const long long n = (e / HWi) % N;
    const int ci = static_cast<int>(e / (HWi * N));
    const int grp = ci / cig, cl = ci - grp * cig;
    const T* dys = dy + s * My;
    double acc = 0;
    for (int ki = 0; ki < g.kh; ++ki) {
      const int th = ih + g.ph - ki * g.dh;
      if (th < 0 || th % g.sh != 0) continue;
      const int oh = th / g.sh;
      if (oh >= g.hout) continue;
      for (int kj = 0; kj < g.kw; ++kj) {
        const int tw = iw + g.pw - kj * g.dw;
        if (tw < 0 || tw % g.sw != 0) continue;
        const int ow = tw / g.sw;
        if (ow >= g.wout) continue;
        for (int cl_o = 0; cl_o < cog; ++cl_o) {
          const long long co = static_cast<long long>(grp) * cog + cl_o;
          const T wv = w[((co * cig + cl) * g.kh + ki) * g.kw + kj];
          acc += static_cast<double>(wv) * dys[((co * N + n) * g.hout + oh) * g.wout + ow];
        }
      }
    }
    dx[i] += static_cast<T>(acc);
  }
}

// One block per (s, c).
template <typename T>
__global__ void channel_sums_k(const T* dy, T* out, long long stride, int C, long long plane) {
  const long long s = blockIdx.x / C, c = blockIdx.x % C;
  const T* p = dy + (s * C + c) * plane;
  double acc = 0;
  for (long long k = threadIdx.x; k < plane; k += blockDim.x) acc += p[k];
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[s * stride + c] += static_cast<T>(acc);
}

// One block per channel: mean, biased variance (two passes, in double), then x-hat and y.
template <typename T>
__global__ void bn_forward_k(const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat, T* invstd, long long plane) {
  const long long c = blockIdx.x;
  const T* p = x + c * plane;
  double acc = 0;
  for (long long k = threadIdx.x; k < plane; k += blockDim.x) acc += p[k];
  const double mean = block_sum(acc) / static_cast<double>(plane);
  acc = 0;
  for (long long k = threadIdx.x; k < plane; k += blockDim.x) {
    const double d = p[k] - mean;
    acc += d * d;
  }
  const double inv = 1.0 / sqrt(block_sum(acc) / static_cast<double>(plane) + eps);
  if (threadIdx.x == 0) invstd[c] = static_cast<T>(inv);
  const T gm = gamma ? gamma[c] : T(1), bt = beta ? beta[c] : T(0);
  for (long long k = threadIdx.x; k < plane; k += blockDim.x) {
    const T xh = static_cast<T>((p[k] - mean) * inv);
    xhat[c * plane + k] = xh;
    y[c * plane + k] = xh * gm + bt;
  }
}

// One block per (s, c).
template <typename T>
__global__ void bn_backward_sums_k(const T* dy, const T* xhat, double* sdy, double* sdyx, T* dgamma, T* dbeta, long long stride,
                                   int C, long long plane) {
  const long long s = blockIdx.x / C, c = blockIdx.x % C;
  const T* g = dy + (s * C + c) * plane;
  const T* xh = xhat + c * plane;
  double a = 0, b = 0;
  for (long long k = threadIdx.x; k < plane; k += blockDim.x) {
    a += g[k];
    b += static_cast<double>(g[k]) * xh[k];
  }
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    sdy[s * C + c] = a;
    sdyx[s * C + c] = b;
    if (dgamma) dgamma[s * stride + c] += static_cast<T>(b);
    if (dbeta) dbeta[s * stride + c] += static_cast<T>(a);
  }
}

template <typename T>
__global__ void bn_backward_dx_k(const T* dy, const T* xhat, const T* gamma, const T* invstd, const double* sdy,
                                 const double* sdyx, T* dx, int S, int C, long long plane) {
  const long long M = C * plane;
  TEGNAS_GRID_LOOP(i, S * M) {
    const long long s = i / M, e = i % M, c = e / plane;
    const T scale = (gamma ? gamma[c] : T(1)) * invstd[c];
    const T m = static_cast<T>(sdy[s * C + c] / static_cast<double>(plane));
    const T mx = static_cast<T>(sdyx[s * C + c] / static_cast<double>(plane));
    dx[i] += scale * (dy[i] - m - xhat[e] * mx);
  }
}

template <typename T>
__global__ void relu_forward_k(const T* x, T* y, long long n) {
  TEGNAS_GRID_LOOP(i, n) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
__global__ void relu_backward_k(const T* x, const T* dy, T* dx, long long M, int S) {
  TEGNAS_GRID_LOOP(i, S * M) {
    if (x[i % M] > T(0)) dx[i] += dy[i];
  }
}

__device__ inline int window_lo(int i, int pad, int k, int stride) {
  // The first output whose window [o*stride - pad, o*stride - pad + k) contains input i.
  const int t = i + pad - k + 1;
  return t <= 0 ? 0 : (t + stride - 1) / stride;
}

template <typename T>
__global__ void avgpool_forward_k(const T* x, T* y, PoolDims g, long long planes) {
  const long long HWo = static_cast<long long>(g.hout) * g.wout;
  TEGNAS_GRID_LOOP(i, planes * HWo) {
    const long long p = i / HWo;
    const int oh = static_cast<int>((i % HWo) / g.wout), ow = static_cast<int>(i % g.wout);
    const int h0 = max(oh * g.stride - g.pad, 0), h1 = min(oh * g.stride - g.pad + g.k, g.hin);
    const int w0 = max(ow * g.stride - g.pad, 0), w1 = min(ow * g.stride - g.pad + g.k, g.win);
    const T* xp = x + p * g.hin * g.win;
    T acc = T(0);
    for (int ih = h0; ih < h1; ++ih)
      for (int iw = w0; iw < w1; ++iw) acc += xp[ih * g.win + iw];
    y[i] = acc / static_cast<T>((h1 - h0) * (w1 - w0));
  }
}

template <typename T>
__global__ void avgpool_backward_k(const T* dy, T* dx, PoolDims g, long long planes, int S) {
  const long long HWi = static_cast<long long>(g.hin) * g.win, HWo = static_cast<long long>(g.hout) * g.wout;
  const long long Mx = planes * HWi;
  TEGNAS_GRID_LOOP(i, S * Mx) {
    const long long s = i / Mx, e = i % Mx, p = e / HWi;
    const int ih = static_cast<int>((e % HWi) / g.win), iw = static_cast<int>(e % g.win);
    const T* dyp = dy + s * planes * HWo + p * HWo;
    const int oh0 = window_lo(ih, g.pad, g.k, g.stride), oh1 = min(g.hout - 1, (ih + g.pad) / g.stride);
    const int ow0 = window_lo(iw, g.pad, g.k, g.stride), ow1 = min(g.wout - 1, (iw + g.pad) / g.stride);
    T acc = T(0);
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow) {
        const int h0 = max(oh * g.stride - g.pad, 0), h1 = min(oh * g.stride - g.pad + g.k, g.hin);
        const int w0 = max(ow * g.stride - g.pad, 0), w1 = min(ow * g.stride - g.pad + g.k, g.win);
        acc += dyp[oh * g.wout + ow] * (T(1) / static_cast<T>((h1 - h0) * (w1 - w0)));
      }
    dx[i] += acc;
  }
}

template <typename T>
__global__ void maxpool_forward_k(const T* x, T* y, int32_t* argmax, PoolDims g, long long planes) {
  const long long HWo = static_cast<long long>(g.hout) * g.wout;
  TEGNAS_GRID_LOOP(i, planes * HWo) {
    const long long p = i / HWo;
    const int oh = static_cast<int>((i % HWo) / g.wout), ow = static_cast<int>(i % g.wout);
    const int h0 = max(oh * g.stride - g.pad, 0), h1 = min(oh * g.stride - g.pad + g.k, g.hin);
    const int w0 = max(ow * g.stride - g.pad, 0), w1 = min(ow * g.stride - g.pad + g.k, g.win);
    const T* xp = x + p * g.hin * g.win;
    T best = T(0);
    int32_t at = -1;
    for (int ih = h0; ih < h1; ++ih)
      for (int iw = w0; iw < w1; ++iw) {
        const T v = xp[ih * g.win + iw];
        if (at < 0 || v > best) {
          best = v;
          at = ih * g.win + iw;
        }
      }
    y[i] = at < 0 ? T(0) : best;
    argmax[i] = at;
  }
}

template <typename T>
__global__ void maxpool_backward_k(const T* dy, const int32_t* argmax, T* dx, PoolDims g, long long planes, int S) {
  const long long HWi = static_cast<long long>(g.hin) * g.win, HWo = static_cast<long long>(g.hout) * g.wout;
  const long long Mx = planes * HWi;
  TEGNAS_GRID_LOOP(i, S * Mx) {
    const long long s = i / Mx, e = i % Mx, p = e / HWi;
    const int ih = static_cast<int>((e % HWi) / g.win), iw = static_cast<int>(e % g.win);
    const int32_t me = ih * g.win + iw;
    const T* dyp = dy + s * planes * HWo + p * HWo;
    const int32_t* ap = argmax + p * HWo;
    const int oh0 = window_lo(ih, g.pad, g.k, g.stride), oh1 = min(g.hout - 1, (ih + g.pad) / g.stride);
    const int ow0 = window_lo(iw, g.pad, g.k, g.stride), ow1 = min(g.wout - 1, (iw + g.pad) / g.stride);
    T acc = T(0);
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow)
        if (ap[oh * g.wout + ow] == me) acc += dyp[oh * g.wout + ow];
    dx[i] += acc;
  }
}

template <typename T>
__global__ void gap_forward_k(const T* x, T* y, long long planes, long long HW) {
  TEGNAS_GRID_LOOP(p, planes) {
    const T* xp = x + p * HW;
    T acc = T(0);
    for (long long k = 0; k < HW; ++k) acc += xp[k];
    y[p] = acc / static_cast<T>(HW);
  }
}

template <typename T>
__global__ void gap_backward_k(const T* dy, T* dx, long long planes, long long HW, int S) {
  const T inv = T(1) / static_cast<T>(HW);
  TEGNAS_GRID_LOOP(i, S * planes * HW) dx[i] += dy[i / HW] * inv;
}

template <typename T>
__global__ void linear_forward_k(const T* x, const T* w, const T* b, T* y, int N, int C, long long HW, int K) {
  const long long F = C * HW;
  TEGNAS_GRID_LOOP(i, static_cast<long long>(K) * N) {
    const long long k = i / N, n = i % N;
    double acc = b ? static_cast<double>(b[k]) : 0.0;
    for (long long f = 0; f < F; ++f) {
      const long long c = f / HW, hw = f % HW;
      acc += static_cast<double>(w[k * F + f]) * x[(c * N + n) * HW + hw];
    }
    y[i] = static_cast<T>(acc);
  }
}

template <typename T>
__global__ void linear_wgrad_k(const T* dy, const T* x, T* dw, long long stride, int S, int N, int C, long long HW, int K) {
  const long long F = C * HW;
  TEGNAS_GRID_LOOP(i, S * K * F) {
    const long long s = i / (K * F), k = (i / F) % K, f = i % F;
    const long long c = f / HW, hw = f % HW;
    const T* g = dy + (s * K + k) * N;
    double acc = 0;
    for (int n = 0; n < N; ++n) acc += static_cast<double>(g[n]) * x[(c * N + n) * HW + hw];
    dw[s * stride + k * F + f] += static_cast<T>(acc);
  }
}

template <typename T>
__global__ void linear_dgrad_k(const T* dy, const T* w, T* dx, int S, int N, int C, long long HW, int K) {
  const long long F = C * HW, M = F * N;
  TEGNAS_GRID_LOOP(i, S * M) {
    const long long s = i / M, e = i % M;
    const long long hw = e % HW, n = (e / HW) % N, c = e / (HW * N);
    const long long f = c * HW + hw;
    double acc = 0;
    for (int k = 0; k < K; ++k) acc += static_cast<double>(w[k * F + f]) * dy[(s * K + k) * N + n];
    dx[i] += static_cast<T>(acc);
  }
}

template <typename T>
__global__ void axpy_k(T* y, const T* x, T k, long long n) {
  TEGNAS_GRID_LOOP(i, n) y[i] += k * x[i];
}

template <typename T>
__global__ void slice_add_k(const T* dy, long long dy_stride, long long offset, T* dx, long long len, int S) {
  TEGNAS_GRID_LOOP(i, S * len) {
    const long long s = i / len, e = i % len;
    dx[i] += dy[s * dy_stride + offset + e];
  }
}

template <typename T>
__global__ void shift_forward_k(const T* x, T* y, long long planes, int H, int W) {
  const long long HW = static_cast<long long>(H) * W;
  TEGNAS_GRID_LOOP(i, planes * HW) {
    const long long p = i / HW;
    const int r = static_cast<int>((i % HW) / W), c = static_cast<int>(i % W);
    y[i] = (r + 1 < H && c + 1 < W) ? x[p * HW + static_cast<long long>(r + 1) * W + c + 1] : T(0);
  }
}

template <typename T>
__global__ void shift_backward_k(const T* dy, T* dx, long long planes, int H, int W, int S) {
  const long long HW = static_cast<long long>(H) * W;
  TEGNAS_GRID_LOOP(i, S * planes * HW) {
    const int r = static_cast<int>((i % HW) / W), c = static_cast<int>(i % W);
    if (r >= 1 && c >= 1) dx[i] += dy[i - W - 1];
  }
}

template <typename T>
__global__ void seed_fill_k(T* g, int S, int s0, int C, int N, long long HW) {
  const long long M = static_cast<long long>(C) * N * HW;
  TEGNAS_GRID_LOOP(i, S * M) {
    const long long s = i / M, n = (i % M / HW) % N;
    g[i] = (n == s0 + s) ? T(1) : T(0);
  }
}

template <typename T>
__global__ void to_double_k(const T* in, double* out, long long n) {
  TEGNAS_GRID_LOOP(i, n) out[i] = static_cast<double>(in[i]);
}

__global__ void gather_columns_k(const double* in, int rows, long long ld, const long long* cols, long long ncols, double* out) {
  TEGNAS_GRID_LOOP(i, rows * ncols) {
    const long long r = i / ncols, j = i % ncols;
    out[i] = in[r * ld + cols[j]];
  }
}

__global__ void sum_all_k(const double* a, long long n, double* out) {
  double acc = 0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) acc += a[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = acc;
}

__global__ void max_abs_k(const double* a, long long n, double* out) {
  double m = 0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) m = fmax(m, fabs(a[i]));
  m = block_max(m);
  if (threadIdx.x == 0) *out = m;
}

__global__ void any_nonfinite_k(const double* a, long long n, int* flag) {
  double bad = 0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x)
    if (!isfinite(a[i])) bad = 1;
  bad = block_max(bad);
  if (threadIdx.x == 0) *flag = bad > 0 ? 1 : 0;
}

__global__ void squared_error_k(const double* a, const double* b, long long n, double divisor, double* out) {
  double acc = 0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) {
    const double d = a[i] - b[i];
    acc += d * d;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = acc / divisor;
}

__global__ void lu_verdict_k(const double* lu, int n, int lda, const int* info, const double* scale, int* singular, double* logdet) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  const double tol = n * DBL_EPSILON * *scale;
  int bad = (*info != 0 || !(*scale > 0)) ? 1 : 0;
  double s = 0;
  for (int k = 0; k < n; ++k) {
    const double u = fabs(lu[static_cast<long long>(k) * lda + k]);
    if (!(u > tol)) bad = 1;
    s += log(u);
  }
  *singular = bad;
  if (logdet) *logdet = s;
}

template <typename T>
__global__ void pack_relu_bits_k(const T* a, int C, int N, long long HW, long long bit_offset, uint64_t* rows, int words,
                                 long long w_first, long long w_count) {
  const long long L = C * HW;  // bits of this ReLU per input
  TEGNAS_GRID_LOOP(i, static_cast<long long>(N) * w_count) {
    const long long n = i / w_count, w = w_first + i % w_count;
    const long long b0 = max(bit_offset, w * 64), b1 = min(bit_offset + L, (w + 1) * 64);
    uint64_t bits = 0;
    for (long long b = b0; b < b1; ++b) {
      const long long k = b - bit_offset, c = k / HW, hw = k % HW;
      if (a[(c * N + n) * HW + hw] > T(0)) bits |= uint64_t(1) << (b & 63);
    }
    rows[n * words + w] |= bits;
  }
}

__global__ void hamming_agreement_k(const uint64_t* rows, int n, int words, long long bits, double* K) {
  TEGNAS_GRID_LOOP(i, static_cast<long long>(n) * n) {
    const long long r = i / n, c = i % n;
    long long differ = 0;
    for (int k = 0; k < words; ++k) differ += __popcll(rows[r * words + k] ^ rows[c * words + k]);
    K[i] = static_cast<double>(bits - differ);
  }
}

__device__ inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

__global__ void fill_int_k(int* p, long long n, int v) {
  TEGNAS_GRID_LOOP(i, n) p[i] = v;
}

// Each row probes from its hash's slot. A free slot is claimed with atomicCAS; a taken slot holds a
// row index whose whole row is compared. Two equal rows follow the same probe sequence, so exactly
// one of them claims a slot and the other finds it: the count of claims is the number of distinct rows.
__global__ void count_distinct_k(const uint64_t* rows, int count, int words, int* slots, long long cap,
                                 unsigned long long* distinct) {
  TEGNAS_GRID_LOOP(i, count) {
    const uint64_t* row = rows + i * words;
    uint64_t h = 0x6a09e667f3bcc909ULL ^ static_cast<uint64_t>(words);
    for (int k = 0; k < words; ++k) h = mix64(h ^ row[k]);
    long long s = static_cast<long long>(h & static_cast<uint64_t>(cap - 1));
    for (long long probes = 0; probes < cap; ++probes) {
      const int prev = atomicCAS(slots + s, -1, static_cast<int>(i));
      if (prev == -1) {
        atomicAdd(distinct, 1ULL);
        break;
      }
      const uint64_t* other = rows + static_cast<long long>(prev) * words;
      bool same = true;
      for (int k = 0; k < words && same; ++k) same = other[k] == row[k];
      if (same) break;
      s = (s + 1) & (cap - 1);
    }
  }
}

}  // namespace

void probe_kernel(cudaStream_t st) {
  int* d = nullptr;
  TEGNAS_CUDA_CHECK(cudaMalloc(&d, sizeof(int)));
  int h = 0;
  cudaError_t e = cudaMemsetAsync(d, 0, sizeof(int), st);
  if (e == cudaSuccess) {
    TEGNAS_GO(probe_k, 1, 32, st, d);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(&h, d, sizeof(int), cudaMemcpyDeviceToHost, st);
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);
  cudaFree(d);
  if (e != cudaSuccess) fail("a test kernel", e, __FILE__, __LINE__);
  if (h != 42) fail("a test kernel (wrong result)", cudaErrorUnknown, __FILE__, __LINE__);
}

template <typename T>
void nchw_to_cnhw(const T* x, T* y, int N, int C, long long HW, cudaStream_t st) {
  TEGNAS_LAUNCH(nchw_to_cnhw_k<T>, static_cast<long long>(N) * C * HW, st, x, y, N, C, HW);
}
template <typename T>
void cnhw_to_nchw(const T* x, T* y, int N, int C, long long HW, cudaStream_t st) {
  TEGNAS_LAUNCH(cnhw_to_nchw_k<T>, static_cast<long long>(N) * C * HW, st, x, y, N, C, HW);
}
template <typename T>
void im2col(const T* x, T* col, const ConvDims& g, int N, cudaStream_t st) {
  const long long n = static_cast<long long>(g.cin) * g.kh * g.kw * N * g.hout * g.wout;
  TEGNAS_LAUNCH(im2col_k<T>, n, st, x, col, g, N);
}
template <typename T>
void add_channel_bias(T* y, const T* b, int C, long long plane, cudaStream_t st) {
  TEGNAS_LAUNCH(add_channel_bias_k<T>, C * plane, st, y, b, C, plane);
}
template <typename T>
void conv_dgrad(const T* w, const T* dy, T* dx, const ConvDims& g, int N, int S, cudaStream_t st) {
  const long long n = static_cast<long long>(S) * g.cin * N * g.hin * g.win;
  TEGNAS_LAUNCH(conv_dgrad_k<T>, n, st, w, dy, dx, g, N, S);
}
template <typename T>
void channel_sums(const T* dy, T* out, long long stride, int S, int C, long long plane, cudaStream_t st) {
  if (S <= 0 || C <= 0) return;
  TEGNAS_GO(channel_sums_k<T>, static_cast<unsigned>(S) * C, kThreads, st, dy, out, stride, C, plane);
  check_launch("channel_sums");
}
template <typename T>
void bn_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* xhat, T* invstd, int C, long long plane,
                cudaStream_t st) {
  if (C <= 0) return;
  TEGNAS_GO(bn_forward_k<T>, static_cast<unsigned>(C), kThreads, st, x, gamma, beta, eps, y, xhat, invstd, plane);
  check_launch("bn_forward");
}
template <typename T>
void bn_backward_sums(const T* dy, const T* xhat, double* sdy, double* sdyx, T* dgamma, T* dbeta, long long stride, int S, int C,
                      long long plane, cudaStream_t st) {
  if (S <= 0 || C <= 0) return;
  TEGNAS_GO(bn_backward_sums_k<T>, static_cast<unsigned>(S) * C, kThreads, st, dy, xhat, sdy, sdyx, dgamma, dbeta, stride, C, plane);
  check_launch("bn_backward_sums");
}
template <typename T>
void bn_backward_dx(const T* dy, const T* xhat, const T* gamma, const T* invstd, const double* sdy, const double* sdyx, T* dx,
                    int S, int C, long long plane, cudaStream_t st) {
  TEGNAS_LAUNCH(bn_backward_dx_k<T>, S * C * plane, st, dy, xhat, gamma, invstd, sdy, sdyx, dx, S, C, plane);
}
template <typename T>
void relu_forward(const T* x, T* y, long long n, cudaStream_t st) {
  TEGNAS_LAUNCH(relu_forward_k<T>, n, st, x, y, n);
}
template <typename T>
void relu_backward(const T* x, const T* dy, T* dx, long long M, int S, cudaStream_t st) {
  TEGNAS_LAUNCH(relu_backward_k<T>, S * M, st, x, dy, dx, M, S);
}
template <typename T>
void avgpool_forward(const T* x, T* y, const PoolDims& g, long long planes, cudaStream_t st) {
  TEGNAS_LAUNCH(avgpool_forward_k<T>, planes * g.hout * g.wout, st, x, y, g, planes);
}
template <typename T>
void avgpool_backward(const T* dy, T* dx, const PoolDims& g, long long planes, int S, cudaStream_t st) {
  TEGNAS_LAUNCH(avgpool_backward_k<T>, S * planes * g.hin * g.win, st, dy, dx, g, planes, S);
}
template <typename T>
void maxpool_forward(const T* x, T* y, int32_t* argmax, const PoolDims& g, long long planes, cudaStream_t st) {
  TEGNAS_LAUNCH(maxpool_forward_k<T>, planes * g.hout * g.wout, st, x, y, argmax, g, planes);
}
template <typename T>
void maxpool_backward(const T* dy, const int32_t* argmax, T* dx, const PoolDims& g, long long planes, int S, cudaStream_t st) {
  TEGNAS_LAUNCH(maxpool_backward_k<T>, S * planes * g.hin * g.win, st, dy, argmax, dx, g, planes, S);
}
template <typename T>
void gap_forward(const T* x, T* y, long long planes, long long HW, cudaStream_t st) {
  TEGNAS_LAUNCH(gap_forward_k<T>, planes, st, x, y, planes, HW);
}
template <typename T>
void gap_backward(const T* dy, T* dx, long long planes, long long HW, int S, cudaStream_t st) {
  TEGNAS_LAUNCH(gap_backward_k<T>, S * planes * HW, st, dy, dx, planes, HW, S);
}
template <typename T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int N, int C, long long HW, int K, cudaStream_t st) {
  TEGNAS_LAUNCH(linear_forward_k<T>, static_cast<long long>(K) * N, st, x, w, b, y, N, C, HW, K);
}
template <typename T>
void linear_wgrad(const T* dy, const T* x, T* dw, long long stride, int S, int N, int C, long long HW, int K, cudaStream_t st) {
  TEGNAS_LAUNCH(linear_wgrad_k<T>, static_cast<long long>(S) * K * C * HW, st, dy, x, dw, stride, S, N, C, HW, K);
}
template <typename T>
void linear_dgrad(const T* dy, const T* w, T* dx, int S, int N, int C, long long HW, int K, cudaStream_t st) {
  TEGNAS_LAUNCH(linear_dgrad_k<T>, static_cast<long long>(S) * C * HW * N, st, dy, w, dx, S, N, C, HW, K);
}
template <typename T>
void axpy(T* y, const T* x, T k, long long n, cudaStream_t st) {
  TEGNAS_LAUNCH(axpy_k<T>, n, st, y, x, k, n);
}
template <typename T>
void slice_add(const T* dy, long long dy_stride, long long offset, T* dx, long long len, int S, cudaStream_t st) {
  TEGNAS_LAUNCH(slice_add_k<T>, S * len, st, dy, dy_stride, offset, dx, len, S);
}
template <typename T>
void shift_forward(const T* x, T* y, long long planes, int H, int W, cudaStream_t st) {
  TEGNAS_LAUNCH(shift_forward_k<T>, planes * H * W, st, x, y, planes, H, W);
}
template <typename T>
void shift_backward(const T* dy, T* dx, long long planes, int H, int W, int S, cudaStream_t st) {
  TEGNAS_LAUNCH(shift_backward_k<T>, S * planes * H * W, st, dy, dx, planes, H, W, S);
}
template <typename T>
void seed_fill(T* g, int S, int s0, int C, int N, long long HW, cudaStream_t st) {
  TEGNAS_LAUNCH(seed_fill_k<T>, static_cast<long long>(S) * C * N * HW, st, g, S, s0, C, N, HW);
}
template <typename T>
void to_double(const T* in, double* out, long long n, cudaStream_t st) {
  TEGNAS_LAUNCH(to_double_k<T>, n, st, in, out, n);
}
void gather_columns(const double* in, int rows, long long ld, const long long* cols, long long ncols, double* out,
                    cudaStream_t st) {
  TEGNAS_LAUNCH(gather_columns_k, rows * ncols, st, in, rows, ld, cols, ncols, out);
}
void sum_all(const double* a, long long n, double* out, cudaStream_t st) {
  TEGNAS_GO(sum_all_k, 1, kThreads, st, a, n, out);
  check_launch("sum_all");
}
void max_abs(const double* a, long long n, double* out, cudaStream_t st) {
  TEGNAS_GO(max_abs_k, 1, kThreads, st, a, n, out);
  check_launch("max_abs");
}
void any_nonfinite(const double* a, long long n, int* flag, cudaStream_t st) {
  TEGNAS_GO(any_nonfinite_k, 1, kThreads, st, a, n, flag);
  check_launch("any_nonfinite");
}
void squared_error(const double* a, const double* b, long long n, double divisor, double* out, cudaStream_t st) {
  TEGNAS_GO(squared_error_k, 1, kThreads, st, a, b, n, divisor, out);
  check_launch("squared_error");
}
void lu_verdict(const double* lu, int n, int lda, const int* info, const double* scale, int* singular, double* logdet,
                cudaStream_t st) {
  TEGNAS_GO(lu_verdict_k, 1, 1, st, lu, n, lda, info, scale, singular, logdet);
  check_launch("lu_verdict");
}
template <typename T>
void pack_relu_bits(const T* a, int C, int N, long long HW, long long bit_offset, uint64_t* rows, int words, cudaStream_t st) {
  const long long L = C * HW;
  if (L <= 0 || N <= 0) return;
  const long long w_first = bit_offset / 64, w_last = (bit_offset + L - 1) / 64;
  const long long w_count = w_last - w_first + 1;
  TEGNAS_LAUNCH(pack_relu_bits_k<T>, N * w_count, st, a, C, N, HW, bit_offset, rows, words, w_first, w_count);
}
void hamming_agreement(const uint64_t* rows, int n, int words, long long bits, double* K, cudaStream_t st) {
  TEGNAS_LAUNCH(hamming_agreement_k, static_cast<long long>(n) * n, st, rows, n, words, bits, K);
}
void count_distinct_rows(const uint64_t* rows, int count, int words, int* slots, long long cap, unsigned long long* distinct,
                         cudaStream_t st) {
  TEGNAS_LAUNCH(fill_int_k, cap, st, slots, cap, -1);
  TEGNAS_CUDA_CHECK(cudaMemsetAsync(distinct, 0, sizeof(unsigned long long), st));
  TEGNAS_LAUNCH(count_distinct_k, count, st, rows, count, words, slots, cap, distinct);
}

#define TEGNAS_KERNELS(T)                                                                                                   \
  template void nchw_to_cnhw<T>(const T*, T*, int, int, long long, cudaStream_t);                                          \
  template void cnhw_to_nchw<T>(const T*, T*, int, int, long long, cudaStream_t);                                          \
  template void im2col<T>(const T*, T*, const ConvDims&, int, cudaStream_t);                                               \
  template void add_channel_bias<T>(T*, const T*, int, long long, cudaStream_t);                                           \
  template void conv_dgrad<T>(const T*, const T*, T*, const ConvDims&, int, int, cudaStream_t);                            \
  template void channel_sums<T>(const T*, T*, long long, int, int, long long, cudaStream_t);                               \
  template void bn_forward<T>(const T*, const T*, const T*, double, T*, T*, T*, int, long long, cudaStream_t);             \
  template void bn_backward_sums<T>(const T*, const T*, double*, double*, T*, T*, long long, int, int, long long,          \
                                    cudaStream_t);                                                                         \
  template void bn_backward_dx<T>(const T*, const T*, const T*, const T*, const double*, const double*, T*, int, int,     \
                                  long long, cudaStream_t);                                                                \
  template void relu_forward<T>(const T*, T*, long long, cudaStream_t);                                                    \
  template void relu_backward<T>(const T*, const T*, T*, long long, int, cudaStream_t);                                    \
  template void avgpool_forward<T>(const T*, T*, const PoolDims&, long long, cudaStream_t);                                \
  template void avgpool_backward<T>(const T*, T*, const PoolDims&, long long, int, cudaStream_t);                          \
  template void maxpool_forward<T>(const T*, T*, int32_t*, const PoolDims&, long long, cudaStream_t);                      \
  template void maxpool_backward<T>(const T*, const int32_t*, T*, const PoolDims&, long long, int, cudaStream_t);          \
  template void gap_forward<T>(const T*, T*, long long, long long, cudaStream_t);                                          \
  template void gap_backward<T>(const T*, T*, long long, long long, int, cudaStream_t);                                    \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int, int, long long, int, cudaStream_t);               \
  template void linear_wgrad<T>(const T*, const T*, T*, long long, int, int, int, long long, int, cudaStream_t);           \
  template void linear_dgrad<T>(const T*, const T*, T*, int, int, int, long long, int, cudaStream_t);                      \
  template void axpy<T>(T*, const T*, T, long long, cudaStream_t);                                                         \
  template void slice_add<T>(const T*, long long, long long, T*, long long, int, cudaStream_t);                            \
  template void shift_forward<T>(const T*, T*, long long, int, int, cudaStream_t);                                         \
  template void shift_backward<T>(const T*, T*, long long, int, int, int, cudaStream_t);                                   \
  template void seed_fill<T>(T*, int, int, int, int, long long, cudaStream_t);                                             \
  template void to_double<T>(const T*, double*, long long, cudaStream_t);                                                  \
  template void pack_relu_bits<T>(const T*, int, int, long long, long long, uint64_t*, int, cudaStream_t);
TEGNAS_KERNELS(float)
TEGNAS_KERNELS(double)
#undef TEGNAS_KERNELS

}  // namespace cuda
}  // namespace tegnas
