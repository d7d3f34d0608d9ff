#include "safetensors.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tegnas::check {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

namespace {
size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64") return 8;
  if (d == "F32" || d == "I32") return 4;
  if (d == "U8") return 1;
  return 0;
}

template <typename S, typename T>
void convert(const uint8_t* src, size_t n, T* out) {
  for (size_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * sizeof(S), sizeof(S));  // x86-64 and aarch64 are little-endian, as the format
    out[i] = static_cast<T>(v);
  }
}
}  // namespace

size_t StoredTensor::numel() const {
  size_t n = 1;
  for (long long d : shape) n *= static_cast<size_t>(d);
  return n;
}

template <typename T>
std::vector<T> StoredTensor::values() const {
  const size_t n = numel();
  std::vector<T> out(n);
  if (dtype == "F32") convert<float>(bytes.data(), n, out.data());
  else if (dtype == "F64") convert<double>(bytes.data(), n, out.data());
  else if (dtype == "I32") convert<int32_t>(bytes.data(), n, out.data());
  else if (dtype == "I64") convert<int64_t>(bytes.data(), n, out.data());
  else if (dtype == "U8") convert<uint8_t>(bytes.data(), n, out.data());
  else throw std::runtime_error("unsupported dtype " + dtype);
  return out;
}
template std::vector<float> StoredTensor::values<float>() const;
template std::vector<double> StoredTensor::values<double>() const;
template std::vector<int> StoredTensor::values<int>() const;

const StoredTensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.first == name) return &t.second;
  return nullptr;
}

const StoredTensor& SafetensorsFile::at(const std::string& name) const {
  const StoredTensor* t = find(name);
  if (!t) throw std::runtime_error(path + ": no tensor '" + name + "'");
  return *t;
}

const std::string& SafetensorsFile::meta(const std::string& key) const {
  for (const auto& m : metadata)
    if (m.first == key) return m.second;
  throw std::runtime_error(path + ": no metadata '" + key + "'");
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string bytes = read_file(path);
  auto bad = [&](const std::string& why) -> std::runtime_error { return std::runtime_error(path + ": " + why); };
  if (bytes.size() < 8) throw bad("shorter than the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8) throw bad("header length beyond the end of the file");
  const Json header = Json::parse(bytes.substr(8, n));
  const size_t data = 8 + n, data_len = bytes.size() - data;
  SafetensorsFile f;
  f.path = path;
  for (const auto& [name, v] : header.object()) {
    if (name == "__metadata__") {
      if (!v.is_null())
        for (const auto& [k, s] : v.object()) f.metadata.emplace_back(k, s.string());
      continue;
    }
    StoredTensor t;
    t.dtype = v["dtype"].string();
    for (const Json& d : v["shape"].array()) t.shape.push_back(static_cast<long long>(d.number()));
    const size_t size = dtype_size(t.dtype);
    if (size == 0) throw bad("tensor '" + name + "': unsupported dtype " + t.dtype);
    const double b = v["data_offsets"][0].number(), e = v["data_offsets"][1].number();
    if (!(b >= 0 && b <= e && e <= static_cast<double>(data_len))) throw bad("tensor '" + name + "': data_offsets out of range");
    if (static_cast<size_t>(e - b) != t.numel() * size) throw bad("tensor '" + name + "': byte length does not match its shape");
    t.bytes.assign(bytes.begin() + static_cast<long>(data + static_cast<size_t>(b)), bytes.begin() + static_cast<long>(data + static_cast<size_t>(e)));
    f.tensors.emplace_back(name, std::move(t));
  }
  return f;
}

}  // namespace tegnas::check
