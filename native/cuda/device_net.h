// A validated Plan run on the device: the forward pass (keeping what the backward pass needs) and the
// batched backward pass of S seeds that gives per-sample gradients. The device twin of
// graph/executor.h, with the layouts of kernels.h.
#pragma once
#include <vector>

#include "../graph/plan.h"
#include "device.h"

namespace tegnas {
namespace cuda {

template <typename T>
struct DevActs {
  int N = 0;
  std::vector<Buf<T>> act;          // every node's output, [C][N][H][W]
  std::vector<Buf<T>> xhat, invstd; // batchnorm nodes
  std::vector<Buf<int32_t>> argmax; // maxpool nodes
  std::vector<Buf<T>> col;          // conv nodes: im2col of the input, kept for the weight gradient
};

// x: N inputs on the device in the host's NCHW layout. keep_cols: keep the conv im2col matrices for a
// backward pass (else they are freed as soon as the conv has run).
template <typename T>
void device_forward(Context& ctx, const Plan& plan, const T* params, const T* x, int N, DevActs<T>& out, bool keep_cols);

// Row i of G (N x P on the device, zeroed by the caller) += d(sum_k logits[i, k]) / d(req params),
// for the whole batch of the forward pass `acts` (run with keep_cols).
template <typename T>
void device_per_sample_gradients(Context& ctx, const Plan& plan, const T* params, const DevActs<T>& acts,
                                 const std::vector<int>& req, T* G);

// Total number of values of the requested parameters (the row length P of G).
size_t requested_numel(const Plan& plan, const std::vector<int>& req);

}  // namespace cuda
}  // namespace tegnas
