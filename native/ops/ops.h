// Every op of the engine, forward and backward side by side (one .cc per op family).
//
// Backward convention: a backward call handles kSeeds "seeds" at once. The forward activation x is a
// Tensor of N samples; gradients are Grad tensors of the same N x C x H x W shape with kSeeds values
// per element (seed innermost). Parameter gradients are written per seed at dparam + s * dstride.
// Every backward ACCUMULATES (+=) into dx and into parameter gradients, so a node read by several
// consumers needs no special case; ops with an `overwrite` flag instead assign dx (the executor sets it
// when the op is the input's only consumer, which saves zeroing the buffer first). One batched pass over the seeds equals one backward pass per seed
// because backpropagation is linear in the seed.
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
// A BatchNorm backward folded into the conv that feeds it: the conv reads its output gradient as
// scale[c] * (dy - m[c] - xhat * mx[c]) (m, mx: kSeeds values per channel) while it loads each sample,
// so the BatchNorm's input gradient is never written out and read back.
template <typename T>
struct BnFold {
  const T* xhat = nullptr;  // the BatchNorm's x-hat, NCHW like its input
  std::vector<T> scale;     // gamma * invstd per channel
  std::vector<T> m, mx;     // C x kSeeds: mean(dy), mean(dy * xhat) over (n, h, w)
  T k = T(1);               // dy is k times the buffer the conv reads (a shared add gradient)
};

// What the conv does to each sample's dx right after writing it, while the sample is still in cache
// (so neither pass crosses memory again):
// - pool_dy: add an average pool's backward (in NAS-Bench-201's residual blocks the pool and a conv
//   both read the block input);
// - sdy: take the sums a BatchNorm's backward needs when dx is that BatchNorm's whole output gradient
//   (the conv is its only writer): per channel and seed, sdy += sum dx, sdyx += sum dx * xhat, added per
//   sample in the order batchnorm_backward_fold's own pass uses, so the result is identical.
struct PoolGeom;
template <typename T>
struct DxEpilogue {
  const Grad<T>* pool_dy = nullptr;
  const PoolGeom* pool = nullptr;
  const T* xhat = nullptr;  // the BatchNorm's x-hat, NCHW like dx
  double* sdy = nullptr;    // C x kSeeds
  double* sdyx = nullptr;
};

// input_is_relu: x is a ReLU's output, so dx is only needed where x > 0: the executor then passes the
// ReLU's input gradient as dx and skips the ReLU, whose backward this masking performs.
// dx_overwrite: assign dx (every element is written) instead of adding to it.
// fold: the BatchNorm whose backward reads this conv's output, or null (dy is the conv's own gradient).
// dy_scale: the conv's gradient is dy_scale * dy (dy shared with an add that reaches the conv k times);
// only without a fold.
// epi: per-sample work on dx (needs dx), or null.
template <typename T>
void conv2d_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, const ConvGeom& g, Grad<T>* dx, bool dx_overwrite,
                     T* dweight, size_t dw_stride, T* dbias, size_t db_stride, bool input_is_relu = false,
                     const BnFold<T>* fold = nullptr, T dy_scale = T(1), const DxEpilogue<T>* epi = nullptr);

// BatchNorm2d in training mode (batch statistics, biased variance). The cache keeps x-hat and 1/std.
template <typename T>
struct BnCache {
  std::vector<T> xhat;     // same layout as x
  std::vector<T> invstd;   // per channel
};
template <typename T>
void batchnorm_forward(const Tensor<T>& x, const T* gamma, const T* beta, double eps, Tensor<T>& y, BnCache<T>& cache);
template <typename T>
void batchnorm_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, Grad<T>* dx,
                        T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride, bool overwrite = false);
// The first half of the backward (the batch means and dgamma, dbeta), leaving dx to the conv that
// produced x: see BnFold. sums: sum dy and sum dy * xhat (C x kSeeds each) already taken by the conv
// that wrote dy (DxEpilogue), or null to take them here.
template <typename T>
void batchnorm_backward_fold(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Grad<T>& dy, T k, T* dgamma,
                             size_t dg_stride, T* dbeta, size_t db_stride, BnFold<T>& fold,
                             const double* sdy = nullptr, const double* sdyx = nullptr);  // output gradient = k dy
// Sample n's share of those sums, added to sdy and sdyx.
template <typename T>
void batchnorm_sums_sample(const Grad<T>& dy, const T* xhat, int n, double* sdy, double* sdyx);

// The backward of BatchNorm -> ReLU -> global average pool from the pool's output gradient gpool
// (N x C x 1 x 1): the BatchNorm's output gradient is relu_out > 0 ? gpool / HW : 0, so its sums are
// gpool times per-(sample, channel) counts, and dx (null: parameter gradients only) is written in one pass.
template <typename T>
void batchnorm_relu_pool_backward(const Tensor<T>& x, const T* gamma, const BnCache<T>& cache, const Tensor<T>& relu_out,
                                  const Grad<T>& gpool, Grad<T>* dx, T* dgamma, size_t dg_stride, T* dbeta, size_t db_stride,
                                  bool overwrite);

template <typename T>
void relu_forward(const Tensor<T>& x, Tensor<T>& y);
template <typename T>
void relu_backward(const Tensor<T>& x, const Grad<T>& dy, Grad<T>& dx, bool overwrite = false);

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
void avgpool_backward(const Grad<T>& dy, const PoolGeom& g, Grad<T>& dx, bool overwrite = false);
// The same for sample n only, added to dx (see DxEpilogue).
template <typename T>
void avgpool_backward_sample(const Grad<T>& dy, const PoolGeom& g, Grad<T>& dx, int n);
template <typename T>
void maxpool_forward(const Tensor<T>& x, const PoolGeom& g, Tensor<T>& y, std::vector<int32_t>& argmax);
template <typename T>
void maxpool_backward(const Grad<T>& dy, const std::vector<int32_t>& argmax, Grad<T>& dx);

template <typename T>
void global_avgpool_forward(const Tensor<T>& x, Tensor<T>& y);
template <typename T>
void global_avgpool_backward(const Grad<T>& dy, Grad<T>& dx, bool overwrite = false);

// linear: y (N, out) = x (N, in = c*h*w) W^T + b; weight (out, in), bias (out).
template <typename T>
void linear_forward(const Tensor<T>& x, const T* weight, const T* bias, int out, Tensor<T>& y);
template <typename T>
void linear_backward(const Tensor<T>& x, const T* weight, const Grad<T>& dy, Grad<T>* dx, T* dweight,
                     size_t dw_stride, T* dbias, size_t db_stride);

// add (same shapes), channel concat, zero, shift.
template <typename T>
void add_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y);
template <typename T>
void concat_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y);
// dx_i += the channel slice [c0, c0 + dx_i.c) of dy.
template <typename T>
void concat_backward_slice(const Grad<T>& dy, int c0, Grad<T>& dx);
template <typename T>
void add_backward(const Grad<T>& dy, T k, Grad<T>& dx, bool overwrite = false);  // dx (+)= k dy
// zero: zeros of shape (N, channels, ceil(H/stride), ceil(W/stride)); its gradient is 0 everywhere.
template <typename T>
void zero_forward(const Tensor<T>& x, int channels, int stride, Tensor<T>& y);
// shift: y[i, j] = x[i + 1, j + 1], 0 past the edge (pad right/bottom by 1, drop first row and column):
// the second path of FactorizedReduce.
template <typename T>
void shift_forward(const Tensor<T>& x, Tensor<T>& y);
template <typename T>
void shift_backward(const Grad<T>& dy, Grad<T>& dx);

}  // namespace tegnas
