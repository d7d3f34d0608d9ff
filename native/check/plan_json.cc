#include "plan_json.h"

#include <stdexcept>

namespace tegnas::check {

namespace {
int get_int(const Json& o, const char* key, bool required, int dflt) {
  if (!o.has(key)) {
    if (required) throw std::runtime_error(std::string("plan: missing field '") + key + "'");
    return dflt;
  }
  return o[key].integer();
}

void get_pair(const Json& o, const char* key, int dflt, int& a, int& b) {
  if (!o.has(key)) {
    a = b = dflt;
    return;
  }
  const Json& v = o[key];
  if (v.is_array()) {
    a = v[0].integer();
    b = v[1].integer();
  } else {
    a = b = v.integer();
  }
}

bool ends_with(const std::string& s, const std::string& t) { return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0; }
}  // namespace

Plan plan_from_json(const Json& j) {
  Plan p;
  if (j["version"].integer() != 1) throw std::runtime_error("plan: expected version 1");
  const Json& in = j["input"];
  p.in_c = in[0].integer();
  p.in_h = in[1].integer();
  p.in_w = in[2].integer();
  for (const Json& pj : j["params"].array()) {
    ParamInfo pi;
    pi.name = pj["name"].string();
    for (const Json& d : pj["shape"].array()) pi.shape.push_back(d.integer());
    p.params.push_back(std::move(pi));
  }
  for (const Json& nj : j["nodes"].array()) {
    Node nd;
    const std::string op = nj["op"].string();
    if (!op_from_name(op, nd.op)) throw std::runtime_error("plan: unknown op '" + op + "'");
    if (nd.op == Op::Add || nd.op == Op::Concat)
      for (const Json& i : nj["inputs"].array()) nd.inputs.push_back(i.integer());
    else if (nd.op != Op::Input)
      nd.inputs = {get_int(nj, "input", true, 0)};
    switch (nd.op) {
      case Op::Conv2d:
        nd.weight = get_int(nj, "weight", true, -1);
        nd.bias = get_int(nj, "bias", false, -1);
        get_pair(nj, "stride", 1, nd.sh, nd.sw);
        get_pair(nj, "padding", 0, nd.ph, nd.pw);
        get_pair(nj, "dilation", 1, nd.dh, nd.dw);
        nd.groups = get_int(nj, "groups", false, 1);
        break;
      case Op::BatchNorm:
        nd.weight = get_int(nj, "weight", true, -1);
        nd.bias = get_int(nj, "bias", true, -1);
        if (nj.has("eps")) nd.eps = nj["eps"].number();
        break;
      case Op::AvgPool:
      case Op::MaxPool:
        nd.kh = nd.kw = get_int(nj, "kernel", true, 0);
        nd.sh = nd.sw = get_int(nj, "stride", true, 0);
        nd.ph = nd.pw = get_int(nj, "padding", true, 0);
        break;
      case Op::Linear:
        nd.weight = get_int(nj, "weight", true, -1);
        nd.bias = get_int(nj, "bias", false, -1);
        break;
      case Op::Zero:
        nd.channels = get_int(nj, "channels", true, 0);
        nd.stride = get_int(nj, "stride", true, 0);
        break;
      default: break;
    }
    p.nodes.push_back(std::move(nd));
  }
  p.output = j["output"].integer();
  validate_plan(p);
  return p;
}

std::vector<int> param_group(const Plan& plan, const std::string& group) {
  std::vector<bool> used(plan.params.size(), false);
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    if (!plan.live[i]) continue;
    if (plan.nodes[i].weight >= 0) used[plan.nodes[i].weight] = true;
    if (plan.nodes[i].bias >= 0) used[plan.nodes[i].bias] = true;
  }
  std::vector<int> out;
  for (size_t i = 0; i < plan.params.size(); ++i) {
    if (!used[i]) continue;
    const std::string& n = plan.params[i].name;
    if (group == "all" || (ends_with(n, "weight") && (group == "weights" || n.rfind("cells.", 0) == 0))) out.push_back(static_cast<int>(i));
  }
  return out;
}

}  // namespace tegnas::check
