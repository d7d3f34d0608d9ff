// node-addon-api bindings only: argument checks, conversion, and AsyncWorkers. All numerical work
// is in ops/, graph/ and linalg/. Every C++ exception becomes a JS Error; nothing here aborts.
#include <napi.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <thread>

#include "backend.h"
#include "graph/executor.h"
#include "graph/plan.h"
#include "metrics/indicators.h"
#include "tools/peak.h"
#include "metrics/patterns.h"
#include "linalg/eigen.h"
#include "linalg/gemm.h"
#include "linalg/solve.h"

#ifndef TEGNAS_VERSION
#define TEGNAS_VERSION "0.0.0"
#endif

#ifdef TEGNAS_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace tegnas {
namespace {

[[noreturn]] void type_error(const std::string& m) { throw EngineError(m); }

// A JS value as error messages show it: numbers and short strings themselves, other values by kind.
std::string describe(const Napi::Value& v) {
  std::ostringstream o;
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return v.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: {
      const double d = v.As<Napi::Number>().DoubleValue();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      o.precision(17);
      o << d;
      return o.str();
    }
    case napi_string: {
      std::string t = v.As<Napi::String>().Utf8Value();
      if (t.size() > 40) t = t.substr(0, 37) + "...";
      return "the string \"" + t + "\"";
    }
    case napi_bigint: return "a BigInt";
    case napi_symbol: return "a Symbol";
    case napi_function: return "a function";
    default: break;
  }
  if (v.IsTypedArray()) {
    static const char* kinds[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
                                  "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"};
    const Napi::TypedArray ta = v.As<Napi::TypedArray>();
    const int t = static_cast<int>(ta.TypedArrayType());
    o << "a " << (t >= 0 && t < 11 ? kinds[t] : "typed array") << " of " << ta.ElementLength();
    return o.str();
  }
  if (v.IsArray()) {
    o << "an array of " << v.As<Napi::Array>().Length();
    return o.str();
  }
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  if (v.IsDataView()) return "a DataView";
  return "an object";
}

// Integers the engine stores in an int: -2^31 .. 2^31 - 1.
bool is_int(const Napi::Value& v) {
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && std::floor(d) == d && d >= -2147483648.0 && d <= 2147483647.0;
}

int get_int(const Napi::Object& o, const char* key, const std::string& where, bool required, int dflt) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) {
    if (required) type_error(where + ": missing integer field '" + key + "'");
    return dflt;
  }
  Napi::Value v = o.Get(key);
  if (!is_int(v)) type_error(where + ": field '" + key + "' must be an integer (32-bit), got " + describe(v));
  return v.As<Napi::Number>().Int32Value();
}

// A field that is either an integer or a pair [h, w].
void get_pair(const Napi::Object& o, const char* key, const std::string& where, int dflt, int& a, int& b) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) { a = b = dflt; return; }
  Napi::Value v = o.Get(key);
  if (is_int(v)) { a = b = v.As<Napi::Number>().Int32Value(); return; }
  if (v.IsArray()) {
    Napi::Array arr = v.As<Napi::Array>();
    if (arr.Length() == 2 && is_int(arr.Get(0u)) && is_int(arr.Get(1u))) {
      a = arr.Get(0u).As<Napi::Number>().Int32Value();
      b = arr.Get(1u).As<Napi::Number>().Int32Value();
      return;
    }
  }
  type_error(where + ": field '" + key + "' must be an integer or a pair of integers, got " + describe(v));
}

// The data of a typed array (already at its byte offset; also for SharedArrayBuffer-backed arrays,
// whose buffer Napi::ArrayBuffer cannot read).
const void* typed_data(const Napi::TypedArray& ta) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(ta.Env(), ta, &type, &length, &data, &buffer, &offset) != napi_ok)
    throw EngineError("cannot read the typed array");
  return data;
}

std::vector<int> get_int_list(const Napi::Value& v, const std::string& what) {
  std::vector<int> out;
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_int32_array) type_error(what + " must be an Int32Array or an array of integers, got " + describe(v));
    const int32_t* d = static_cast<const int32_t*>(typed_data(ta));
    if (ta.ElementLength() > 0) out.assign(d, d + ta.ElementLength());
    return out;
  }
  if (!v.IsArray()) type_error(what + " must be an array of integers, got " + describe(v));
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!is_int(e)) type_error(what + "[" + std::to_string(i) + "] must be an integer (32-bit), got " + describe(e));
    out.push_back(e.As<Napi::Number>().Int32Value());
  }
  return out;
}

Plan plan_from_js(const Napi::Value& value) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray()) type_error("invalid plan: expected an object, got " + describe(value));
  Napi::Object o = value.As<Napi::Object>();
  Plan p;
  Napi::Value version = o.Get("version");
  if (!is_int(version) || version.As<Napi::Number>().Int32Value() != 1)
    type_error("invalid plan: expected version 1, got " + describe(version));
  std::vector<int> in = get_int_list(o.Get("input"), "invalid plan: input");
  if (in.size() != 3) type_error("invalid plan: input must be [channels, height, width], got " + std::to_string(in.size()) + " values");
  p.in_c = in[0]; p.in_h = in[1]; p.in_w = in[2];
  Napi::Value params = o.Get("params");
  if (!params.IsArray()) type_error("invalid plan: params must be an array, got " + describe(params));
  Napi::Array pa = params.As<Napi::Array>();
  for (uint32_t i = 0; i < pa.Length(); ++i) {
    const std::string where = "invalid plan: params[" + std::to_string(i) + "]";
    Napi::Value pv = pa.Get(i);
    if (!pv.IsObject() || pv.IsArray()) type_error(where + " must be an object { name, shape }, got " + describe(pv));
    Napi::Object po = pv.As<Napi::Object>();
    ParamInfo pi;
    Napi::Value name = po.Get("name");
    if (!name.IsString()) type_error(where + ".name must be a string, got " + describe(name));
    pi.name = name.As<Napi::String>().Utf8Value();
    pi.shape = get_int_list(po.Get("shape"), where + ".shape");
    p.params.push_back(std::move(pi));
  }
  Napi::Value nodes = o.Get("nodes");
  if (!nodes.IsArray()) type_error("invalid plan: nodes must be an array, got " + describe(nodes));
  Napi::Array na = nodes.As<Napi::Array>();
  for (uint32_t i = 0; i < na.Length(); ++i) {
    const std::string where = "invalid plan: nodes[" + std::to_string(i) + "]";
    Napi::Value nv = na.Get(i);
    if (!nv.IsObject() || nv.IsArray()) type_error(where + " must be an object { op, ... }, got " + describe(nv));
    Napi::Object no = nv.As<Napi::Object>();
    Node nd;
    Napi::Value opv = no.Get("op");
    if (!opv.IsString()) type_error(where + ".op must be a string, got " + describe(opv));
    const std::string op = opv.As<Napi::String>().Utf8Value();
    if (!op_from_name(op, nd.op))
      type_error(where + ": unknown op '" + (op.size() > 40 ? op.substr(0, 37) + "..." : op) + "' (expected one of " + op_names() + ")");
    if (nd.op == Op::Add || nd.op == Op::Concat) nd.inputs = get_int_list(no.Get("inputs"), where + ".inputs");
    else if (nd.op != Op::Input) nd.inputs = {get_int(no, "input", where, true, 0)};
    switch (nd.op) {
      case Op::Conv2d:
        nd.weight = get_int(no, "weight", where, true, -1);
        nd.bias = get_int(no, "bias", where, false, -1);
        get_pair(no, "stride", where, 1, nd.sh, nd.sw);
        get_pair(no, "padding", where, 0, nd.ph, nd.pw);
        get_pair(no, "dilation", where, 1, nd.dh, nd.dw);
        nd.groups = get_int(no, "groups", where, false, 1);
        break;
      case Op::BatchNorm:
        nd.weight = get_int(no, "weight", where, true, -1);
        nd.bias = get_int(no, "bias", where, true, -1);
        if (no.Has("eps") && !no.Get("eps").IsUndefined()) {
          if (!no.Get("eps").IsNumber()) type_error(where + ".eps must be a number, got " + describe(no.Get("eps")));
          nd.eps = no.Get("eps").As<Napi::Number>().DoubleValue();
        }
        break;
      case Op::AvgPool:
      case Op::MaxPool:
        nd.kh = nd.kw = get_int(no, "kernel", where, true, 0);
        nd.sh = nd.sw = get_int(no, "stride", where, true, 0);
        nd.ph = nd.pw = get_int(no, "padding", where, true, 0);
        break;
      case Op::Linear:
        nd.weight = get_int(no, "weight", where, true, -1);
        nd.bias = get_int(no, "bias", where, false, -1);
        break;
      case Op::Zero:
        nd.channels = get_int(no, "channels", where, true, 0);
        nd.stride = get_int(no, "stride", where, true, 0);
        break;
      default: break;
    }
    p.nodes.push_back(std::move(nd));
  }
  Napi::Value output = o.Get("output");
  if (!is_int(output)) type_error("invalid plan: output must be a node index, got " + describe(output));
  p.output = output.As<Napi::Number>().Int32Value();
  validate_plan(p);
  return p;
}

const char* float_kind(napi_typedarray_type t) { return t == napi_float64_array ? "Float64Array" : "Float32Array"; }

// A copy of a float32 or float64 typed array, checked for length and finiteness.
template <typename T>
std::vector<T> copy_checked(const Napi::TypedArray& ta, size_t expect, const std::string& what) {
  if (ta.ElementLength() != expect) {
    std::ostringstream o;
    o << what << " has " << ta.ElementLength() << " values, expected " << expect;
    throw EngineError(o.str());
  }
  const T* d = static_cast<const T*>(typed_data(ta));
  std::vector<T> v(expect);
  if (expect > 0) std::copy(d, d + expect, v.begin());
  for (size_t i = 0; i < expect; ++i)
    if (!std::isfinite(v[i])) {
      std::ostringstream o;
      o << what << " has a non-finite value (" << v[i] << ") at index " << i << "; expected finite values";
      throw EngineError(o.str());
    }
  return v;
}

bool float64_of(const Napi::Value& params, const Napi::Value& x) {
  auto kind = [](const Napi::Value& v) { return v.IsTypedArray() ? v.As<Napi::TypedArray>().TypedArrayType() : napi_int8_array; };
  const napi_typedarray_type tp = kind(params), tx = kind(x);
  const bool fp = params.IsTypedArray() && (tp == napi_float32_array || tp == napi_float64_array);
  const bool fx = x.IsTypedArray() && (tx == napi_float32_array || tx == napi_float64_array);
  if (!fp || !fx || tp != tx)
    throw EngineError("params and input must both be Float32Array or both Float64Array, got " + describe(params) + " and " + describe(x));
  return tp == napi_float64_array;
}

// A count the engine runs over: an integer in 1 .. 2^31 - 1.
int positive_int(const Napi::Value& v, const char* what) {
  if (!is_int(v) || v.As<Napi::Number>().Int32Value() < 1)
    throw EngineError(std::string(what) + " must be a positive integer below 2^31, got " + describe(v));
  return v.As<Napi::Number>().Int32Value();
}

int checked_batch(const Napi::Value& v) { return positive_int(v, "batch"); }

// The most values one activation tensor (batch x one node's output) may hold: every index into it
// then fits the engine's int arithmetic.
constexpr size_t kMaxActivation = 2147483647u;

void check_activation_size(const Plan& plan, size_t batch, const char* what) {
  if (batch * plan.max_sample > kMaxActivation) {
    std::ostringstream o;
    o << what << ": batch " << batch << " x the largest node output (" << plan.max_sample << " values per sample) = "
      << batch * plan.max_sample << " values exceeds the engine's limit of 2^31 - 1 values per activation";
    throw EngineError(o.str());
  }
}

// Parameter indices for a gradient: each names a parameter of the plan, none twice.
void check_param_indices(const Plan& plan, const std::vector<int>& idx, const char* what) {
  std::vector<bool> seen(plan.params.size(), false);
  for (size_t i = 0; i < idx.size(); ++i) {
    const int r = idx[i];
    if (r < 0 || r >= static_cast<int>(plan.params.size())) {
      std::ostringstream o;
      o << what << "[" << i << "] = " << r << " is out of range: the plan has " << plan.params.size() << " parameters (0.."
        << static_cast<long long>(plan.params.size()) - 1 << ")";
      throw EngineError(o.str());
    }
    if (seen[r]) throw EngineError(std::string(what) + ": parameter '" + plan.params[r].name + "' is requested twice; expected each at most once");
    seen[r] = true;
  }
}

// The backend named by an optional string argument ("cpu" when absent): "cpu", "cuda" or "auto".
// Throws EngineError naming why when a named backend cannot be used.
Backend* backend_arg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return &cpu_backend();
  if (!info[index].IsString()) throw EngineError("backend (argument " + std::to_string(index + 1) + ") must be 'cpu', 'cuda' or 'auto'");
  return &resolve_backend(info[index].As<Napi::String>().Utf8Value());
}

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

template <typename T>
Napi::Value make_array(Napi::Env env, const std::vector<T>& v) {
  if constexpr (std::is_same<T, float>::value) {
    Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  } else {
    Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  }
}


// Regression targets are one-hot over `classes` columns (batch x classes doubles): a bound keeps a
// stray number from asking for gigabytes.
constexpr int kMaxClasses = 1 << 16;

std::vector<int> labels_of(const Napi::Value& v, size_t expect, int classes, const std::string& what) {
  std::vector<int> out = get_int_list(v, what);
  if (out.size() != expect) {
    std::ostringstream o;
    o << what << " has " << out.size() << " labels, expected " << expect << " (one per sample)";
    throw EngineError(o.str());
  }
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] < 0 || out[i] >= classes) {
      std::ostringstream o;
      o << what << "[" << i << "] = " << out[i] << " is outside 0.." << classes - 1 << " (classes " << classes << ")";
      throw EngineError(o.str());
    }
  return out;
}

Napi::Object ntk_result(Napi::Env env, const NtkResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("cond", r.cond_bad ? env.Null() : Napi::Number::New(env, r.cond));
  o.Set("condBad", Napi::Boolean::New(env, r.cond_bad));
  o.Set("condReason", Napi::String::New(env, r.cond_reason));
  o.Set("lambdaMin", Napi::Number::New(env, r.lambda_min));
  o.Set("lambdaMax", Napi::Number::New(env, r.lambda_max));
  if (r.mse_computed) {
    o.Set("mse", r.mse_bad ? env.Null() : Napi::Number::New(env, r.mse));
    o.Set("mseBad", Napi::Boolean::New(env, r.mse_bad));
    o.Set("mseReason", Napi::String::New(env, r.mse_reason));
  }
  if (r.naswot_computed) {
    Napi::Object nw = Napi::Object::New(env);
    nw.Set("logdet", r.naswot_singular ? env.Null() : Napi::Number::New(env, r.naswot_logdet));
    nw.Set("singular", Napi::Boolean::New(env, r.naswot_singular));
    nw.Set("bits", Napi::Number::New(env, static_cast<double>(r.naswot_bits)));
    o.Set("naswot", nw);
  }
  return o;
}

// Owns copies of everything an NTK evaluation reads, so it can run off the JS thread. Float32 or float64,
// following the typed arrays given.
struct NtkJob {
  std::shared_ptr<const Plan> plan;
  bool f64 = false;
  std::vector<float> params32, x32, vx32;
  std::vector<double> params64, x64, vx64;
  std::vector<int> y, vy, weights, cells;
  int B = 0, Bv = 0, classes = 0, threads = 1;
  bool naswot = false;
  Backend* backend = nullptr;
  NtkResult result;

  // (params, x, batch, y, vx|null, vbatch, vy, classes, weights, cells, threads?, naswot?, backend?)
  void prepare(const Napi::CallbackInfo& info, const std::shared_ptr<const Plan>& pl) {
    plan = pl;
    if (info.Length() < 10) throw EngineError("ntkIndicators(params, x, batch, y, vx, vbatch, vy, classes, weights, cells, threads?): ten arguments are required");
    f64 = float64_of(info[0], info[1]);
    B = checked_batch(info[2]);
    check_activation_size(*plan, B, "ntkIndicators");
    const size_t per = static_cast<size_t>(plan->in_c) * plan->in_h * plan->in_w;
    if (f64) {
      params64 = copy_checked<double>(info[0].As<Napi::TypedArray>(), plan->total_params, "params");
      x64 = copy_checked<double>(info[1].As<Napi::TypedArray>(), static_cast<size_t>(B) * per, "input");
    } else {
      params32 = copy_checked<float>(info[0].As<Napi::TypedArray>(), plan->total_params, "params");
      x32 = copy_checked<float>(info[1].As<Napi::TypedArray>(), static_cast<size_t>(B) * per, "input");
    }
    weights = get_int_list(info[8], "NTK parameters");
    cells = get_int_list(info[9], "cell parameters");
    check_param_indices(*plan, weights, "NTK parameters");
    check_param_indices(*plan, cells, "cell parameters");
    threads = info.Length() > 10 && !info[10].IsUndefined() ? positive_int(info[10], "threads") : default_threads();
    if (info.Length() > 11 && !info[11].IsUndefined()) {
      if (!info[11].IsBoolean()) throw EngineError("naswot (argument 12) must be a boolean");
      naswot = info[11].As<Napi::Boolean>().Value();
    }
    backend = backend_arg(info, 12);
    if (!info[4].IsNull() && !info[4].IsUndefined()) {
      const napi_typedarray_type want = f64 ? napi_float64_array : napi_float32_array;
      if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != want)
        throw EngineError(std::string("the validation input must be a ") + float_kind(want) + " like params, got " + describe(info[4]));
      Bv = positive_int(info[5], "validation batch");
      check_activation_size(*plan, Bv, "ntkIndicators (validation batch)");
      for (int c : cells)
        if (std::find(weights.begin(), weights.end(), c) == weights.end())
          throw EngineError("cell parameter '" + plan->params[c].name + "' is not among the NTK parameters; expected the cell parameters to be a subset of them");
      if (f64) vx64 = copy_checked<double>(info[4].As<Napi::TypedArray>(), static_cast<size_t>(Bv) * per, "validation input");
      else vx32 = copy_checked<float>(info[4].As<Napi::TypedArray>(), static_cast<size_t>(Bv) * per, "validation input");
      classes = positive_int(info[7], "classes");
      if (classes > kMaxClasses)
        throw EngineError("classes must be at most " + std::to_string(kMaxClasses) + ", got " + std::to_string(classes));
      y = labels_of(info[3], B, classes, "training labels");
      vy = labels_of(info[6], Bv, classes, "validation labels");
    }
  }
  template <typename T>
  void run_as(const std::vector<T>& p, const std::vector<T>& x, const std::vector<T>& vx) {
    NtkInputs<T> in;
    in.x = x.data(); in.B = B; in.y = y.empty() ? nullptr : y.data();
    in.vx = vx.empty() ? nullptr : vx.data(); in.Bv = Bv; in.vy = vy.empty() ? nullptr : vy.data(); in.classes = classes;
    in.naswot = naswot;
    result = backend->ntk_indicators(*plan, p.data(), in, weights, cells, threads);
  }
  void run() {
    if (f64) run_as(params64, x64, vx64);
    else run_as(params32, x32, vx32);
  }
  Napi::Object value(Napi::Env env) { return ntk_result(env, result); }
};

// A job with prepare(info, plan) / run() / value(env) run by an AsyncWorker that resolves a promise.
template <typename Job>
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, std::unique_ptr<Job> job)
      : Napi::AsyncWorker(env), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      job_->run();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(job_->value(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::unique_ptr<Job> job_;
  Napi::Promise::Deferred deferred_;
};

struct PerSampleJob {
  std::shared_ptr<const Plan> plan;
  int N = 0, threads = 1;
  std::vector<int> req;
  size_t P = 0, K = 0;
  bool f64 = false;
  std::vector<float> p32, x32, logits32, G32;
  std::vector<double> p64, x64, logits64, G64;

  void prepare(const Napi::CallbackInfo& info, const std::shared_ptr<const Plan>& pl) {
    plan = pl;
    f64 = float64_of(info[0], info[1]);
    N = checked_batch(info[2]);
    check_activation_size(*plan, N, "perSampleGradients");
    req = get_int_list(info[3], "requested parameters");
    threads = info.Length() > 4 && !info[4].IsUndefined() ? positive_int(info[4], "threads") : default_threads();
    check_param_indices(*plan, req, "requested parameters");
    for (int r : req) P += plan->params[r].numel;
    K = static_cast<size_t>(plan->nodes[plan->output].c) * plan->nodes[plan->output].h * plan->nodes[plan->output].w;
    const size_t xin = static_cast<size_t>(N) * plan->in_c * plan->in_h * plan->in_w;
    if (f64) {
      p64 = copy_checked<double>(info[0].As<Napi::TypedArray>(), plan->total_params, "params");
      x64 = copy_checked<double>(info[1].As<Napi::TypedArray>(), xin, "input");
    } else {
      p32 = copy_checked<float>(info[0].As<Napi::TypedArray>(), plan->total_params, "params");
      x32 = copy_checked<float>(info[1].As<Napi::TypedArray>(), xin, "input");
    }
  }
  void run() {
    if (f64) {
      logits64.assign(static_cast<size_t>(N) * K, 0);
      G64.assign(static_cast<size_t>(N) * P, 0);
      per_sample_gradients(*plan, p64.data(), x64.data(), N, req, threads, logits64.data(), G64.data());
    } else {
      logits32.assign(static_cast<size_t>(N) * K, 0);
      G32.assign(static_cast<size_t>(N) * P, 0);
      per_sample_gradients(*plan, p32.data(), x32.data(), N, req, threads, logits32.data(), G32.data());
    }
  }
  Napi::Object value(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("logits", f64 ? make_array(env, logits64) : make_array(env, logits32));
    o.Set("grads", f64 ? make_array(env, G64) : make_array(env, G32));
    o.Set("rows", Napi::Number::New(env, N));
    o.Set("cols", Napi::Number::New(env, static_cast<double>(P)));
    return o;
  }
};

class Network : public Napi::ObjectWrap<Network> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Network",
                       {InstanceMethod("info", &Network::Info), InstanceMethod("forward", &Network::Forward),
                        InstanceMethod("backward", &Network::Backward),
                        InstanceMethod("perSampleGradients", &Network::PerSample),
                        InstanceMethod("perSampleGradientsAsync", &Network::PerSampleAsync),
                        InstanceMethod("ntkIndicators", &Network::Ntk),
                        InstanceMethod("ntkIndicatorsAsync", &Network::NtkAsync),
                        InstanceMethod("linearRegions", &Network::Regions),
                        InstanceMethod("naswot", &Network::Naswot)});
  }

  explicit Network(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Network>(info) {
    guard(info, [&]() -> Napi::Value {
      if (info.Length() < 1) throw EngineError("Network(plan): a plan is required");
      plan_ = std::make_shared<const Plan>(plan_from_js(info[0]));
      return info.Env().Undefined();
    });
  }

 private:
  std::shared_ptr<const Plan> plan_;

  template <typename F>
  static Napi::Value guard(const Napi::CallbackInfo& info, F&& f) {
    try {
      return f();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), "out of memory in the native engine");
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      Napi::Object o = Napi::Object::New(env);
      o.Set("totalParams", Napi::Number::New(env, static_cast<double>(plan_->total_params)));
      Napi::Array shapes = Napi::Array::New(env, plan_->nodes.size());
      for (size_t i = 0; i < plan_->nodes.size(); ++i) {
        const Node& nd = plan_->nodes[i];
        Napi::Array s = Napi::Array::New(env, 3);
        s.Set(0u, nd.c); s.Set(1u, nd.h); s.Set(2u, nd.w);
        shapes.Set(static_cast<uint32_t>(i), s);
      }
      o.Set("nodeShapes", shapes);
      Napi::Array used = Napi::Array::New(env);
      std::vector<bool> seen(plan_->params.size(), false);
      // A parameter counts as used only when its node reaches the output, as PyTorch leaves the
      // gradient of a module whose output nobody reads at None.
      for (size_t i = 0; i < plan_->nodes.size(); ++i) {
        const Node& nd = plan_->nodes[i];
        if (!plan_->live[i]) continue;
        if (nd.weight >= 0) seen[nd.weight] = true;
        if (nd.bias >= 0) seen[nd.bias] = true;
      }
      uint32_t k = 0;
      for (size_t i = 0; i < seen.size(); ++i)
        if (seen[i]) used.Set(k++, Napi::Number::New(env, static_cast<double>(i)));
      o.Set("usedParams", used);
      o.Set("output", Napi::Number::New(env, plan_->output));
      Napi::Array sizes = Napi::Array::New(env, plan_->params.size());
      for (size_t i = 0; i < plan_->params.size(); ++i)
        sizes.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(plan_->params[i].numel)));
      o.Set("paramSizes", sizes);
      return o;
    });
  }

  // forward(params, x, batch) -> output (batch x output sample), same precision as the inputs.
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (info.Length() < 3) throw EngineError("forward(params, input, batch): three arguments are required");
      const bool f64 = float64_of(info[0], info[1]);
      const int N = checked_batch(info[2]);
      check_activation_size(*plan_, N, "forward");
      const size_t xin = static_cast<size_t>(N) * plan_->in_c * plan_->in_h * plan_->in_w;
      auto run = [&](auto tag) -> Napi::Value {
        using T = decltype(tag);
        std::vector<T> p = copy_checked<T>(info[0].As<Napi::TypedArray>(), plan_->total_params, "params");
        std::vector<T> x = copy_checked<T>(info[1].As<Napi::TypedArray>(), xin, "input");
        Activations<T> acts;
        run_forward(*plan_, p.data(), x.data(), N, acts);
        return make_array(info.Env(), acts.act[plan_->output].v);
      };
      return f64 ? run(double()) : run(float());
    });
  }

  // backward(params, x, batch, seeds, reqParams, wantInputGrad) -> { output, grads (S x P), inputGrad? }
  Napi::Value Backward(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (info.Length() < 5) throw EngineError("backward(params, input, batch, seeds, params): five arguments are required");
      const bool f64 = float64_of(info[0], info[1]);
      const int N = checked_batch(info[2]);
      check_activation_size(*plan_, N, "backward");
      std::vector<int> req = get_int_list(info[4], "requested parameters");
      check_param_indices(*plan_, req, "requested parameters");
      const bool want_input = info.Length() > 5 && info[5].ToBoolean().Value();
      const Node& out = plan_->nodes[plan_->output];
      const size_t per_seed = static_cast<size_t>(N) * out.c * out.h * out.w;
      const size_t xin = static_cast<size_t>(N) * plan_->in_c * plan_->in_h * plan_->in_w;
      if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != info[0].As<Napi::TypedArray>().TypedArrayType())
        throw EngineError(std::string("seeds must be a ") + float_kind(info[0].As<Napi::TypedArray>().TypedArrayType()) + " like params, got " + describe(info[3]));
      const size_t seed_len = info[3].As<Napi::TypedArray>().ElementLength();
      if (seed_len == 0 || seed_len % per_seed != 0) {
        std::ostringstream o;
        o << "seeds has " << seed_len << " values, expected a positive multiple of " << per_seed << " (batch x output size)";
        throw EngineError(o.str());
      }
      if (seed_len / per_seed > 2147483647u) throw EngineError("seeds holds " + std::to_string(seed_len / per_seed) + " seeds, which exceeds 2^31 - 1");
      const int S = static_cast<int>(seed_len / per_seed);
      size_t P = 0;
      for (int r : req) P += plan_->params[r].numel;
      auto run = [&](auto tag) -> Napi::Value {
        using T = decltype(tag);
        std::vector<T> p = copy_checked<T>(info[0].As<Napi::TypedArray>(), plan_->total_params, "params");
        std::vector<T> x = copy_checked<T>(info[1].As<Napi::TypedArray>(), xin, "input");
        std::vector<T> seeds = copy_checked<T>(info[3].As<Napi::TypedArray>(), seed_len, "seeds");
        Activations<T> acts;
        run_forward(*plan_, p.data(), x.data(), N, acts);
        std::vector<T> grads(static_cast<size_t>(S) * P), dinput(want_input ? static_cast<size_t>(S) * xin : 0);
        run_backward(*plan_, p.data(), acts, seeds.data(), S, req, grads.data(), want_input ? dinput.data() : nullptr);
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("output", make_array(info.Env(), acts.act[plan_->output].v));
        o.Set("grads", make_array(info.Env(), grads));
        if (want_input) o.Set("inputGrad", make_array(info.Env(), dinput));
        return o;
      };
      return f64 ? run(double()) : run(float());
    });
  }

  // Prepares a job from the arguments and runs it here (sync) or on the libuv pool (a promise).
  template <typename Job>
  Napi::Value run_job(const Napi::CallbackInfo& info, bool async, size_t min_args, const char* usage) {
    return guard(info, [&]() -> Napi::Value {
      if (info.Length() < min_args) throw EngineError(usage);
      auto job = std::make_unique<Job>();
      job->prepare(info, plan_);
      if (!async) {
        job->run();
        return job->value(info.Env());
      }
      auto* worker = new JobWorker<Job>(info.Env(), std::move(job));
      Napi::Promise p = worker->promise();
      worker->Queue();
      return p;
    });
  }

  // perSampleGradients(params, x, batch, reqParams, threads?) -> { logits, grads (batch x P), rows, cols }
  Napi::Value PerSample(const Napi::CallbackInfo& info) {
    return run_job<PerSampleJob>(info, false, 4, "perSampleGradients(params, input, batch, params): four arguments are required");
  }

  Napi::Value PerSampleAsync(const Napi::CallbackInfo& info) {
    return run_job<PerSampleJob>(info, true, 4, "perSampleGradientsAsync(params, input, batch, params): four arguments are required");
  }

  Napi::Value Ntk(const Napi::CallbackInfo& info) { return run_job<NtkJob>(info, false, 10, "ntkIndicators: ten arguments are required"); }

  Napi::Value NtkAsync(const Napi::CallbackInfo& info) { return run_job<NtkJob>(info, true, 10, "ntkIndicatorsAsync: ten arguments are required"); }

  // linearRegions(params, x, batch, batches, backend?) -> { regions, bits, inputs }, in the inputs' precision.
  Napi::Value Regions(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (info.Length() < 4) throw EngineError("linearRegions(params, x, batch, batches): four arguments are required");
      const bool f64 = float64_of(info[0], info[1]);
      const int batch = checked_batch(info[2]), batches = positive_int(info[3], "batches");
      check_activation_size(*plan_, batch, "linearRegions");
      if (static_cast<size_t>(batch) * batches > 2147483647u)
        throw EngineError("linearRegions: batch " + std::to_string(batch) + " x batches " + std::to_string(batches) + " exceeds 2^31 - 1 inputs");
      Backend* backend = backend_arg(info, 4);
      const size_t per = static_cast<size_t>(plan_->in_c) * plan_->in_h * plan_->in_w;
      auto run = [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> p = copy_checked<T>(info[0].As<Napi::TypedArray>(), plan_->total_params, "params");
        std::vector<T> x = copy_checked<T>(info[1].As<Napi::TypedArray>(), static_cast<size_t>(batch) * batches * per, "input");
        return backend->linear_regions(*plan_, p.data(), x.data(), batch, batches);
      };
      RegionResult r = f64 ? run(double()) : run(float());
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("regions", Napi::Number::New(info.Env(), static_cast<double>(r.regions)));
      o.Set("bits", Napi::Number::New(info.Env(), static_cast<double>(r.bits)));
      o.Set("inputs", Napi::Number::New(info.Env(), r.inputs));
      return o;
    });
  }

  // naswot(params, x, batch, backend?) -> { logdet (null when singular), singular, bits }
  Napi::Value Naswot(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (info.Length() < 3) throw EngineError("naswot(params, x, batch): three arguments are required");
      const bool f64 = float64_of(info[0], info[1]);
      const int batch = checked_batch(info[2]);
      check_activation_size(*plan_, batch, "naswot");
      Backend* backend = backend_arg(info, 3);
      const size_t per = static_cast<size_t>(plan_->in_c) * plan_->in_h * plan_->in_w;
      auto run = [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> p = copy_checked<T>(info[0].As<Napi::TypedArray>(), plan_->total_params, "params");
        std::vector<T> x = copy_checked<T>(info[1].As<Napi::TypedArray>(), static_cast<size_t>(batch) * per, "input");
        return backend->naswot(*plan_, p.data(), x.data(), batch);
      };
      NaswotResult r = f64 ? run(double()) : run(float());
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("logdet", r.singular ? info.Env().Null() : Napi::Number::New(info.Env(), r.logdet));
      o.Set("singular", Napi::Boolean::New(info.Env(), r.singular));
      o.Set("bits", Napi::Number::New(info.Env(), static_cast<double>(r.bits)));
      return o;
    });
  }
};

// What the addon was built with, which backends it has, and for each one that cannot be used, why.
// Asking creates the CUDA backend if it was not created yet (driver, device, libraries, self-test).
Napi::Object BackendInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("cpu", Napi::Boolean::New(env, true));
  Napi::Array names = Napi::Array::New(env);
  uint32_t k = 0;
  for (const std::string& n : backend_names()) names.Set(k++, Napi::String::New(env, n));
  o.Set("backends", names);
#ifdef TEGNAS_WITH_CUDA
  o.Set("cudaBuilt", Napi::Boolean::New(env, true));
  std::string why;
  const bool usable = find_backend("cuda", &why) != nullptr;
  Napi::Object details = Napi::Object::New(env);
  std::string name, cc;
  for (const auto& kv : backend_details("cuda")) {
    details.Set(kv.first, Napi::String::New(env, kv.second));
    if (kv.first == "name") name = kv.second;
    if (kv.first == "computeCapability") cc = kv.second;
    if (kv.first == "devices") o.Set("cudaDevices", Napi::Number::New(env, std::atof(kv.second.c_str())));
  }
  if (!details.Has("devices")) o.Set("cudaDevices", Napi::Number::New(env, 0));
  o.Set("cudaAvailable", Napi::Boolean::New(env, usable));
  o.Set("cudaReason", Napi::String::New(env, usable ? "the GPU is used: " + name + " (compute capability " + cc + "), self-test against the CPU passed" : why));
  o.Set("cuda", details);
#else
  o.Set("cudaBuilt", Napi::Boolean::New(env, false));
  o.Set("cudaAvailable", Napi::Boolean::New(env, false));
  o.Set("cudaDevices", Napi::Number::New(env, 0));
  o.Set("cudaReason", Napi::String::New(env, "built without CUDA (TEGNAS_CUDA=OFF, nvcc not found, or the CPU-only node-gyp build)"));
#endif
  o.Set("auto", Napi::String::New(env, resolve_backend("auto").name()));
  o.Set("threads", Napi::Number::New(env, default_threads()));
  return o;
}

// patternStats(bits: Uint8Array of 0/1, count, nbits) -> { distinct, pairwise }: the hashed distinct
// count and the reference's pairwise formula on the same patterns (for tests and benchmarks).
Napi::Value PatternStats(const Napi::CallbackInfo& info) {
  try {
    if (info.Length() < 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw EngineError("patternStats(bits: Uint8Array, count, nbits, pairwise?) expected, got " +
                        (info.Length() > 0 ? describe(info[0]) : std::string("no arguments")) + " for bits");
    const int count = positive_int(info[1], "count"), nbits = positive_int(info[2], "nbits");
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    if (a.ElementLength() != static_cast<size_t>(count) * nbits) {
      std::ostringstream o;
      o << "bits has " << a.ElementLength() << " values, expected count " << count << " x nbits " << nbits << " = "
        << static_cast<size_t>(count) * nbits;
      throw EngineError(o.str());
    }
    const bool pairwise = info.Length() > 3 && info[3].ToBoolean().Value();
    Patterns p;
    p.count = count;
    p.bits = nbits;
    p.words = (nbits + 63) / 64;
    p.data.assign(static_cast<size_t>(count) * p.words, 0);
    for (int i = 0; i < count; ++i)
      for (int b = 0; b < nbits; ++b)
        if (a.Data()[static_cast<size_t>(i) * nbits + b]) p.data[static_cast<size_t>(i) * p.words + (b >> 6)] |= uint64_t(1) << (b & 63);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("distinct", Napi::Number::New(info.Env(), static_cast<double>(count_distinct(p))));
    if (pairwise) o.Set("pairwise", Napi::Number::New(info.Env(), pairwise_region_formula(p)));
    return o;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// Square float64 matrix argument: (Float64Array of n*n, n).
std::vector<double> square_of(const Napi::CallbackInfo& info, int& n) {
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw EngineError("expected (matrix: Float64Array of n x n values, n), got " + (info.Length() > 0 ? describe(info[0]) : std::string("no arguments")) + " for the matrix");
  n = positive_int(info[1], "n");
  return copy_checked<double>(info[0].As<Napi::TypedArray>(), static_cast<size_t>(n) * n, "matrix");
}

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// symmetricEigenvalues(matrix, n) -> Float64Array ascending (the NTK eigensolver).
Napi::Value SymEig(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int n = 0;
    std::vector<double> a = square_of(info, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < i; ++j)
        if (a[static_cast<size_t>(i) * n + j] != a[static_cast<size_t>(j) * n + i]) {
          std::ostringstream o;
          o << "the matrix is not symmetric: a[" << i << "][" << j << "] = " << a[static_cast<size_t>(i) * n + j] << " but a[" << j << "][" << i
            << "] = " << a[static_cast<size_t>(j) * n + i] << "; expected a symmetric matrix";
          throw EngineError(o.str());
        }
    return make_array(info.Env(), symmetric_eigenvalues(a.data(), n));
  });
}

// solveLinear(matrix, n, rhs: Float64Array n x m, m) -> Float64Array n x m, or null when singular.
Napi::Value SolveLinear(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    int n = 0;
    std::vector<double> a = square_of(info, n);
    if (info.Length() < 4 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw EngineError("expected (matrix, n, rhs: Float64Array of n x m values, m), got " + (info.Length() > 2 ? describe(info[2]) : std::string("nothing")) + " for rhs");
    const int m = positive_int(info[3], "m");
    std::vector<double> b = copy_checked<double>(info[2].As<Napi::TypedArray>(), static_cast<size_t>(n) * m, "rhs");
    if (!lu_solve(a.data(), n, b.data(), m)) return info.Env().Null();
    return make_array(info.Env(), b);
  });
}

// matmul(a: Float32Array, b: Float32Array, m, n, k, transA, transB) -> Float32Array m x n: op(a) op(b)
// with op(a) m x k and op(b) k x n, row-major (a is k x m when transA, b is n x k when transB). The
// engine's GEMM (linear layers), for tests and kernel benchmarks.
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto f32 = [&](size_t i) {
      if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw EngineError(std::string("matmul: expected a Float32Array for ") + (i == 0 ? "a" : "b") + ", got " +
                          (info.Length() > i ? describe(info[i]) : std::string("nothing")));
      return info[i].As<Napi::TypedArray>();
    };
    const Napi::TypedArray ta = f32(0), tb = f32(1);
    const int m = positive_int(info[2], "m"), n = positive_int(info[3], "n"), k = positive_int(info[4], "k");
    const bool transA = info.Length() > 5 && info[5].ToBoolean(), transB = info.Length() > 6 && info[6].ToBoolean();
    const std::vector<float> a = copy_checked<float>(ta, static_cast<size_t>(m) * k, "matmul: a");
    const std::vector<float> b = copy_checked<float>(tb, static_cast<size_t>(k) * n, "matmul: b");
    std::vector<float> c(static_cast<size_t>(m) * n);
    gemm<float>(transA, transB, m, n, k, a.data(), transA ? m : k, b.data(), transB ? k : n, c.data(), n, false);
    return make_array(info.Env(), c);
  });
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
#if defined(__GLIBC__)
  // Gradient buffers of one backward pass are tens of MB and are freed and reallocated for every
  // architecture; glibc would hand each one back to the kernel (mmap / trim) and take the page faults
  // and page zeroing again next time, about a tenth of a light network's scoring time. Keep them in the
  // heap instead (the largest is 32 MB; peak memory is unchanged, only its release is lazier).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
#ifdef TEGNAS_WITH_CUDA
  cuda::register_backend();
#endif
  exports.Set("symmetricEigenvalues", Napi::Function::New(env, SymEig));
  exports.Set("solveLinear", Napi::Function::New(env, SolveLinear));
  exports.Set("matmul", Napi::Function::New(env, MatMul));
  exports.Set("patternStats", Napi::Function::New(env, PatternStats));
  exports.Set("Network", Network::Init(env));
  exports.Set("version", Napi::String::New(env, TEGNAS_VERSION));
  exports.Set("measurePeak", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return guarded(info, [&]() -> Napi::Value {
      const double seconds = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0.5;
      if (!(seconds > 0 && seconds <= 60)) throw EngineError("measurePeak(seconds, threads): seconds must be in (0, 60]");
      const int threads = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : default_threads();
      if (threads < 1 || threads > 1024) throw EngineError("measurePeak(seconds, threads): threads must be in 1..1024");
      const PeakResult r = measure_peak(seconds, threads);
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("gflops", Napi::Number::New(info.Env(), r.gflops));
      o.Set("lanes", Napi::Number::New(info.Env(), r.lanes));
      o.Set("threads", Napi::Number::New(info.Env(), r.threads));
      return o;
    });
  }));
  exports.Set("backendInfo", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value { return BackendInfo(info.Env()); });
  }));
  return exports;
}

}  // namespace
}  // namespace tegnas

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tegnas::InitModule(env, exports); }
NODE_API_MODULE(tegnas_addon, InitAddon)
