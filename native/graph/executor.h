// Runs a validated plan forward (keeping what the backward pass needs) and backward for S seeds at
// once. Per-sample gradients are the special case where seed s is "sum of the logits of sample s".
#pragma once
#include <functional>
#include <vector>

#include "plan.h"

namespace tegnas {

template <typename T>
struct Activations {
  int N = 0;
  std::vector<Tensor<T>> act;            // output of every node
  std::vector<BnCache<T>> bn;            // batchnorm nodes only
  std::vector<std::vector<int32_t>> argmax;  // maxpool nodes only
  // run_forward on the same Activations again (the next architecture) reuses these buffers.
  BufferPool<T> spare;
};

// params: every parameter of the plan, concatenated in plan order (plan.total_params values).
template <typename T>
void run_forward(const Plan& plan, const T* params, const T* x, int N, Activations<T>& out);

// seeds: S x (N x output sample) gradients of the output, seed-major.
// grads: S x P, P = sum of numel of req_params, columns in req_params order (may be null when empty).
// dinput: S x N x input sample, or null when the input gradient is not wanted.
template <typename T>
void run_backward(const Plan& plan, const T* params, const Activations<T>& acts, const T* seeds, int S,
                  const std::vector<int>& req_params, T* grads, T* dinput);

// Row i of G (N x P) = d(sum_k logits[i, k]) / d(requested params), the batch run once in training
// mode so BatchNorm couples the samples. Seeds are processed in chunks spread over `threads` threads.
template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const T* x, int N, const std::vector<int>& req_params,
                          int threads, T* logits, T* G);
// The same from a forward pass already run (acts), so its activations can serve other indicators too.
template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const Activations<T>& acts, const std::vector<int>& req_params,
                          int threads, T* G);

// One batch's per-sample gradients: its forward pass, the parameters, and where the N x P rows go.
template <typename T>
struct GradientJob {
  const Activations<T>* acts;
  const std::vector<int>* req_params;
  T* G;
};
// Several batches of one network at once: their seed chunks share one queue over `threads` threads, so
// no thread idles while another batch still has chunks. Rows are identical to one call per batch.
// pools: one gradient-buffer pool per thread kept by the caller from call to call (grown to `threads`
// when shorter), or null for buffers that live only as long as the call.
// rows_done(job, first, count), when given, is called by the worker thread that has just written rows
// first .. first + count - 1 of that job's G (each row exactly once), so work on finished rows can run
// beside the chunks still being computed. An exception it throws fails the call like one of the backward's.
template <typename T>
void per_sample_gradients(const Plan& plan, const T* params, const std::vector<GradientJob<T>>& jobs, int threads,
                          std::vector<GradPool<T>>* pools = nullptr,
                          const std::function<void(int, int, int)>* rows_done = nullptr);

// The memory of one NTK-indicator call that the next call can reuse: both batches' activations and the
// backward workers' gradient buffers. One workspace serves one call at a time.
template <typename T>
struct Workspace {
  Activations<T> train, val;
  std::vector<GradPool<T>> pools;
};

}  // namespace tegnas
