// Every op of the engine, forward and backward side by side (one .cc per op family).
//
// Backward convention: a backward call handles S "seeds" at once. The forward activation x has
// n = N samples; the incoming gradient dy (and the outgoing dx) has n = S * N, laid out seed-major
// (seed s, sample i at n = s * N + i). Parameter gradients are written per seed at
// dparam + s * dstride. Every backward ACCUMULATES (+=) into dx and into parameter gradients, so a
// node read by several consumers needs no special case. One batched pass over S seeds equals S
// separate backward passes because backpropagation is linear in the seed.
#pragma once
#include <cstdint>
#include <vector>

#include "../tensor.h"

namespace tegnas {

struct ConvGeom {
  int cin = 0, cout = 0, kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  int hin = 0, win = 0, hout = 0, wout = 0;
  int cin_g() const { return cin / groups; }
  int cout_g() const { return cout / groups; }
  int kdim() const { return cin_g() * kh * kw; }
};

// Output size of a sliding window; <= 0 means the window does not fit.
inline int window_out(int in, int k, int stride, int pad, int dil) {
  const int span = dil * (k - 1) + 1;
  if (in + 2 * pad < span) return 0;
  return (in + 2 * pad - span) / stride + 1;
}

// conv2d: weight (cout, cin/groups, kh, kw), optional bias (cout).
template <typename T>
void conv2d_forward(const Tensor<T>& x, const T* weight, const T* bias, const ConvGeom& g, Tensor<T>& y);
template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Tensor<T>& dy, const ConvGeom& g, int S,
                     Tensor<T>* dx, T* dweight, size_t dw_stride, T* dbias, size_t db_stride);

// BatchNorm2d in training mode (batch statistics, biased variance). The cache keeps x-hat and 1/std.
template <typename T>
struct BnCache {
  std::vector<T> xhat;     // same layout as x
  std::vector<T> invstd;   // per channel
};
template <typename T>
void batchnorm_forward(const Tensor<T>& x, const T* gamma, const T* beta, double eps, Tensor<T>& y, BnCache<T>& cache);
template <typename T>
void batchnorm_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Tensor<T>& dy, int S,
                        Tensor<T>* dx, T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride);

template <typename T>
void relu_forward(const Tensor<T>& x, Tensor<T>& y);
template <typename T>
void relu_backward(const Tensor<T>& x, const Tensor<T>& dy, int S, Tensor<T>& dx);

// Pools: k x k window, stride, padding. Average pooling never counts padding (count_include_pad=False,
// which equals True wherever padding is 0). Max pooling keeps the argmax (first maximum in scan order,
// as PyTorch does) for the backward pass.
struct PoolGeom {
  int k = 3, stride = 1, pad = 0;
  int hin = 0, win = 0, hout = 0, wout = 0;
};
template <typename T>
void avgpool_forward(const Tensor<T>& x, const PoolGeom& g, Tensor<T>& y);
template <typename T>
void avgpool_backward(const Tensor<T>& dy, const PoolGeom& g, int S, Tensor<T>& dx);
template <typename T>
void maxpool_forward(const Tensor<T>& x, const PoolGeom& g, Tensor<T>& y, std::vector<int32_t>& argmax);
template <typename T>
void maxpool_backward(const Tensor<T>& dy, const std::vector<int32_t>& argmax, int N, Tensor<T>& dx);

template <typename T>
void global_avgpool_forward(const Tensor<T>& x, Tensor<T>& y);
template <typename T>
void global_avgpool_backward(const Tensor<T>& dy, Tensor<T>& dx);

// linear: y (N, out) = x (N, in = c*h*w) W^T + b; weight (out, in), bias (out).
template <typename T>
void linear_forward(const Tensor<T>& x, const T* weight, const T* bias, int out, Tensor<T>& y);
template <typename T>
void linear_backward(const Tensor<T>& x, const T* weight, const Tensor<T>& dy, int S, Tensor<T>* dx, T* dweight,
                     size_t dw_stride, T* dbias, size_t db_stride);

// add (same shapes), channel concat, zero, shift.
template <typename T>
void add_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y);
template <typename T>
void concat_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y);
// dx_i += the channel slice [c0, c0 + dx_i.c) of dy.
template <typename T>
void concat_backward_slice(const Tensor<T>& dy, int c0, Tensor<T>& dx);
// zero: zeros of shape (N, channels, ceil(H/stride), ceil(W/stride)); its gradient is 0 everywhere.
template <typename T>
void zero_forward(const Tensor<T>& x, int channels, int stride, Tensor<T>& y);
// shift: y[i, j] = x[i + 1, j + 1], 0 past the edge (pad right/bottom by 1, drop first row and column):
// the second path of FactorizedReduce.
template <typename T>
void shift_forward(const Tensor<T>& x, Tensor<T>& y);
template <typename T>
void shift_backward(const Tensor<T>& dy, Tensor<T>& dx);

}  // namespace tegnas
