#include "device_net.h"

#include <algorithm>

#include "../tensor.h"

namespace tegnas {
namespace cuda {

namespace {

ConvDims dims_of(const ConvGeom& g) {
  ConvDims d;
  d.cin = g.cin; d.cout = g.cout; d.kh = g.kh; d.kw = g.kw; d.sh = g.sh; d.sw = g.sw; d.ph = g.ph; d.pw = g.pw;
  d.dh = g.dh; d.dw = g.dw; d.groups = g.groups; d.hin = g.hin; d.win = g.win; d.hout = g.hout; d.wout = g.wout;
  return d;
}

PoolDims dims_of(const PoolGeom& g) {
  PoolDims d;
  d.k = g.k; d.stride = g.stride; d.pad = g.pad; d.hin = g.hin; d.win = g.win; d.hout = g.hout; d.wout = g.wout;
  return d;
}

// A 1x1, stride 1, unpadded convolution reads its input [C][N*HW] as the column matrix itself.
bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

long long plane_of(const Node& nd) { return static_cast<long long>(nd.h) * nd.w; }
// Values of a node's output for the whole batch (one seed).
long long size_of(const Node& nd, int N) { return static_cast<long long>(nd.c) * N * nd.h * nd.w; }

}  // namespace

size_t requested_numel(const Plan& plan, const std::vector<int>& req) {
  size_t P = 0;
  for (int r : req) {
    if (r < 0 || r >= static_cast<int>(plan.params.size())) throw EngineError("requested parameter index out of range");
    P += plan.params[r].numel;
  }
  return P;
}

template <typename T>
void device_forward(Context& ctx, const Plan& plan, const T* params, const T* x, int N, DevActs<T>& out, bool keep_cols) {
  const size_t n_nodes = plan.nodes.size();
  const cudaStream_t st = ctx.stream();
  out.N = N;
  out.act.clear();
  out.act.resize(n_nodes);
  out.xhat.clear();
  out.xhat.resize(n_nodes);
  out.invstd.clear();
  out.invstd.resize(n_nodes);
  out.argmax.clear();
  out.argmax.resize(n_nodes);
  out.col.clear();
  out.col.resize(n_nodes);
  auto P = [&](int ref) -> const T* { return ref >= 0 ? params + plan.params[ref].offset : nullptr; };
  for (size_t i = 0; i < n_nodes; ++i) {
    const Node& nd = plan.nodes[i];
    Buf<T>& y = out.act[i];
    const long long M = size_of(nd, N);
    auto in = [&](size_t k) -> const T* { return out.act[nd.inputs[k]].get(); };
    switch (nd.op) {
      case Op::Input:
        y.reset(ctx, M);
        nchw_to_cnhw(x, y.get(), N, plan.in_c, static_cast<long long>(plan.in_h) * plan.in_w, st);
        break;
      case Op::Conv2d: {
        const ConvGeom& g = nd.conv;
        const ConvDims d = dims_of(g);
        const long long NHW = static_cast<long long>(N) * g.hout * g.wout;
        const int K = g.kdim(), cog = g.cout_g();
        const T* colp = in(0);
        if (!is_pointwise(g)) {
          out.col[i].reset(ctx, static_cast<size_t>(g.cin) * g.kh * g.kw * NHW);
          im2col(in(0), out.col[i].get(), d, N, st);
          colp = out.col[i].get();
        }
        y.reset(ctx, M);
        const T* w = P(nd.weight);
        for (int grp = 0; grp < g.groups; ++grp)
          gemm_rm<T>(ctx, false, false, cog, static_cast<int>(NHW), K, T(1), w + static_cast<size_t>(grp) * cog * K, K, 0,
                     colp + static_cast<size_t>(grp) * K * NHW, static_cast<int>(NHW), 0, T(0),
                     y.get() + static_cast<size_t>(grp) * cog * NHW, static_cast<int>(NHW), 0, 1);
        if (nd.bias >= 0) add_channel_bias(y.get(), P(nd.bias), g.cout, NHW, st);
        if (!keep_cols) out.col[i].release();
        break;
      }
      case Op::BatchNorm: {
        const long long plane = static_cast<long long>(N) * plane_of(nd);
        y.reset(ctx, M);
        out.xhat[i].reset(ctx, M);
        out.invstd[i].reset(ctx, nd.c);
        bn_forward(in(0), P(nd.weight), P(nd.bias), nd.eps, y.get(), out.xhat[i].get(), out.invstd[i].get(), nd.c, plane, st);
        break;
      }
      case Op::Relu:
        y.reset(ctx, M);
        relu_forward(in(0), y.get(), M, st);
        break;
      case Op::AvgPool:
        y.reset(ctx, M);
        avgpool_forward(in(0), y.get(), dims_of(nd.pool), static_cast<long long>(nd.c) * N, st);
        break;
      case Op::MaxPool:
        y.reset(ctx, M);
        out.argmax[i].reset(ctx, M);
        maxpool_forward(in(0), y.get(), out.argmax[i].get(), dims_of(nd.pool), static_cast<long long>(nd.c) * N, st);
        break;
      case Op::GlobalAvgPool: {
        const Node& src = plan.nodes[nd.inputs[0]];
        y.reset(ctx, M);
        gap_forward(in(0), y.get(), static_cast<long long>(nd.c) * N, plane_of(src), st);
        break;
      }
      case Op::Linear: {
        const Node& src = plan.nodes[nd.inputs[0]];
        y.reset(ctx, M);
        linear_forward(in(0), P(nd.weight), P(nd.bias), y.get(), N, src.c, plane_of(src), nd.c, st);
        break;
      }
      case Op::Add:
        y.zeros(ctx, M);
        for (size_t k = 0; k < nd.inputs.size(); ++k) axpy(y.get(), in(k), T(1), M, st);
        break;
      case Op::Concat: {
        y.reset(ctx, M);
        long long off = 0;
        for (size_t k = 0; k < nd.inputs.size(); ++k) {
          const long long len = size_of(plan.nodes[nd.inputs[k]], N);
          if (len) TEGNAS_CUDA_CHECK(cudaMemcpyAsync(y.get() + off, in(k), len * sizeof(T), cudaMemcpyDeviceToDevice, st));
          off += len;
        }
        break;
      }
      case Op::Zero:
        y.zeros(ctx, M);
        break;
      case Op::Shift:
        y.reset(ctx, M);
        shift_forward(in(0), y.get(), static_cast<long long>(nd.c) * N, nd.h, nd.w, st);
        break;
    }
  }
}

template <typename T>
void device_per_sample_gradients(Context& ctx, const Plan& plan, const T* params, const DevActs<T>& acts,
                                 const std::vector<int>& req, T* G) {
  const size_t n_nodes = plan.nodes.size();
  const cudaStream_t st = ctx.stream();
  const int N = acts.N;
  // Column of each requested parameter in a row of G, as the CPU executor lays them out.
  std::vector<long long> col(plan.params.size(), -1);
  long long Pl = 0;
  for (int r : req) {
    if (r < 0 || r >= static_cast<int>(plan.params.size())) throw EngineError("requested parameter index out of range");
    if (col[r] >= 0) throw EngineError("parameter '" + plan.params[r].name + "' is requested twice");
    col[r] = Pl;
    Pl += static_cast<long long>(plan.params[r].numel);
  }
  // up[i]: the gradient of node i's output is needed (it reaches a requested parameter).
  std::vector<bool> up(n_nodes, false);
  for (size_t i = 0; i < n_nodes; ++i) {
    const Node& nd = plan.nodes[i];
    bool u = (nd.weight >= 0 && col[nd.weight] >= 0) || (nd.bias >= 0 && col[nd.bias] >= 0);
    if (nd.op != Op::Zero)
      for (int in : nd.inputs) u = u || up[in];
    up[i] = u;
  }
  if (!up[plan.output] || N <= 0) return;

  // Seeds per pass: all N when the gradients of every node fit in half the free memory at once (an
  // upper bound: buffers are freed as the pass goes), fewer otherwise.
  long long per_seed = 0;
  for (size_t i = 0; i < n_nodes; ++i)
    if (plan.live[i] && up[i]) per_seed += size_of(plan.nodes[i], N) * static_cast<long long>(sizeof(T));
  size_t free_b = 0, total_b = 0;
  TEGNAS_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  int chunk = N;
  if (per_seed > 0) {
    const long long fit = static_cast<long long>(free_b / 2) / per_seed;
    chunk = static_cast<int>(std::max<long long>(1, std::min<long long>(N, fit)));
  }

  auto P = [&](int ref) -> const T* { return ref >= 0 ? params + plan.params[ref].offset : nullptr; };
  const Node& out_node = plan.nodes[plan.output];
  for (int s0 = 0; s0 < N; s0 += chunk) {
    const int S = std::min(chunk, N - s0);
    T* Grow = G + static_cast<long long>(s0) * Pl;  // row s0; seed s writes row s0 + s (stride Pl)
    auto dP = [&](int ref) -> T* { return (ref >= 0 && col[ref] >= 0) ? Grow + col[ref] : nullptr; };
    std::vector<Buf<T>> g(n_nodes);
    g[plan.output].reset(ctx, static_cast<size_t>(S) * size_of(out_node, N));
    seed_fill(g[plan.output].get(), S, s0, out_node.c, N, plane_of(out_node), st);
    // The gradient buffer of node k, zeroed when first written.
    auto grad = [&](int k) -> T* {
      if (g[k].empty()) g[k].zeros(ctx, static_cast<size_t>(S) * size_of(plan.nodes[k], N));
      return g[k].get();
    };
    Buf<double> sdy, sdyx;
    for (size_t i = n_nodes; i-- > 1;) {
      const Node& nd = plan.nodes[i];
      if (!plan.live[i] || !up[i] || g[i].empty()) continue;
      const T* dy = g[i].get();
      const int in0 = nd.inputs.empty() ? -1 : nd.inputs[0];
      const Node* src = in0 >= 0 ? &plan.nodes[in0] : nullptr;
      switch (nd.op) {
        case Op::Input:
          break;
        case Op::Conv2d: {
          const ConvGeom& cg = nd.conv;
          const long long NHW = static_cast<long long>(N) * cg.hout * cg.wout;
          const int K = cg.kdim(), cog = cg.cout_g();
          if (T* dw = dP(nd.weight)) {
            const T* colp = is_pointwise(cg) ? acts.act[in0].get() : acts.col[i].get();
            if (!colp) throw EngineError("internal: the forward pass did not keep the im2col matrix of a conv");
            for (int grp = 0; grp < cg.groups; ++grp)
              gemm_rm<T>(ctx, false, true, cog, K, static_cast<int>(NHW), T(1), dy + static_cast<size_t>(grp) * cog * NHW,
                         static_cast<int>(NHW), static_cast<long long>(cg.cout) * NHW, colp + static_cast<size_t>(grp) * K * NHW,
                         static_cast<int>(NHW), 0, T(1), dw + static_cast<size_t>(grp) * cog * K, K, Pl, S);
          }
          if (T* db = dP(nd.bias)) channel_sums(dy, db, Pl, S, cg.cout, NHW, st);
          if (up[in0]) conv_dgrad(P(nd.weight), dy, grad(in0), dims_of(cg), N, S, st);
          break;
        }
        case Op::BatchNorm: {
          const long long plane = static_cast<long long>(N) * plane_of(nd);
          sdy.reset(ctx, static_cast<size_t>(S) * nd.c);
          sdyx.reset(ctx, static_cast<size_t>(S) * nd.c);
          bn_backward_sums(dy, acts.xhat[i].get(), sdy.get(), sdyx.get(), dP(nd.weight), dP(nd.bias), Pl, S, nd.c, plane, st);
          if (up[in0])
            bn_backward_dx(dy, acts.xhat[i].get(), P(nd.weight), acts.invstd[i].get(), sdy.get(), sdyx.get(), grad(in0), S, nd.c,
                           plane, st);
          break;
        }
        case Op::Relu:
          if (up[in0]) relu_backward(acts.act[in0].get(), dy, grad(in0), size_of(*src, N), S, st);
          break;
        case Op::AvgPool:
          if (up[in0]) avgpool_backward(dy, grad(in0), dims_of(nd.pool), static_cast<long long>(nd.c) * N, S, st);
          break;
        case Op::MaxPool:
          if (up[in0])
            maxpool_backward(dy, acts.argmax[i].get(), grad(in0), dims_of(nd.pool), static_cast<long long>(nd.c) * N, S, st);
          break;
        case Op::GlobalAvgPool:
          if (up[in0]) gap_backward(dy, grad(in0), static_cast<long long>(nd.c) * N, plane_of(*src), S, st);
          break;
        case Op::Linear:
          if (T* dw = dP(nd.weight)) linear_wgrad(dy, acts.act[in0].get(), dw, Pl, S, N, src->c, plane_of(*src), nd.c, st);
          if (T* db = dP(nd.bias)) channel_sums(dy, db, Pl, S, nd.c, static_cast<long long>(N), st);
          if (up[in0]) linear_dgrad(dy, P(nd.weight), grad(in0), S, N, src->c, plane_of(*src), nd.c, st);
          break;
        case Op::Add:
          // An input listed twice gets dy twice, as d(x + x)/dx = 2.
          for (int in : nd.inputs)
            if (up[in]) axpy(grad(in), dy, T(1), static_cast<long long>(S) * size_of(nd, N), st);
          break;
        case Op::Concat: {
          long long off = 0;
          const long long My = size_of(nd, N);
          for (int in : nd.inputs) {
            const long long len = size_of(plan.nodes[in], N);
            if (up[in]) slice_add(dy, My, off, grad(in), len, S, st);
            off += len;
          }
          break;
        }
        case Op::Zero:
          break;
        case Op::Shift:
          if (up[in0]) shift_backward(dy, grad(in0), static_cast<long long>(nd.c) * N, nd.h, nd.w, S, st);
          break;
      }
      g[i].release();
    }
  }
}

#define TEGNAS_DEVNET(T)                                                                                          \
  template void device_forward<T>(Context&, const Plan&, const T*, const T*, int, DevActs<T>&, bool);             \
  template void device_per_sample_gradients<T>(Context&, const Plan&, const T*, const DevActs<T>&, const std::vector<int>&, T*);
TEGNAS_DEVNET(float)
TEGNAS_DEVNET(double)
#undef TEGNAS_DEVNET

}  // namespace cuda
}  // namespace tegnas
