// tegnas-gpu-check: the CPU and CUDA backends side by side, without Node.
//
//   tegnas-gpu-check [--cases bench/gpu-cases.json] [--root DIR] [--out DIR] [--runs N] [--quick]
//                    [--only NAME[,NAME...]] [--no-timing]
//   tegnas-gpu-check --libs        only load cuBLAS / cuSOLVER and say what was found
//
// 1. every op (forward and per-sample gradients) on small networks, float64 and float32;
// 2. every architecture of the indicator fixtures (bench/gpu-cases.json, made by
//    bench/export-gpu-cases.ts; weights and inputs from test/fixtures): NTK condition number, regression
//    error, NASWOT, linear regions, each repeat, CPU vs GPU and both vs the PyTorch oracle, plus the
//    per-sample gradient matrix of the first repeat;
// 3. the time of a full score (all repeats) of the 5 benchmark architectures on each backend.
// Prints a report, writes results.json and report.txt to --out when given. Exit code 0 when everything
// agrees, 1 when something does not, 2 when the CUDA backend cannot be used here (the reason is printed).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_libs.h"
#include "json.h"

using namespace tegnas;
using tegnas::check::Json;

namespace {

// ---- output: the report goes to stdout and report.txt; results.json collects the numbers ----

std::ostringstream report_text;
void say(const std::string& line) {
  std::cout << line << std::endl;
  report_text << line << "\n";
}

std::string jstr(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o + "\"";
}
std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream o;
  o << std::setprecision(17) << v;
  return o.str();
}
std::string fmt(double v, int prec = 6) {
  std::ostringstream o;
  o << std::setprecision(prec) << v;
  return o.str();
}

struct Tally {
  int checks = 0, failures = 0;
  std::vector<std::string> failed;
  void add(bool ok, const std::string& what) {
    ++checks;
    if (!ok) {
      ++failures;
      failed.push_back(what);
    }
  }
};

double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-300); }

template <typename T>
double max_rel(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double scale = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- 1. ops ----

struct Lcg {
  uint64_t s;
  double next(double lo, double hi) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
  }
};

struct Builder {
  Plan p;
  int param(const std::string& name, std::vector<int> shape) {
    ParamInfo pi;
    pi.name = name;
    pi.shape = std::move(shape);
    p.params.push_back(pi);
    return static_cast<int>(p.params.size() - 1);
  }
  Node& node(Op op, std::vector<int> inputs) {
    Node nd;
    nd.op = op;
    nd.inputs = std::move(inputs);
    p.nodes.push_back(nd);
    return p.nodes.back();
  }
  int last() const { return static_cast<int>(p.nodes.size() - 1); }
};

// input (3 x 7 x 7) -> conv 3x3 (4 channels) -> [the op under test] -> global average pool -> linear.
Plan op_plan(const std::string& op) {
  Builder b;
  b.p.in_c = 3; b.p.in_h = 7; b.p.in_w = 7;
  b.node(Op::Input, {});
  { Node& n = b.node(Op::Conv2d, {0}); n.weight = b.param("pre.weight", {4, 3, 3, 3}); n.ph = n.pw = 1; }
  const int pre = b.last();
  int cout = 4;
  auto conv = [&](int co, int k, int kw, int s, int ph, int pw, int d, int groups, bool bias) {
    Node& n = b.node(Op::Conv2d, {pre});
    n.weight = b.param("op.weight", {co, 4 / groups, k, kw});
    if (bias) n.bias = b.param("op.bias", {co});
    n.sh = n.sw = s; n.ph = ph; n.pw = pw; n.dh = n.dw = d; n.groups = groups;
    cout = co;
  };
  auto pool = [&](Op kind, int k, int s, int pad) {
    Node& n = b.node(kind, {pre});
    n.kh = n.kw = k; n.sh = n.sw = s; n.ph = n.pw = pad;
  };
  if (op == "conv3x3_bias") conv(5, 3, 3, 1, 1, 1, 1, 1, true);
  else if (op == "conv_stride2") conv(5, 3, 3, 2, 1, 1, 1, 1, false);
  else if (op == "conv_dilated") conv(4, 3, 3, 1, 2, 2, 2, 1, false);
  else if (op == "conv_depthwise") conv(4, 3, 3, 1, 1, 1, 1, 4, false);
  else if (op == "conv_grouped5x5_stride2") conv(6, 5, 5, 2, 2, 2, 1, 2, true);
  else if (op == "conv_pointwise") conv(6, 1, 1, 1, 0, 0, 1, 1, false);
  else if (op == "conv_1x3") conv(4, 1, 3, 1, 0, 1, 1, 1, false);
  else if (op == "batchnorm") { Node& n = b.node(Op::BatchNorm, {pre}); n.weight = b.param("bn.weight", {4}); n.bias = b.param("bn.bias", {4}); }
  else if (op == "relu") b.node(Op::Relu, {pre});
  else if (op == "avgpool_k3s1p1") pool(Op::AvgPool, 3, 1, 1);
  else if (op == "avgpool_k2s2") pool(Op::AvgPool, 2, 2, 0);
  else if (op == "avgpool_k3s2p1") pool(Op::AvgPool, 3, 2, 1);
  else if (op == "maxpool_k3s2p1") pool(Op::MaxPool, 3, 2, 1);
  else if (op == "maxpool_k2s2") pool(Op::MaxPool, 2, 2, 0);
  else if (op == "maxpool_k3s1p1") pool(Op::MaxPool, 3, 1, 1);
  else if (op == "add") { b.node(Op::Relu, {pre}); const int r = b.last(); b.node(Op::Add, {pre, r, r}); }
  else if (op == "concat") { b.node(Op::Relu, {pre}); const int r = b.last(); b.node(Op::Concat, {pre, r}); cout = 8; }
  else if (op == "zero_stride1") { Node& z = b.node(Op::Zero, {pre}); z.channels = 2; z.stride = 1; const int zi = b.last(); b.node(Op::Concat, {zi, pre}); cout = 6; }
  else if (op == "zero_stride2") {
    Node& z = b.node(Op::Zero, {pre}); z.channels = 2; z.stride = 2;
    const int zi = b.last();
    pool(Op::AvgPool, 3, 2, 1);
    b.node(Op::Concat, {zi, b.last()});
    cout = 6;
  } else if (op == "shift") b.node(Op::Shift, {pre});
  else if (op == "linear_map") {
    Node& n = b.node(Op::Linear, {pre});
    n.weight = b.param("fc.weight", {3, 4 * 7 * 7});
    b.p.output = b.last();
    validate_plan(b.p);
    return b.p;
  } else throw std::runtime_error("unknown op test " + op);
  b.node(Op::GlobalAvgPool, {b.last()});
  { Node& n = b.node(Op::Linear, {b.last()}); n.weight = b.param("fc.weight", {3, cout}); n.bias = b.param("fc.bias", {3}); }
  b.p.output = b.last();
  validate_plan(b.p);
  return b.p;
}

struct OpResult {
  std::string op;
  double fwd64, grad64, fwd32, grad32;
  bool ok;
};

template <typename T>
void run_pair(Backend& cpu, Backend& gpu, const Plan& plan, const std::vector<T>& params, const std::vector<T>& x, int B,
              double& fwd, double& grad) {
  std::vector<int> all;
  for (size_t i = 0; i < plan.params.size(); ++i) all.push_back(static_cast<int>(i));
  std::vector<T> oc, og;
  cpu.forward(plan, params.data(), x.data(), B, oc);
  gpu.forward(plan, params.data(), x.data(), B, og);
  fwd = max_rel(og, oc);
  size_t P = 0;
  for (const ParamInfo& pi : plan.params) P += pi.numel;
  const size_t K = oc.size() / B;
  std::vector<T> lc(B * K), lg(B * K), Gc(B * P), Gg(B * P);
  cpu.per_sample_gradients(plan, params.data(), x.data(), B, all, 1, lc.data(), Gc.data());
  gpu.per_sample_gradients(plan, params.data(), x.data(), B, all, 1, lg.data(), Gg.data());
  grad = std::max(max_rel(Gg, Gc), max_rel(lg, lc));
}

std::vector<OpResult> check_ops(Backend& cpu, Backend& gpu, Tally& tally) {
  const char* ops[] = {"conv3x3_bias", "conv_stride2", "conv_dilated", "conv_depthwise", "conv_grouped5x5_stride2",
                       "conv_pointwise", "conv_1x3", "batchnorm", "relu", "avgpool_k3s1p1", "avgpool_k2s2",
                       "avgpool_k3s2p1", "maxpool_k3s2p1", "maxpool_k2s2", "maxpool_k3s1p1", "add", "concat",
                       "zero_stride1", "zero_stride2", "shift", "linear_map"};
  std::vector<OpResult> out;
  say("");
  say("1. ops, CPU vs GPU: max |difference| / max |CPU value| of the output and of the per-sample gradients");
  say("   (float64 must agree to 1e-9 / 1e-8, float32 to 1e-4; batch 5, input 3 x 7 x 7, all parameters)");
  for (const char* op : ops) {
    const Plan plan = op_plan(op);
    Lcg rng{0x5eed + std::hash<std::string>()(op)};
    std::vector<double> p(plan.total_params), x(5 * 3 * 7 * 7);
    for (const ParamInfo& pi : plan.params)
      for (size_t k = 0; k < pi.numel; ++k)
        p[pi.offset + k] = pi.name == "bn.weight" ? rng.next(0.5, 1.5) : rng.next(-0.5, 0.5);
    for (double& v : x) v = rng.next(-1, 1);
    OpResult r{op, 0, 0, 0, 0, false};
    try {
      run_pair<double>(cpu, gpu, plan, p, x, 5, r.fwd64, r.grad64);
      std::vector<float> pf(p.begin(), p.end()), xf(x.begin(), x.end());
      run_pair<float>(cpu, gpu, plan, pf, xf, 5, r.fwd32, r.grad32);
      r.ok = r.fwd64 <= 1e-9 && r.grad64 <= 1e-8 && r.fwd32 <= 1e-4 && r.grad32 <= 1e-4;
      say("   " + std::string(r.ok ? "ok  " : "FAIL") + " " + op + std::string(26 - std::min<size_t>(25, strlen(op)), ' ') +
          "f64 out " + fmt(r.fwd64, 2) + " grad " + fmt(r.grad64, 2) + "   f32 out " + fmt(r.fwd32, 2) + " grad " + fmt(r.grad32, 2));
    } catch (const std::exception& e) {
      r.fwd64 = r.grad64 = r.fwd32 = r.grad32 = std::numeric_limits<double>::infinity();
      say(std::string("   FAIL ") + op + ": " + e.what());
    }
    tally.add(r.ok, std::string("op ") + op);
    out.push_back(r);
  }
  const std::string st = cuda::self_test(gpu);
  tally.add(st.empty(), "self-test network (every op together): " + st);
  say(std::string("   ") + (st.empty() ? "ok  " : "FAIL") + " every op together (the backend's self-test)" + (st.empty() ? "" : ": " + st));
  return out;
}

// ---- 2. fixtures ----

struct Space {
  std::string name;
  Json json;
  int repeat = 1, classes = 10, region_batch = 1000;
  std::vector<float> x32, vx32;
  std::vector<double> x64, vx64, rx;
  std::vector<int> y, vy;
  int B = 0, Bv = 0, R = 0;
  std::unique_ptr<check::Safetensors> weights;
};

// A plan's parameter vector from the fixture weights `<prefix><name>`.
std::vector<double> params_of(const Plan& plan, const check::Safetensors& w, const std::string& prefix) {
  std::vector<double> p(plan.total_params);
  for (const ParamInfo& pi : plan.params) {
    const std::vector<double> v = w.f64(prefix + pi.name);
    if (v.size() != pi.numel) throw std::runtime_error("weights: " + prefix + pi.name + " has the wrong size");
    std::copy(v.begin(), v.end(), p.begin() + static_cast<long>(pi.offset));
  }
  return p;
}

std::vector<int> ints(const Json& a) {
  std::vector<int> v;
  for (const Json& e : a.array()) v.push_back(e.integer());
  return v;
}

struct RepeatScores {
  NtkResult ntk;
  RegionResult regions;
};

// One repeat of the scorer's work: the NTK indicators (float32, with the regression and NASWOT) of
// the NTK network and the linear regions (float64) of the thin network.
RepeatScores score_repeat(Backend& be, const Space& s, const Plan& ntk, const Plan& thin, const std::vector<float>& p32,
                          const std::vector<double>& tp, const std::vector<int>& weights, const std::vector<int>& cells,
                          int threads) {
  NtkInputs<float> in;
  in.x = s.x32.data(); in.B = s.B; in.y = s.y.data();
  in.vx = s.vx32.data(); in.Bv = s.Bv; in.vy = s.vy.data(); in.classes = s.classes; in.naswot = true;
  RepeatScores r;
  r.ntk = be.ntk_indicators(ntk, p32.data(), in, weights, cells, threads);
  r.regions = be.linear_regions(thin, tp.data(), s.rx.data(), s.region_batch, s.R / s.region_batch);
  return r;
}

std::string show_cond(const NtkResult& r) { return r.cond_bad ? "bad" : fmt(r.cond, 7); }
std::string show_mse(const NtkResult& r) { return r.mse_bad ? "bad" : fmt(r.mse, 7); }

// Agreement of two results within the tolerances (cond_tol / mse_tol relative, regions exact).
bool agree(const NtkResult& a, const RegionResult& ra, const NtkResult& b, const RegionResult& rb, double cond_tol, double mse_tol,
           double naswot_tol, std::string& why) {
  std::ostringstream o;
  if (a.cond_bad != b.cond_bad) o << "cond bad " << a.cond_bad << " vs " << b.cond_bad << "; ";
  else if (!a.cond_bad && rel(a.cond, b.cond) > cond_tol) o << "cond " << a.cond << " vs " << b.cond << "; ";
  if (a.mse_bad != b.mse_bad) o << "mse bad " << a.mse_bad << " vs " << b.mse_bad << "; ";
  else if (!a.mse_bad && rel(a.mse, b.mse) > mse_tol) o << "mse " << a.mse << " vs " << b.mse << "; ";
  if (a.naswot_singular != b.naswot_singular) o << "naswot singular " << a.naswot_singular << " vs " << b.naswot_singular << "; ";
  else if (!a.naswot_singular && rel(a.naswot_logdet, b.naswot_logdet) > naswot_tol)
    o << "naswot " << a.naswot_logdet << " vs " << b.naswot_logdet << "; ";
  if (ra.regions != rb.regions) o << "regions " << ra.regions << " vs " << rb.regions << "; ";
  why = o.str();
  return why.empty();
}

struct CaseRow {
  std::string space, name, arch;
  std::vector<std::string> repeats_json;
  double grad_rel = 0;
  bool ok = true;
};

bool selected(const std::vector<std::string>& only, const std::string& name) {
  return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
}

std::vector<CaseRow> check_fixtures(Backend& cpu, Backend& gpu, std::vector<Space>& spaces, int threads, bool quick,
                                    const std::vector<std::string>& only, Tally& tally) {
  std::vector<CaseRow> rows;
  say("");
  say("2. indicator fixtures: every repeat on CPU and GPU (float32 NTK, float64 regions), and both against the");
  say("   PyTorch oracle. GPU vs CPU and vs the oracle: cond within 1e-3 + 3e-5 x cond, mse within 1e-3 + 3e-5 x");
  say("   cond(Kxx) (float32 gradients carry ~1e-6 relative error: test/indicators.test.ts), NASWOT 1e-3, regions");
  say("   exact; float64 (first repeat): GPU vs CPU within 1e-3 (printed: the largest relative difference).");
  for (Space& s : spaces) {
    for (const Json& c : s.json.at("cases").array()) {
      if (!selected(only, c.at("name").string())) continue;
      CaseRow row;
      row.space = s.name;
      row.name = c.at("name").string();
      row.arch = c.at("arch").string();
      const Plan ntk = check::plan_from_json(c.at("ntk"), s.json.at("ntkParams"));
      const Plan thin = check::plan_from_json(c.at("thin"), s.json.at("thinParams"));
      const std::vector<int> weights = ints(c.at("weights")), cells = ints(c.at("cells"));
      const std::vector<Json>& oracle = c.at("oracle").array();
      say("   " + s.name + " " + row.name + "  " + row.arch);
      for (int r = 0; r < s.repeat; ++r) {
        const std::string pre = "ntk." + std::to_string(r) + ".";
        const std::vector<double> p64 = params_of(ntk, *s.weights, pre);
        const std::vector<float> p32(p64.begin(), p64.end());
        const std::vector<double> tp = params_of(thin, *s.weights, "thin." + std::to_string(r) + ".");
        std::string line = "     repeat " + std::to_string(r) + ": ";
        try {
          const RepeatScores a = score_repeat(cpu, s, ntk, thin, p32, tp, weights, cells, threads);
          const RepeatScores b = score_repeat(gpu, s, ntk, thin, p32, tp, weights, cells, threads);
          const Json& o = oracle.at(r);
          const double ocond = o.at("cond").is_null() ? 0 : o.at("cond").number();
          const double okxx = o.at("kxxCond").is_null() ? 0 : o.at("kxxCond").number();
          const double cond_tol = 1e-3 + 3e-5 * std::max(ocond, a.ntk.cond_bad ? 0 : a.ntk.cond);
          const double mse_tol = 1e-3 + 3e-5 * okxx;
          std::string why_gc, why_go;
          const bool gc = agree(b.ntk, b.regions, a.ntk, a.regions, cond_tol, mse_tol, 1e-3, why_gc);
          // The oracle as a result, to compare the GPU with it.
          NtkResult on;
          on.cond_bad = o.at("condBad").b;
          on.cond = ocond;
          on.mse_bad = o.at("mseBad").b;
          on.mse = o.at("mse").is_null() ? 0 : o.at("mse").number();
          on.naswot_singular = o.at("naswot").is_null();
          on.naswot_logdet = on.naswot_singular ? 0 : o.at("naswot").number();
          RegionResult orr;
          orr.regions = static_cast<long long>(o.at("regions").number());
          const bool go = agree(b.ntk, b.regions, on, orr, cond_tol, mse_tol, 1e-3, why_go);
          line += "cond GPU " + show_cond(b.ntk) + " CPU " + show_cond(a.ntk) + " | mse GPU " + show_mse(b.ntk) + " CPU " +
                  show_mse(a.ntk) + " | regions GPU " + std::to_string(b.regions.regions) + " CPU " +
                  std::to_string(a.regions.regions) + " oracle " + std::to_string(orr.regions) + " | " +
                  (gc ? "GPU=CPU" : "GPU!=CPU: " + why_gc) + ", " + (go ? "GPU=oracle" : "GPU!=oracle: " + why_go);
          tally.add(gc, s.name + " " + row.name + " repeat " + std::to_string(r) + " GPU vs CPU: " + why_gc);
          tally.add(go, s.name + " " + row.name + " repeat " + std::to_string(r) + " GPU vs oracle: " + why_go);
          row.ok = row.ok && gc && go;
          std::ostringstream j;
          j << "{\"repeat\":" << r << ",\"gpu\":{\"cond\":" << (b.ntk.cond_bad ? "null" : jnum(b.ntk.cond))
            << ",\"mse\":" << (b.ntk.mse_bad ? "null" : jnum(b.ntk.mse)) << ",\"naswot\":"
            << (b.ntk.naswot_singular ? "null" : jnum(b.ntk.naswot_logdet)) << ",\"regions\":" << b.regions.regions
            << "},\"cpu\":{\"cond\":" << (a.ntk.cond_bad ? "null" : jnum(a.ntk.cond)) << ",\"mse\":"
            << (a.ntk.mse_bad ? "null" : jnum(a.ntk.mse)) << ",\"naswot\":"
            << (a.ntk.naswot_singular ? "null" : jnum(a.ntk.naswot_logdet)) << ",\"regions\":" << a.regions.regions
            << "},\"gpuEqualsCpu\":" << (gc ? "true" : "false") << ",\"gpuEqualsOracle\":" << (go ? "true" : "false") << "}";
          row.repeats_json.push_back(j.str());
        } catch (const std::exception& e) {
          line += std::string("FAILED: ") + e.what();
          tally.add(false, s.name + " " + row.name + " repeat " + std::to_string(r) + ": " + e.what());
          row.ok = false;
        }
        say(line);
        if (r != 0) continue;
        // The first repeat again: per-sample gradients (float32) and float64 indicators.
        try {
          size_t P = 0;
          for (int w : weights) P += ntk.params[w].numel;
          const size_t K = static_cast<size_t>(ntk.nodes[ntk.output].c);
          std::vector<float> lc(s.B * K), lg(s.B * K), Gc(s.B * P), Gg(s.B * P);
          cpu.per_sample_gradients(ntk, p32.data(), s.x32.data(), s.B, weights, threads, lc.data(), Gc.data());
          gpu.per_sample_gradients(ntk, p32.data(), s.x32.data(), s.B, weights, threads, lg.data(), Gg.data());
          row.grad_rel = max_rel(Gg, Gc);
          const bool gok = row.grad_rel <= 1e-4;
          tally.add(gok, s.name + " " + row.name + " per-sample gradients differ by " + fmt(row.grad_rel, 3));
          std::string l2 = "     per-sample gradients (" + std::to_string(s.B) + " x " + std::to_string(P) + ", float32): GPU vs CPU " +
                           fmt(row.grad_rel, 3) + (gok ? " ok" : " FAIL (> 1e-4)");
          if (!quick) {
            NtkInputs<double> in;
            in.x = s.x64.data(); in.B = s.B; in.y = s.y.data(); in.vx = s.vx64.data(); in.Bv = s.Bv; in.vy = s.vy.data();
            in.classes = s.classes; in.naswot = true;
            const NtkResult a = cpu.ntk_indicators(ntk, p64.data(), in, weights, cells, threads);
            const NtkResult b = gpu.ntk_indicators(ntk, p64.data(), in, weights, cells, threads);
            std::string why;
            RegionResult none;
            const bool ok = agree(b, none, a, none, 1e-3, 1e-3, 1e-3, why);
            double worst = 0;
            if (!a.cond_bad && !b.cond_bad) worst = std::max(worst, rel(b.cond, a.cond));
            if (!a.mse_bad && !b.mse_bad) worst = std::max(worst, rel(b.mse, a.mse));
            if (!a.naswot_singular && !b.naswot_singular) worst = std::max(worst, rel(b.naswot_logdet, a.naswot_logdet));
            tally.add(ok, s.name + " " + row.name + " float64 GPU vs CPU: " + why);
            l2 += "; float64 indicators GPU vs CPU " + fmt(worst, 3) + (ok ? " ok" : " FAIL: " + why);
          }
          say(l2);
        } catch (const std::exception& e) {
          tally.add(false, s.name + " " + row.name + " gradients: " + e.what());
          say(std::string("     gradients FAILED: ") + e.what());
          row.ok = false;
        }
      }
      rows.push_back(row);
    }
  }
  return rows;
}

// ---- 3. timing ----

struct Timing {
  std::string name;
  double cpu = 0, gpu = 0;
};

std::vector<Timing> time_bench(Backend& cpu, Backend& gpu, Space& nb201, int threads, int runs) {
  std::vector<Timing> out;
  say("");
  say("3. time of one full score (" + std::to_string(nb201.repeat) + " repeats: NTK cond + mse + NASWOT on " + std::to_string(nb201.B) +
      " + " + std::to_string(nb201.Bv) + " images, linear regions on " + std::to_string(nb201.R) + " inputs), median of " +
      std::to_string(runs) + " runs after one warm-up, CPU with " + std::to_string(threads) + " threads");
  for (const Json& c : nb201.json.at("cases").array()) {
    if (!c.has("bench") || c.at("bench").is_null()) continue;
    const Plan ntk = check::plan_from_json(c.at("ntk"), nb201.json.at("ntkParams"));
    const Plan thin = check::plan_from_json(c.at("thin"), nb201.json.at("thinParams"));
    const std::vector<int> weights = ints(c.at("weights")), cells = ints(c.at("cells"));
    std::vector<std::vector<float>> p32;
    std::vector<std::vector<double>> tp;
    for (int r = 0; r < nb201.repeat; ++r) {
      const std::vector<double> p = params_of(ntk, *nb201.weights, "ntk." + std::to_string(r) + ".");
      p32.emplace_back(p.begin(), p.end());
      tp.push_back(params_of(thin, *nb201.weights, "thin." + std::to_string(r) + "."));
    }
    auto full = [&](Backend& be) {
      for (int r = 0; r < nb201.repeat; ++r) score_repeat(be, nb201, ntk, thin, p32[r], tp[r], weights, cells, threads);
    };
    auto median = [&](Backend& be) {
      full(be);
      std::vector<double> ts;
      for (int k = 0; k < runs; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        full(be);
        ts.push_back(seconds_since(t0));
      }
      std::sort(ts.begin(), ts.end());
      return ts[ts.size() / 2];
    };
    Timing t;
    t.name = c.at("bench").string();
    t.gpu = median(gpu);
    t.cpu = median(cpu);
    say("   " + t.name + std::string(14 - std::min<size_t>(13, t.name.size()), ' ') + "CPU " + fmt(t.cpu, 4) + " s   GPU " +
        fmt(t.gpu, 4) + " s   speed-up " + fmt(t.cpu / t.gpu, 3) + "x");
    out.push_back(t);
  }
  return out;
}

void load_space(Space& s, const std::string& root) {
  s.name = s.json.at("space").string();
  s.repeat = s.json.at("repeat").integer();
  s.classes = s.json.at("classes").integer();
  s.region_batch = s.json.at("regionBatch").integer();
  const check::Safetensors in(root + "/" + s.json.at("inputs").string());
  s.x64 = in.f64("ntk.x");
  s.vx64 = in.f64("val.x");
  s.x32.assign(s.x64.begin(), s.x64.end());
  s.vx32.assign(s.vx64.begin(), s.vx64.end());
  s.rx = in.f64("regions.x");
  s.y = in.i32("ntk.y");
  s.vy = in.i32("val.y");
  s.B = static_cast<int>(s.y.size());
  s.Bv = static_cast<int>(s.vy.size());
  s.R = in.shape("regions.x").at(0);
  if (s.R % s.region_batch != 0) s.region_batch = s.R;
  s.weights.reset(new check::Safetensors(root + "/" + s.json.at("weights").string()));
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cases = "bench/gpu-cases.json", root = ".", out;
  bool quick = false, libs_only = false, timing = true;
  std::vector<std::string> only;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "tegnas-gpu-check: " << a << " needs a value\n";
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--cases") cases = next();
    else if (a == "--root") root = next();
    else if (a == "--out") out = next();
    else if (a == "--runs") runs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--quick") quick = true;
    else if (a == "--no-timing") timing = false;
    else if (a == "--only") {
      std::string list = next(), cur;
      for (char ch : list + ",") {
        if (ch == ',') {
          if (!cur.empty()) only.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
    }
    else if (a == "--libs") libs_only = true;
    else if (a == "--help" || a == "-h") {
      std::cout << "usage: tegnas-gpu-check [--cases bench/gpu-cases.json] [--root DIR] [--out DIR] [--runs N] [--quick]\n"
                   "                        [--only NAME[,NAME...]] [--no-timing]\n"
                   "       tegnas-gpu-check --libs\n";
      return 0;
    } else {
      std::cerr << "tegnas-gpu-check: unknown argument " << a << " (--help)\n";
      return 64;
    }
  }
  if (libs_only) {
    const cuda::Libs L = cuda::load_libs();
    if (!L.ok) {
      std::cout << "cuBLAS / cuSOLVER not loaded (" << cuda::library_names() << "): " << L.error << "\n";
      return 1;
    }
    std::cout << "cuBLAS " << L.cublas_path << "\ncuSOLVER " << L.cusolver_path << "\n";
    return 0;
  }
  const auto t_start = std::chrono::steady_clock::now();
  cuda::register_backend();
  std::string why;
  Backend* gpu = find_backend("cuda", &why);
  say("tegnas-gpu-check");
  std::ostringstream details_json;
  details_json << "{";
  bool first = true;
  for (const auto& kv : backend_details("cuda")) {
    say("  " + kv.first + ": " + kv.second);
    details_json << (first ? "" : ",") << jstr(kv.first) << ":" << jstr(kv.second);
    first = false;
  }
  details_json << "}";
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::ostringstream json;
  json << "{\"tool\":\"tegnas-gpu-check\",\"cuda\":" << details_json.str() << ",\"cpuThreads\":" << threads;
  auto finish = [&](int code) {
    json << ",\"seconds\":" << jnum(seconds_since(t_start)) << ",\"exitCode\":" << code << "}\n";
    if (!out.empty()) {
      try {
        std::filesystem::create_directories(out);
        write_file(out + "/results.json", json.str());
        write_file(out + "/report.txt", report_text.str());
      } catch (const std::exception& e) {
        std::cerr << "tegnas-gpu-check: " << e.what() << "\n";
        return 1;
      }
    }
    return code;
  };
  if (!gpu) {
    say("the CUDA backend cannot be used here: " + why);
    json << ",\"usable\":false,\"reason\":" << jstr(why);
    return finish(2);
  }
  json << ",\"usable\":true";
  Backend& cpu = cpu_backend();
  Tally tally;
  int code = 0;
  try {
    const std::vector<OpResult> ops = check_ops(cpu, *gpu, tally);
    json << ",\"ops\":[";
    for (size_t i = 0; i < ops.size(); ++i)
      json << (i ? "," : "") << "{\"op\":" << jstr(ops[i].op) << ",\"ok\":" << (ops[i].ok ? "true" : "false") << ",\"fwd64\":"
           << jnum(ops[i].fwd64) << ",\"grad64\":" << jnum(ops[i].grad64) << ",\"fwd32\":" << jnum(ops[i].fwd32)
           << ",\"grad32\":" << jnum(ops[i].grad32) << "}";
    json << "]";

    const Json file = check::parse_json(check::read_file(cases));
    std::vector<Space> spaces;
    for (const Json& sj : file.at("spaces").array()) {
      Space s;
      s.json = sj;
      load_space(s, root);
      spaces.push_back(std::move(s));
    }
    const std::vector<CaseRow> rows = check_fixtures(cpu, *gpu, spaces, threads, quick, only, tally);
    json << ",\"fixtures\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      json << (i ? "," : "") << "{\"space\":" << jstr(rows[i].space) << ",\"name\":" << jstr(rows[i].name) << ",\"arch\":"
           << jstr(rows[i].arch) << ",\"ok\":" << (rows[i].ok ? "true" : "false") << ",\"gradRel\":" << jnum(rows[i].grad_rel)
           << ",\"repeats\":[";
      for (size_t k = 0; k < rows[i].repeats_json.size(); ++k) json << (k ? "," : "") << rows[i].repeats_json[k];
      json << "]}";
    }
    json << "]";

    for (Space& s : spaces)
      if (timing && s.name == "nas-bench-201") {
        const std::vector<Timing> ts = time_bench(cpu, *gpu, s, threads, quick ? 1 : runs);
        json << ",\"timing\":{\"cpuThreads\":" << threads << ",\"archs\":[";
        for (size_t i = 0; i < ts.size(); ++i)
          json << (i ? "," : "") << "{\"arch\":" << jstr(ts[i].name) << ",\"cpuSeconds\":" << jnum(ts[i].cpu)
               << ",\"gpuSeconds\":" << jnum(ts[i].gpu) << "}";
        json << "]}";
      }
  } catch (const std::exception& e) {
    say(std::string("tegnas-gpu-check stopped: ") + e.what());
    tally.add(false, std::string("stopped: ") + e.what());
  }
  say("");
  if (tally.failures == 0) {
    say("all " + std::to_string(tally.checks) + " checks agree (" + fmt(seconds_since(t_start), 3) + " s)");
  } else {
    say(std::to_string(tally.failures) + " of " + std::to_string(tally.checks) + " checks FAILED:");
    for (const std::string& f : tally.failed) say("  " + f);
    code = 1;
  }
  json << ",\"checks\":" << tally.checks << ",\"failures\":" << tally.failures << ",\"failed\":[";
  for (size_t i = 0; i < tally.failed.size(); ++i) json << (i ? "," : "") << jstr(tally.failed[i]);
  json << "]";
  return finish(code);
}
