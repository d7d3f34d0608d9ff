// tegnas-check: the engine checked without Node. Runs the committed PyTorch-oracle fixtures through the
// engine library (per-sample gradients, TEG indicators), compares with the same tolerances as the ava
// tests (test/oracle.test.ts, test/indicators.test.ts), and times the benchmark architectures
// (bench/engine.bench.ts BENCH_ARCHS). Exit status 0 when every value agrees, 1 when one does not, 2 on
// a usage or file error.
//
//   tegnas-check [--fixtures DIR] [--backend cpu] [--threads N] [--only oracle|indicators|bench]...
//                [--case SUBSTRING]... [--subset valgrind] [--repeats N] [--no-float32] [--quiet]
//
// Plans come from test/fixtures/check/ (scripts/export-check-fixtures.ts writes them with the TypeScript
// builders); weights, inputs and expected values from the fixtures themselves.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "json.h"
#include "plan_json.h"
#include "safetensors.h"

namespace tegnas::check {
namespace {

struct Options {
  std::string fixtures = "test/fixtures";
  std::string backend = "cpu";
  int threads = 0;
  bool oracle = true, indicators = true, bench = true;
  std::vector<std::string> cases;  // substrings of case names; empty = all
  std::string subset;
  int repeats = 0;  // 0 = all
  bool float32 = true;
  bool quiet = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tegnas-check: %s\n"
               "usage: tegnas-check [--fixtures DIR] [--backend NAME] [--threads N] [--only oracle|indicators|bench]...\n"
               "                    [--case SUBSTRING]... [--subset valgrind] [--repeats N] [--no-float32] [--quiet]\n",
               why.c_str());
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& v) {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (!end || *end || n < 1 || n > 4096) usage(a + " needs a positive integer, got '" + v + "'");
      return static_cast<int>(n);
    };
    if (a == "--fixtures") o.fixtures = next();
    else if (a == "--backend") o.backend = next();
    else if (a == "--threads") o.threads = number(next());
    else if (a == "--repeats") o.repeats = number(next());
    else if (a == "--case") o.cases.push_back(next());
    else if (a == "--subset") {
      o.subset = next();
      if (o.subset != "valgrind") usage("unknown subset '" + o.subset + "' (known: valgrind)");
    } else if (a == "--only") {
      if (!only) o.oracle = o.indicators = o.bench = false;
      only = true;
      const std::string w = next();
      if (w == "oracle") o.oracle = true;
      else if (w == "indicators") o.indicators = true;
      else if (w == "bench") o.bench = true;
      else usage("--only takes oracle, indicators or bench, got '" + w + "'");
    } else if (a == "--no-float32") o.float32 = false;
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--help" || a == "-h") usage("help");
    else usage("unknown argument '" + a + "'");
  }
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

// The cases of `--subset valgrind`: small networks that run in about a minute under valgrind.
bool in_valgrind_subset(const std::string& name) {
  static const char* kCases[] = {"darts-c1n1d2-k10--darts-v2", "nb201-c3n1-k10--all-none", "indicators:darts:darts-v2", "indicators:nas-bench-201:all-none"};
  for (const char* c : kCases)
    if (name == c) return true;
  return false;
}

struct Report {
  int passed = 0, failed = 0;
  bool quiet = false;
  void result(const std::string& name, bool ok, const std::string& detail) {
    ok ? ++passed : ++failed;
    if (!ok || !quiet) std::printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    std::fflush(stdout);
  }
};

// Files read once and shared between cases.
class Fixtures {
 public:
  explicit Fixtures(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  const SafetensorsFile& tensors(const std::string& name) {
    auto it = st_.find(name);
    if (it == st_.end()) it = st_.emplace(name, read_safetensors(dir_ + "/" + name)).first;
    return it->second;
  }
  const Json& json(const std::string& name) {
    auto it = json_.find(name);
    if (it == json_.end()) it = json_.emplace(name, Json::parse(read_file(dir_ + "/" + name))).first;
    return it->second;
  }
  const Plan& plan(const std::string& name) {
    auto it = plans_.find(name);
    if (it == plans_.end()) it = plans_.emplace(name, plan_from_json(json("check/" + name))).first;
    return it->second;
  }

 private:
  std::string dir_;
  std::map<std::string, SafetensorsFile> st_;
  std::map<std::string, Json> json_;
  std::map<std::string, Plan> plans_;
};

// Every parameter of the plan, concatenated in plan order, from tensors `prefix + name` of a weights file.
template <typename T>
std::vector<T> plan_params(const Plan& plan, const SafetensorsFile& f, const std::string& prefix) {
  std::vector<T> out(plan.total_params);
  for (const ParamInfo& p : plan.params) {
    const StoredTensor& t = f.at(prefix + p.name);
    std::vector<long long> want(p.shape.begin(), p.shape.end());
    if (t.shape != want) throw std::runtime_error(f.path + ": tensor '" + prefix + p.name + "' does not have the plan's shape");
    const std::vector<T> v = t.values<T>();
    std::copy(v.begin(), v.end(), out.begin() + static_cast<long>(p.offset));
  }
  return out;
}

template <typename A, typename B>
double max_abs_diff(const A& a, const B& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return m;
}

template <typename A>
double max_abs(const A& a) {
  double m = 0;
  for (auto v : a) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

size_t out_size(const Plan& plan) {
  const Node& o = plan.nodes[plan.output];
  return static_cast<size_t>(o.c) * o.h * o.w;
}

// test/oracle.test.ts: per-sample gradients of each sample's summed logits, against the PyTorch oracle.
void check_oracle(const Json& c, Backend& be, Fixtures& fx, Report& rep) {
  const std::string name = c["name"].string();
  const std::string label = be.name() + " oracle " + name;
  try {
    const Plan& plan = fx.plan(c["plan"].string());
    const SafetensorsFile& expected = fx.tensors(c["expected"].string());
    const int batch = std::stoi(expected.meta("batch"));
    const size_t in = static_cast<size_t>(plan.in_c) * plan.in_h * plan.in_w, K = out_size(plan);
    std::vector<float> x = fx.tensors(c["inputs"].string()).at("x").values<float>();
    x.resize(static_cast<size_t>(batch) * in);
    const std::vector<float> params = plan_params<float>(plan, fx.tensors(c["weights"].string()), "");
    const std::vector<int> req = param_group(plan, "weights");

    // The gradient columns: names and sizes in order, as the oracle's metadata lists them.
    const Json columns = Json::parse(expected.meta("columns"));
    bool same = columns.size() == req.size();
    size_t P = 0;
    for (size_t i = 0; i < req.size(); ++i) {
      const ParamInfo& p = plan.params[req[i]];
      P += p.numel;
      if (same) same = columns[i][0].string() == p.name && static_cast<size_t>(columns[i][1].number()) == p.numel;
    }
    if (!same) {
      rep.result(label, false, "gradient columns (names, sizes, order) differ from the oracle's");
      return;
    }
    const std::vector<float> G0 = expected.at("grads").values<float>(), L0 = expected.at("logits").values<float>();
    if (G0.size() != static_cast<size_t>(batch) * P || L0.size() != static_cast<size_t>(batch) * K) {
      rep.result(label, false, "the oracle's grads / logits do not have the engine's shape");
      return;
    }
    std::vector<float> logits(static_cast<size_t>(batch) * K), G(static_cast<size_t>(batch) * P);
    be.per_sample_gradients(plan, params.data(), x.data(), batch, req, logits.data(), G.data());
    const double scaleL = max_abs(L0), dL = max_abs_diff(logits, L0);
    const double scaleG = max_abs(G0), dG = max_abs_diff(G, G0);
    const bool ok32 = scaleG > 0 && dL <= 1e-4 * scaleL && dG <= 1e-4 * scaleG;
    rep.result(label + " float32", ok32, fmt("P=%.0f max|dG|/max|G| = %.2e, logits %.2e", static_cast<double>(P), dG / scaleG, dL / scaleL));
    if (c["float64"].boolean()) {
      const std::vector<double> p64(params.begin(), params.end()), x64(x.begin(), x.end());
      std::vector<double> l64(logits.size()), g64(G.size());
      be.per_sample_gradients(plan, p64.data(), x64.data(), batch, req, l64.data(), g64.data());
      const double d64 = max_abs_diff(g64, G0);
      rep.result(label + " float64", d64 <= 2e-6 * scaleG, fmt("max|dG|/max|G| = %.2e (limit 2e-6)", d64 / scaleG));
    }
  } catch (const std::exception& e) {
    rep.result(label, false, std::string("error: ") + e.what());
  }
}

// The batches of an indicator case, as the Scorer reads an inputs file (src/data/batches.ts).
struct Inputs {
  std::vector<double> ntk_x, val_x, regions_x;
  std::vector<int> ntk_y, val_y;
  int B = 0, Bv = 0, K = 0;
};

const Inputs& inputs_of(const std::string& file, Fixtures& fx) {
  static std::map<std::string, Inputs> cache;
  auto it = cache.find(file);
  if (it != cache.end()) return it->second;
  const SafetensorsFile& f = fx.tensors(file);
  Inputs in;
  in.ntk_x = f.at("ntk.x").values<double>();
  in.val_x = f.at("val.x").values<double>();
  in.regions_x = f.at("regions.x").values<double>();
  in.ntk_y = f.at("ntk.y").values<int>();
  in.val_y = f.at("val.y").values<int>();
  in.B = static_cast<int>(f.at("ntk.x").shape[0]);
  in.Bv = static_cast<int>(f.at("val.x").shape[0]);
  in.K = static_cast<int>(f.at("regions.x").shape[0]);
  return cache.emplace(file, std::move(in)).first->second;
}

struct Scores {
  NtkResult ntk;
  RegionResult regions;
  NaswotResult naswot;
  double t_ntk = 0, t_regions = 0, t_naswot = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One repeat of the Scorer's pipeline (src/scoring/scorer.ts): NTK cond + mse on the NTK network in the
// given precision, linear regions on the thin network in float64, NASWOT on the NTK network.
template <typename T>
Scores score_repeat(Backend& be, const Plan& ntk, const Plan& thin, const SafetensorsFile& w, int r, const Inputs& in, int classes,
                    int region_batch) {
  Scores s;
  const std::vector<T> p = plan_params<T>(ntk, w, "ntk." + std::to_string(r) + ".");
  const std::vector<double> tp = plan_params<double>(thin, w, "thin." + std::to_string(r) + ".");
  const std::vector<T> x(in.ntk_x.begin(), in.ntk_x.end()), vx(in.val_x.begin(), in.val_x.end());
  NtkInputs<T> ni;
  ni.x = x.data();
  ni.B = in.B;
  ni.y = in.ntk_y.data();
  ni.vx = vx.data();
  ni.Bv = in.Bv;
  ni.vy = in.val_y.data();
  ni.classes = classes;
  auto t0 = std::chrono::steady_clock::now();
  s.ntk = be.ntk_indicators(ntk, p.data(), ni, param_group(ntk, "weights"), param_group(ntk, "cell-weights"));
  s.t_ntk = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  s.regions = be.linear_regions(thin, tp.data(), in.regions_x.data(), region_batch, in.K / region_batch);
  s.t_regions = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  s.naswot = be.naswot(ntk, p.data(), x.data(), in.B);
  s.t_naswot = seconds_since(t0);
  return s;
}

double rel(double a, double b) { return std::fabs(a - b) / std::fabs(b); }
double num_or(const Json& j, double dflt) { return j.is_number() ? j.number() : dflt; }

// test/indicators.test.ts: the same tolerances, repeat by repeat.
std::string compare(const Scores& m, const Json& o, bool f64) {
  std::ostringstream why;
  const double cond = num_or(o["cond"], NAN), mse = num_or(o["mse"], NAN), nas = num_or(o["naswot"], NAN);
  const bool m_cond_null = m.ntk.cond_bad, m_mse_null = !m.ntk.mse_computed || m.ntk.mse_bad;
  const double tol_cond = f64 ? 1e-3 : 1e-3 + 3e-5 * num_or(o["cond"], 0);
  const double tol_mse = f64 ? 1e-3 : 1e-3 + 3e-5 * (o.has("kxxCond") ? num_or(o["kxxCond"], 0) : 0);
  if (m.ntk.cond_bad != o["condBad"].boolean()) why << " cond bad flag " << m.ntk.cond_bad << " (" << m.ntk.cond_reason << ")";
  else if (!std::isnan(cond) && !m_cond_null && !(rel(m.ntk.cond, cond) < tol_cond)) why << " cond " << m.ntk.cond << " vs " << cond;
  if (m.ntk.mse_bad != o["mseBad"].boolean()) why << " mse bad flag " << m.ntk.mse_bad << " (" << m.ntk.mse_reason << ")";
  else if (!std::isnan(mse) && !m_mse_null && !(rel(m.ntk.mse, mse) < tol_mse)) why << " mse " << m.ntk.mse << " vs " << mse;
  if (m.regions.regions != static_cast<long long>(o["regions"].number())) why << " regions " << m.regions.regions << " vs " << o["regions"].number();
  const double tol_nas = f64 ? 1e-6 : 1e-3;
  if (std::isnan(nas) != m.naswot.singular) why << " naswot singular " << m.naswot.singular;
  else if (!std::isnan(nas) && !(std::fabs(m.naswot.logdet - nas) < tol_nas * std::fabs(nas))) why << " naswot " << m.naswot.logdet << " vs " << nas;
  return why.str();
}

std::string case_label(const Json& c) { return "indicators:" + c["space"].string() + ":" + c["name"].string(); }

void check_indicators(const Json& c, Backend& be, Fixtures& fx, Report& rep, const Options& opt) {
  const std::string label = be.name() + " " + case_label(c);
  try {
    const Json& fixture = fx.json(c["file"].string())["cases"][static_cast<size_t>(c["case"].integer())];
    const Plan& ntk = fx.plan(c["ntkPlan"].string());
    const Plan& thin = fx.plan(c["thinPlan"].string());
    const SafetensorsFile& w = fx.tensors(c["weights"].string());
    const Inputs& in = inputs_of(c["inputs"].string(), fx);
    const int classes = c["classes"].integer(), region_batch = c["regionBatch"].integer();
    const Json& repeats = fixture["repeats"];
    const size_t R = opt.repeats ? std::min<size_t>(opt.repeats, repeats.size()) : repeats.size();
    std::vector<bool> precisions{true};
    if (opt.float32 && c["float32"].boolean()) precisions.push_back(false);
    for (bool f64 : precisions) {
      std::string why;
      double cond = 0;
      for (size_t r = 0; r < R; ++r) {
        const Scores s = f64 ? score_repeat<double>(be, ntk, thin, w, static_cast<int>(r), in, classes, region_batch)
                             : score_repeat<float>(be, ntk, thin, w, static_cast<int>(r), in, classes, region_batch);
        const std::string d = compare(s, repeats[r], f64);
        if (!d.empty()) why += " repeat " + std::to_string(r) + ":" + d;
        cond = s.ntk.cond;
      }
      rep.result(label + (f64 ? " float64" : " float32"), why.empty(),
                 why.empty() ? fmt("%.0f repeats agree (last cond %.4g)", static_cast<double>(R), cond) : why);
    }
  } catch (const std::exception& e) {
    rep.result(label, false, std::string("error: ") + e.what());
  }
}

// bench/engine.bench.ts: the Scorer's float32 pipeline on the benchmark architectures, every repeat.
void bench(const Json& manifest, Backend& be, Fixtures& fx, const Options& opt) {
  std::printf("\nbenchmark (%s, %d threads, float32, every repeat; seconds):\n", be.name().c_str(), opt.threads);
  std::printf("  %-12s %8s %8s %8s %8s\n", "arch", "total", "ntk+mse", "regions", "naswot");
  double all = 0;
  for (const Json& c : manifest["indicators"].array()) {
    if (!c.has("bench")) continue;
    const Plan& ntk = fx.plan(c["ntkPlan"].string());
    const Plan& thin = fx.plan(c["thinPlan"].string());
    const SafetensorsFile& w = fx.tensors(c["weights"].string());
    const Inputs& in = inputs_of(c["inputs"].string(), fx);
    const size_t R = fx.json(c["file"].string())["cases"][static_cast<size_t>(c["case"].integer())]["repeats"].size();
    double tn = 0, tr = 0, ts = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t r = 0; r < R; ++r) {
      const Scores s = score_repeat<float>(be, ntk, thin, w, static_cast<int>(r), in, c["classes"].integer(), c["regionBatch"].integer());
      tn += s.t_ntk;
      tr += s.t_regions;
      ts += s.t_naswot;
    }
    const double total = seconds_since(t0);
    all += total;
    std::printf("  %-12s %8.3f %8.3f %8.3f %8.3f\n", c["bench"].string().c_str(), total, tn, tr, ts);
  }
  std::printf("  %-12s %8.3f\n", "all", all);
}

bool selected(const Options& o, const std::string& name) {
  if (!o.subset.empty() && !in_valgrind_subset(name)) return false;
  if (o.cases.empty()) return true;
  for (const auto& s : o.cases)
    if (name.find(s) != std::string::npos) return true;
  return false;
}

int run(const Options& opt) {
  Fixtures fx(opt.fixtures);
  const Json& manifest = fx.json("check/manifest.json");
  std::unique_ptr<Backend> be = make_backend(opt.backend, opt.threads);
  Report rep;
  rep.quiet = opt.quiet;
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.oracle)
    for (const Json& c : manifest["oracle"].array())
      if (selected(opt, c["name"].string())) check_oracle(c, *be, fx, rep);
  if (opt.indicators)
    for (const Json& c : manifest["indicators"].array())
      if (selected(opt, case_label(c))) check_indicators(c, *be, fx, rep, opt);
  std::printf("%d checks passed, %d failed (%.1f s, backend %s, %d threads)\n", rep.passed, rep.failed, seconds_since(t0), be->name().c_str(),
              opt.threads);
  if (opt.bench && opt.subset.empty() && opt.cases.empty()) bench(manifest, *be, fx, opt);
  if (rep.passed + rep.failed == 0 && (opt.oracle || opt.indicators)) {
    std::printf("no case selected\n");
    return 1;
  }
  return rep.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace tegnas::check

int main(int argc, char** argv) {
  const tegnas::check::Options opt = tegnas::check::parse_args(argc, argv);
  try {
    return tegnas::check::run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tegnas-check: %s\n", e.what());
    return 2;
  }
}
