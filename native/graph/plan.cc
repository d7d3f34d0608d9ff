#include "plan.h"

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

void validate_plan(Plan& p) {
  if (p.in_c <= 0 || p.in_h <= 0 || p.in_w <= 0)
    throw EngineError("invalid plan: input shape must be three positive integers (channels, height, width)");
  if (p.nodes.empty() || p.nodes[0].op != Op::Input)
    throw EngineError("invalid plan: node 0 must be { op: 'input' }");
  size_t off = 0;
  for (auto& pi : p.params) {
    if (pi.shape.empty()) throw EngineError("invalid plan: parameter '" + pi.name + "' has an empty shape");
    size_t n = 1;
    for (int d : pi.shape) {
      if (d <= 0) throw EngineError("invalid plan: parameter '" + pi.name + "' has shape " + shape_str(pi.shape) +
                                    " with a non-positive dimension");
      n *= static_cast<size_t>(d);
    }
    pi.numel = n;
    pi.offset = off;
    off += n;
  }
  p.total_params = off;

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
      if (multi && nd.inputs.empty()) fail(i, nd, "needs at least one input");
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
        if (nd.sh <= 0 || nd.sw <= 0 || nd.dh <= 0 || nd.dw <= 0 || nd.ph < 0 || nd.pw < 0)
          fail(i, nd, "stride and dilation must be >= 1 and padding >= 0");
        nd.kh = W.shape[2]; nd.kw = W.shape[3];
        if (nd.bias >= 0) expect_shape(i, nd, param(p, i, nd, nd.bias, "bias"), {W.shape[0]});
        ConvGeom& g = nd.conv;
        g.cin = x.c; g.cout = W.shape[0]; g.kh = nd.kh; g.kw = nd.kw; g.sh = nd.sh; g.sw = nd.sw;
        g.ph = nd.ph; g.pw = nd.pw; g.dh = nd.dh; g.dw = nd.dw; g.groups = nd.groups; g.hin = x.h; g.win = x.w;
        g.hout = window_out(x.h, nd.kh, nd.sh, nd.ph, nd.dh);
        g.wout = window_out(x.w, nd.kw, nd.sw, nd.pw, nd.dw);
        if (g.hout <= 0 || g.wout <= 0) fail(i, nd, "the kernel does not fit the input of " + std::to_string(x.h) + "x" + std::to_string(x.w));
        nd.c = g.cout; nd.h = g.hout; nd.w = g.wout;
        break;
      }
      case Op::BatchNorm: {
        const Node& x = in0();
        expect_shape(i, nd, param(p, i, nd, nd.weight, "weight"), {x.c});
        expect_shape(i, nd, param(p, i, nd, nd.bias, "bias"), {x.c});
        if (!(nd.eps > 0)) fail(i, nd, "eps must be > 0");
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
        if (nd.kh <= 0 || nd.sh <= 0 || nd.ph < 0 || nd.ph * 2 > nd.kh)
          fail(i, nd, "kernel and stride must be >= 1 and padding between 0 and kernel/2");
        PoolGeom& g = nd.pool;
        g.k = nd.kh; g.stride = nd.sh; g.pad = nd.ph; g.hin = x.h; g.win = x.w;
        g.hout = window_out(x.h, g.k, g.stride, g.pad, 1);
        g.wout = window_out(x.w, g.k, g.stride, g.pad, 1);
        if (g.hout <= 0 || g.wout <= 0) fail(i, nd, "the window does not fit the input");
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
        expect_shape(i, nd, W, {W.shape[0], x.c * x.h * x.w});
        if (nd.bias >= 0) expect_shape(i, nd, param(p, i, nd, nd.bias, "bias"), {W.shape[0]});
        nd.c = W.shape[0]; nd.h = 1; nd.w = 1;
        break;
      }
      case Op::Add:
      case Op::Concat: {
        const Node& a = in0();
        int C = 0;
        for (int in : nd.inputs) {
          const Node& b = p.nodes[in];
          if (b.h != a.h || b.w != a.w || (nd.op == Op::Add && b.c != a.c)) {
            std::ostringstream o;
            o << "input " << in << " has shape (" << b.c << ", " << b.h << ", " << b.w << ") but input "
              << nd.inputs[0] << " has (" << a.c << ", " << a.h << ", " << a.w << ")";
            fail(i, nd, o.str());
          }
          C += b.c;
        }
        nd.c = nd.op == Op::Add ? a.c : C; nd.h = a.h; nd.w = a.w;
        break;
      }
      case Op::Zero:
        if (nd.channels <= 0 || nd.stride <= 0) fail(i, nd, "channels and stride must be >= 1");
        nd.c = nd.channels; nd.h = (in0().h + nd.stride - 1) / nd.stride; nd.w = (in0().w + nd.stride - 1) / nd.stride;
        break;
    }
  }
  if (p.output < 0 || p.output >= static_cast<int>(p.nodes.size()))
    throw EngineError("invalid plan: output " + std::to_string(p.output) + " is not a node index");
  p.live.assign(p.nodes.size(), false);
  p.live[p.output] = true;
  for (size_t i = p.nodes.size(); i-- > 0;)
    if (p.live[i])
      for (int in : p.nodes[i].inputs) p.live[in] = true;
}

}  // namespace tegnas
