// A parsed, validated network plan (see docs/plan-format.md). The addon fills the raw fields from
// the JS object; validate_plan() checks every reference and shape and infers each node's shape, so
// the executor can trust it.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "../ops/ops.h"

namespace tegnas {

enum class Op { Input, Conv2d, BatchNorm, Relu, AvgPool, MaxPool, GlobalAvgPool, Linear, Add, Concat, Zero, Shift };

const char* op_name(Op op);
bool op_from_name(const std::string& name, Op& out);
// Every op name, comma-separated (for error messages).
std::string op_names();

// The engine indexes tensors with int arithmetic, so a plan may not ask for more than this many values
// in one parameter, one node's output for one sample, or one convolution's column matrix (validate_plan
// refuses it); the addon also keeps batch x node output under it.
constexpr long long kMaxValues = 2147483647;

struct ParamInfo {
  std::string name;
  std::vector<int> shape;
  size_t numel = 0;
  size_t offset = 0;  // into the concatenated parameter vector
};

struct Node {
  Op op = Op::Input;
  std::vector<int> inputs;
  int weight = -1, bias = -1;
  // conv: kernel from the weight shape; pools: kernel = kh = kw
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  int channels = 0, stride = 1;  // zero
  double eps = 1e-5;
  // inferred output shape of one sample
  int c = 0, h = 0, w = 0;
  ConvGeom conv;
  PoolGeom pool;
};

struct Plan {
  int in_c = 0, in_h = 0, in_w = 0;
  std::vector<ParamInfo> params;
  std::vector<Node> nodes;
  int output = -1;
  size_t total_params = 0;
  // The most values any node outputs for one sample (a batch of N needs N x max_sample <= kMaxValues).
  size_t max_sample = 0;
  // For each node, whether it lies on a path to the output (backward skips the others).
  std::vector<bool> live;
};

// Throws EngineError naming the node and the problem.
void validate_plan(Plan& plan);

}  // namespace tegnas
