#include "json.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tegnas {
namespace check {

bool Json::has(const std::string& key) const {
  if (kind != Object) return false;
  for (const auto& kv : obj)
    if (kv.first == key) return true;
  return false;
}

const Json& Json::at(const std::string& key) const {
  if (kind != Object) throw std::runtime_error("JSON: expected an object holding '" + key + "'");
  for (const auto& kv : obj)
    if (kv.first == key) return kv.second;
  throw std::runtime_error("JSON: missing field '" + key + "'");
}

double Json::number() const {
  if (kind != Number) throw std::runtime_error("JSON: expected a number");
  return num;
}

int Json::integer() const {
  const double d = number();
  if (std::floor(d) != d || std::fabs(d) > 2147483647.0) throw std::runtime_error("JSON: expected an integer");
  return static_cast<int>(d);
}

const std::string& Json::string() const {
  if (kind != String) throw std::runtime_error("JSON: expected a string");
  return str;
}

const std::vector<Json>& Json::array() const {
  if (kind != Array) throw std::runtime_error("JSON: expected an array");
  return arr;
}

namespace {

struct Parser {
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream o;
    o << "JSON syntax error at offset " << i << ": " << what;
    throw std::runtime_error(o.str());
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  bool eat(const char* lit) {
    const size_t n = std::strlen(lit);
    if (s.compare(i, n, lit) == 0) {
      i += n;
      return true;
    }
    return false;
  }
  std::string string_lit() {
    if (i >= s.size() || s[i] != '"') fail("expected a string");
    ++i;
    std::string out;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail("unterminated escape");
      c = s[i++];
      switch (c) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i + 4 > s.size()) fail("short \\u escape");
          const unsigned cp = static_cast<unsigned>(std::stoul(s.substr(i, 4), nullptr, 16));
          i += 4;
          // Names here are ASCII; other code points are kept as UTF-8 of the BMP character.
          if (cp < 0x80) out += static_cast<char>(cp);
          else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
          else { out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
          break;
        }
        default: fail("bad escape");
      }
    }
    if (i >= s.size()) fail("unterminated string");
    ++i;
    return out;
  }
  Json value() {
    ws();
    if (i >= s.size()) fail("unexpected end");
    Json v;
    const char c = s[i];
    if (c == '{') {
      ++i;
      v.kind = Json::Object;
      ws();
      if (i < s.size() && s[i] == '}') { ++i; return v; }
      for (;;) {
        ws();
        std::string k = string_lit();
        ws();
        if (i >= s.size() || s[i] != ':') fail("expected ':'");
        ++i;
        v.obj.emplace_back(std::move(k), value());
        ws();
        if (i < s.size() && s[i] == ',') { ++i; continue; }
        if (i < s.size() && s[i] == '}') { ++i; return v; }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      ++i;
      v.kind = Json::Array;
      ws();
      if (i < s.size() && s[i] == ']') { ++i; return v; }
      for (;;) {
        v.arr.push_back(value());
        ws();
        if (i < s.size() && s[i] == ',') { ++i; continue; }
        if (i < s.size() && s[i] == ']') { ++i; return v; }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Json::String;
      v.str = string_lit();
      return v;
    }
    if (eat("true")) { v.kind = Json::Bool; v.b = true; return v; }
    if (eat("false")) { v.kind = Json::Bool; return v; }
    if (eat("null")) return v;
    if (eat("NaN")) { v.kind = Json::Number; v.num = NAN; return v; }
    const char* begin = s.c_str() + i;
    char* end = nullptr;
    v.num = std::strtod(begin, &end);
    if (end == begin) fail("unexpected character");
    v.kind = Json::Number;
    i += static_cast<size_t>(end - begin);
    return v;
  }
};

}  // namespace

Json parse_json(const std::string& text) {
  Parser p{text};
  Json v = p.value();
  p.ws();
  if (p.i != text.size()) p.fail("trailing characters");
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

namespace {
void get_pair(const Json& n, const char* key, int dflt, int& a, int& b) {
  if (!n.has(key) || n.at(key).is_null()) { a = b = dflt; return; }
  const Json& v = n.at(key);
  if (v.kind == Json::Array) {
    if (v.arr.size() != 2) throw std::runtime_error(std::string("plan: ") + key + " must be an integer or a pair");
    a = v.arr[0].integer();
    b = v.arr[1].integer();
  } else {
    a = b = v.integer();
  }
}
int get_int(const Json& n, const char* key, int dflt) { return n.has(key) && !n.at(key).is_null() ? n.at(key).integer() : dflt; }
}  // namespace

Plan plan_from_json(const Json& pj, const Json& params) {
  Plan p;
  const std::vector<Json>& in = pj.at("input").array();
  if (in.size() != 3) throw std::runtime_error("plan: input must be [channels, height, width]");
  p.in_c = in[0].integer(); p.in_h = in[1].integer(); p.in_w = in[2].integer();
  for (const Json& pa : params.array()) {
    ParamInfo pi;
    pi.name = pa.at("name").string();
    for (const Json& d : pa.at("shape").array()) pi.shape.push_back(d.integer());
    p.params.push_back(pi);
  }
  for (const Json& no : pj.at("nodes").array()) {
    Node nd;
    if (!op_from_name(no.at("op").string(), nd.op)) throw std::runtime_error("plan: unknown op '" + no.at("op").string() + "'");
    if (nd.op == Op::Add || nd.op == Op::Concat) {
      for (const Json& k : no.at("inputs").array()) nd.inputs.push_back(k.integer());
    } else if (nd.op != Op::Input) {
      nd.inputs = {no.at("input").integer()};
    }
    switch (nd.op) {
      case Op::Conv2d:
        nd.weight = no.at("weight").integer();
        nd.bias = get_int(no, "bias", -1);
        get_pair(no, "stride", 1, nd.sh, nd.sw);
        get_pair(no, "padding", 0, nd.ph, nd.pw);
        get_pair(no, "dilation", 1, nd.dh, nd.dw);
        nd.groups = get_int(no, "groups", 1);
        break;
      case Op::BatchNorm:
        nd.weight = no.at("weight").integer();
        nd.bias = no.at("bias").integer();
        if (no.has("eps")) nd.eps = no.at("eps").number();
        break;
      case Op::AvgPool:
      case Op::MaxPool:
        nd.kh = nd.kw = no.at("kernel").integer();
        nd.sh = nd.sw = no.at("stride").integer();
        nd.ph = nd.pw = no.at("padding").integer();
        break;
      case Op::Linear:
        nd.weight = no.at("weight").integer();
        nd.bias = get_int(no, "bias", -1);
        break;
      case Op::Zero:
        nd.channels = no.at("channels").integer();
        nd.stride = no.at("stride").integer();
        break;
      default:
        break;
    }
    p.nodes.push_back(std::move(nd));
  }
  p.output = pj.at("output").integer();
  validate_plan(p);
  return p;
}

Safetensors::Safetensors(const std::string& path) : path_(path), data_(read_file(path)) {
  if (data_.size() < 8) throw std::runtime_error(path + ": not a safetensors file (too short)");
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(data_[k]);
  if (n > data_.size() - 8) throw std::runtime_error(path + ": header length past the end of the file");
  base_ = 8 + static_cast<size_t>(n);
  const Json h = parse_json(data_.substr(8, static_cast<size_t>(n)));
  for (const auto& kv : h.obj) {
    if (kv.first == "__metadata__") continue;
    Entry e;
    e.dtype = kv.second.at("dtype").string();
    for (const Json& d : kv.second.at("shape").array()) e.shape.push_back(d.integer());
    const std::vector<Json>& off = kv.second.at("data_offsets").array();
    e.begin = static_cast<size_t>(off.at(0).number());
    e.end = static_cast<size_t>(off.at(1).number());
    if (e.end < e.begin || base_ + e.end > data_.size()) throw std::runtime_error(path + ": tensor '" + kv.first + "' lies past the end");
    index_[kv.first] = e;
  }
}

const Safetensors::Entry& Safetensors::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw std::runtime_error(path_ + ": no tensor '" + name + "'");
  return it->second;
}

std::vector<int> Safetensors::shape(const std::string& name) const { return entry(name).shape; }

namespace {
template <typename S>
std::vector<S> raw(const std::string& data, size_t base, size_t begin, size_t end) {
  std::vector<S> v((end - begin) / sizeof(S));
  if (!v.empty()) std::memcpy(v.data(), data.data() + base + begin, v.size() * sizeof(S));  // little-endian hosts
  return v;
}
}  // namespace

std::vector<double> Safetensors::f64(const std::string& name) const {
  const Entry& e = entry(name);
  std::vector<double> out;
  if (e.dtype == "F32") for (float v : raw<float>(data_, base_, e.begin, e.end)) out.push_back(v);
  else if (e.dtype == "F64") out = raw<double>(data_, base_, e.begin, e.end);
  else if (e.dtype == "I64") for (int64_t v : raw<int64_t>(data_, base_, e.begin, e.end)) out.push_back(static_cast<double>(v));
  else if (e.dtype == "I32") for (int32_t v : raw<int32_t>(data_, base_, e.begin, e.end)) out.push_back(v);
  else throw std::runtime_error(path_ + ": tensor '" + name + "' has dtype " + e.dtype);
  return out;
}

std::vector<int> Safetensors::i32(const std::string& name) const {
  const Entry& e = entry(name);
  std::vector<int> out;
  if (e.dtype == "I64") for (int64_t v : raw<int64_t>(data_, base_, e.begin, e.end)) out.push_back(static_cast<int>(v));
  else if (e.dtype == "I32") out = raw<int32_t>(data_, base_, e.begin, e.end);
  else throw std::runtime_error(path_ + ": tensor '" + name + "' is " + e.dtype + ", expected integers");
  return out;
}

}  // namespace check
}  // namespace tegnas
