#include "plan.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <sstream>

namespace tegnas {

namespace {
const char* kNames[] = {"input", "conv2d", "batchnorm", "relu", "avgpool", "maxpool", "global_avgpool",
                        "linear", "add", "concat", "zero", "shift"};

std::string shape_str(const std::vector<int>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

[[noreturn]] void fail(size_t idx, const Node& nd, const std::string& what) {
  std::ostringstream o;
  o << "invalid plan: node " << idx << " (" << op_name(nd.op) << "): " << what;
  throw EngineError(o.str());
}

const ParamInfo& param(const Plan& p, size_t idx, const Node& nd, int ref, const char* role) {
  if (ref < 0 || ref >= static_cast<int>(p.params.size())) {
    std::ostringstream o;
    o << role << " refers to parameter " << ref << " but the plan has " << p.params.size() << " parameters";
    fail(idx, nd, o.str());
  }
  return p.params[ref];
}

void expect_shape(size_t idx, const Node& nd, const ParamInfo& pi, const std::vector<int>& want) {
  if (pi.shape != want)
    fail(idx, nd, "parameter '" + pi.name + "' has shape " + shape_str(pi.shape) + ", expected " + shape_str(want));
}
}  // namespace

const char* op_name(Op op) { return kNames[static_cast<int>(op)]; }

bool op_from_name(const std::string& name, Op& out) {
  for (int i = 0; i < static_cast<int>(sizeof(kNames) / sizeof(kNames[0])); ++i)
    if (name == kNames[i]) {
      out = static_cast<Op>(i);
      return true;
    }
  return false;
}

std::string op_names() {
  std::string s;
  for (const char* n : kNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

namespace {
// Sizes are checked in 64-bit arithmetic before anything is stored in an int: every factor is below
// 2^31, so a product of two never overflows, and a longer product stops as soon as it passes kMaxValues.
long long capped_product(std::initializer_list<long long> dims) {
  long long n = 1;
  for (long long d : dims) {
    n *= d;
    if (n > kMaxValues) return kMaxValues + 1;
  }
  return n;
}

void check_sample(size_t idx, const Node& nd, long long c, long long h, long long w) {
  const long long n = capped_product({c, h, w});
  if (n > kMaxValues) {
    std::ostringstream o;
    o << "its output (" << c << ", " << h << ", " << w << ") is too large: more than 2^31 - 1 values per sample (the engine's limit)";
    fail(idx, nd, o.str());
  }
}

// Output size of a sliding window in 64-bit arithmetic; <= 0 when the window does not fit.
long long window_out64(long long in, long long k, long long stride, long long pad, long long dil) {
  const long long span = dil * (k - 1) + 1;
  if (in + 2 * pad < span) return 0;
  return (in + 2 * pad - span) / stride + 1;
}
}  // namespace

void validate_plan(Plan& p) {
  if (p.in_c <= 0 || p.in_h <= 0 || p.in_w <= 0) {
    std::ostringstream o;
    o << "invalid plan: input shape must be three positive integers (channels, height, width), got [" << p.in_c << ", " << p.in_h
      << ", " << p.in_w << "]";
    throw EngineError(o.str());
  }
  if (capped_product({p.in_c, p.in_h, p.in_w}) > kMaxValues) {
    std::ostringstream o;
    o << "invalid plan: input [" << p.in_c << ", " << p.in_h << ", " << p.in_w
      << "] is too large: more than 2^31 - 1 values per sample (the engine's limit)";
    throw EngineError(o.str());
  }
  if (p.nodes.empty() || p.nodes[0].op != Op::Input)
    throw EngineError(std::string("invalid plan: node 0 must be { op: 'input' }, got ") +
                      (p.nodes.empty() ? "no nodes" : std::string("a ") + op_name(p.nodes[0].op) + " node"));
  size_t off = 0;
  for (auto& pi : p.params) {
    if (pi.shape.empty()) throw EngineError("invalid plan: parameter '" + pi.name + "' has an empty shape; expected at least one dimension");
    long long n = 1;
    for (int d : pi.shape) {
      if (d <= 0) throw EngineError("invalid plan: parameter '" + pi.name + "' has shape " + shape_str(pi.shape) +
                                    " with a non-positive dimension");
      n = capped_product({n, d});
    }
    if (n > kMaxValues)
      throw EngineError("invalid plan: parameter '" + pi.name + "' of shape " + shape_str(pi.shape) +
                        " is too large: more than 2^31 - 1 values (the engine's limit)");
    pi.numel = static_cast<size_t>(n);
    pi.offset = off;
    off += pi.numel;
  }
  p.total_params = off;
  p.max_sample = 0;

  for (size_t i = 0; i < p.nodes.size(); ++i) {
    Node& nd = p.nodes[i];
    if (i > 0 && nd.op == Op::Input) fail(i, nd, "only node 0 may be the input");
    for (int in : nd.inputs)
      if (in < 0 || in >= static_cast<int>(i)) {
        std::ostringstream o;
        o << "input " << in << " is not an earlier node (nodes read only nodes 0.." << (i == 0 ? 0 : i - 1) << ")";
        fail(i, nd, o.str());
      }
    auto in0 = [&]() -> const Node& { return p.nodes[nd.inputs[0]]; };
    const bool multi = nd.op == Op::Add || nd.op == Op::Concat;
    if (nd.op != Op::Input) {
      if (multi && nd.inputs.empty()) fail(i, nd, "needs at least one input, got none");
      if (!multi && nd.inputs.size() != 1) fail(i, nd, "needs exactly one input");
    }
    switch (nd.op) {
      case Op::Input:
        nd.c = p.in_c; nd.h = p.in_h; nd.w = p.in_w;
        break;
      case Op::Conv2d: {
        const Node& x = in0();
        const ParamInfo& W = param(p, i, nd, nd.weight, "weight");
        if (W.shape.size() != 4) fail(i, nd, "weight '" + W.name + "' must be 4-D (out, in/groups, kh, kw), got " + shape_str(W.shape));
        if (nd.groups <= 0 || x.c % nd.groups != 0 || W.shape[0] % nd.groups != 0) {
          std::ostringstream o;
          o << "groups " << nd.groups << " must divide input channels " << x.c << " and output channels " << W.shape[0];
          fail(i, nd, o.str());
        }
        expect_shape(i, nd, W, {W.shape[0], x.c / nd.groups, W.shape[2], W.shape[3]});
        if (nd.sh <= 0 || nd.sw <= 0 || nd.dh <= 0 || nd.dw <= 0 || nd.ph < 0 || nd.pw < 0) {
          std::ostringstream o;
          o << "stride and dilation must be >= 1 and padding >= 0, got stride [" << nd.sh << ", " << nd.sw << "], dilation [" << nd.dh
            << ", " << nd.dw << "], padding [" << nd.ph << ", " << nd.pw << "]";
          fail(i, nd, o.str());
        }
        nd.kh = W.shape[2]; nd.kw = W.shape[3];
        if (nd.bias >= 0) expect_shape(i, nd, param(p, i, nd, nd.bias, "bias"), {W.shape[0]});
        // The padded input and the dilated kernel must fit in an int before the kernels index them.
        const long long hp = static_cast<long long>(x.h) + 2LL * nd.ph, wp = static_cast<long long>(x.w) + 2LL * nd.pw;
        const long long spanh = static_cast<long long>(nd.dh) * (nd.kh - 1) + 1, spanw = static_cast<long long>(nd.dw) * (nd.kw - 1) + 1;
        if (capped_product({hp, wp}) > kMaxValues / 4 || spanh > kMaxValues / 4 || spanw > kMaxValues / 4) {
          std::ostringstream o;
          o << "padding [" << nd.ph << ", " << nd.pw << "] and dilation [" << nd.dh << ", " << nd.dw << "] make a padded input of "
            << hp << " x " << wp << " and a kernel span of " << spanh << " x " << spanw << ": too large (the engine's limit is 2^29 values)";
          fail(i, nd, o.str());
        }
        const long long ho = window_out64(x.h, nd.kh, nd.sh, nd.ph, nd.dh), wo = window_out64(x.w, nd.kw, nd.sw, nd.pw, nd.dw);
        if (ho <= 0 || wo <= 0) fail(i, nd, "the kernel does not fit the input of " + std::to_string(x.h) + "x" + std::to_string(x.w));
        check_sample(i, nd, W.shape[0], ho, wo);
        // One sample and group's column matrix: (in/groups * kh * kw) x (hout * wout).
        if (capped_product({static_cast<long long>(x.c / nd.groups) * nd.kh * nd.kw, ho * wo}) > kMaxValues)
          fail(i, nd, "its column matrix (in/groups x kh x kw by hout x wout) is too large: more than 2^31 - 1 values (the engine's limit)");
        ConvGeom& g = nd.conv;
        g.cin = x.c; g.cout = W.shape[0]; g.kh = nd.kh; g.kw = nd.kw; g.sh = nd.sh; g.sw = nd.sw;
        g.ph = nd.ph; g.pw = nd.pw; g.dh = nd.dh; g.dw = nd.dw; g.groups = nd.groups; g.hin = x.h; g.win = x.w;
        g.hout = static_cast<int>(ho);
        g.wout = static_cast<int>(wo);
        nd.c = g.cout; nd.h = g.hout; nd.w = g.wout;
        break;
      }
      case Op::BatchNorm: {
        const Node& x = in0();
        expect_shape(i, nd, param(p, i, nd, nd.weight, "weight"), {x.c});
        expect_shape(i, nd, param(p, i, nd, nd.bias, "bias"), {x.c});
        if (!(nd.eps > 0) || !std::isfinite(nd.eps)) {
          std::ostringstream o;
          o << "eps must be a finite number > 0, got " << (std::isnan(nd.eps) ? "NaN" : std::isinf(nd.eps) ? (nd.eps > 0 ? "Infinity" : "-Infinity") : std::to_string(nd.eps));
          fail(i, nd, o.str());
        }
        nd.c = x.c; nd.h = x.h; nd.w = x.w;
        break;
      }
      case Op::Relu:
      case Op::Shift:
        nd.c = in0().c; nd.h = in0().h; nd.w = in0().w;
        break;
      case Op::AvgPool:
      case Op::MaxPool: {
        const Node& x = in0();
        if (nd.kh <= 0 || nd.sh <= 0 || nd.ph < 0 || 2LL * nd.ph > nd.kh) {
          std::ostringstream o;
          o << "kernel and stride must be >= 1 and padding between 0 and kernel/2, got kernel " << nd.kh << ", stride " << nd.sh
            << ", padding " << nd.ph;
          fail(i, nd, o.str());
        }
        const long long hp = static_cast<long long>(x.h) + 2LL * nd.ph, wp = static_cast<long long>(x.w) + 2LL * nd.ph;
        if (hp > kMaxValues / 4 || wp > kMaxValues / 4 || nd.kh > kMaxValues / 4)
          fail(i, nd, "kernel " + std::to_string(nd.kh) + " and padding " + std::to_string(nd.ph) + " are too large (the engine's limit is 2^29)");
        PoolGeom& g = nd.pool;
        g.k = nd.kh; g.stride = nd.sh; g.pad = nd.ph; g.hin = x.h; g.win = x.w;
        g.hout = static_cast<int>(window_out64(x.h, g.k, g.stride, g.pad, 1));
        g.wout = static_cast<int>(window_out64(x.w, g.k, g.stride, g.pad, 1));
        if (g.hout <= 0 || g.wout <= 0) fail(i, nd, "the window does not fit the input of " + std::to_string(x.h) + "x" + std::to_string(x.w));
        nd.c = x.c; nd.h = g.hout; nd.w = g.wout;
        break;
      }
      case Op::GlobalAvgPool:
        nd.c = in0().c; nd.h = 1; nd.w = 1;
        break;
      case Op::Linear: {
        const Node& x = in0();
        const ParamInfo& W = param(p, i, nd, nd.weight, "weight");
        if (W.shape.size() != 2) fail(i, nd, "weight '" + W.name + "' must be 2-D (out, in), got " + shape_str(W.shape));
        // x's sample size is below 2^31 (checked at x), so it fits the int of a shape.
        expect_shape(i, nd, W, {W.shape[0], x.c * x.h * x.w});
        if (nd.bias >= 0) expect_shape(i, nd, param(p, i, nd, nd.bias, "bias"), {W.shape[0]});
        nd.c = W.shape[0]; nd.h = 1; nd.w = 1;
        break;
      }
      case Op::Add:
      case Op::Concat: {
        const Node& a = in0();
        long long C = 0;
        for (int in : nd.inputs) {
          const Node& b = p.nodes[in];
          if (b.h != a.h || b.w != a.w || (nd.op == Op::Add && b.c != a.c)) {
            std::ostringstream o;
            o << "input " << in << " has shape (" << b.c << ", " << b.h << ", " << b.w << ") but input "
              << nd.inputs[0] << " has (" << a.c << ", " << a.h << ", " << a.w << ")";
            fail(i, nd, o.str());
          }
          C += b.c;
          if (C > kMaxValues) break;
        }
        if (nd.op == Op::Concat) check_sample(i, nd, C, a.h, a.w);
        nd.c = nd.op == Op::Add ? a.c : static_cast<int>(C); nd.h = a.h; nd.w = a.w;
        break;
      }
      case Op::Zero: {
        if (nd.channels <= 0 || nd.stride <= 0) {
          std::ostringstream o;
          o << "channels and stride must be >= 1, got channels " << nd.channels << ", stride " << nd.stride;
          fail(i, nd, o.str());
        }
        const long long h = (static_cast<long long>(in0().h) + nd.stride - 1) / nd.stride, w = (static_cast<long long>(in0().w) + nd.stride - 1) / nd.stride;
        check_sample(i, nd, nd.channels, h, w);
        nd.c = nd.channels; nd.h = static_cast<int>(h); nd.w = static_cast<int>(w);
        break;
      }
    }
    check_sample(i, nd, nd.c, nd.h, nd.w);  // pools can grow a side by one, so every op is checked
    p.max_sample = std::max(p.max_sample, static_cast<size_t>(nd.c) * nd.h * nd.w);
  }
  if (p.output < 0 || p.output >= static_cast<int>(p.nodes.size()))
    throw EngineError("invalid plan: output " + std::to_string(p.output) + " is not a node index (expected 0.." +
                      std::to_string(static_cast<long long>(p.nodes.size()) - 1) + ")");
  p.live.assign(p.nodes.size(), false);
  p.live[p.output] = true;
  for (size_t i = p.nodes.size(); i-- > 0;)
    if (p.live[i])
      for (int in : p.nodes[i].inputs) p.live[in] = true;
}

}  // namespace tegnas
