// A small JSON reader and a safetensors reader for the native check tool (no dependencies).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/plan.h"

namespace tegnas {
namespace check {

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;

  bool has(const std::string& key) const;
  // Throws std::runtime_error naming the key when it is missing or of the wrong kind.
  const Json& at(const std::string& key) const;
  double number() const;
  int integer() const;
  const std::string& string() const;
  const std::vector<Json>& array() const;
  bool is_null() const { return kind == Null; }
};

// Throws std::runtime_error with the offset of the first syntax error.
Json parse_json(const std::string& text);
std::string read_file(const std::string& path);

// A plan from its JSON form (docs/plan-format.md), validated; `params` may come from elsewhere (a case
// file shares one parameter list between plans).
Plan plan_from_json(const Json& plan, const Json& params);

// The tensors of a safetensors file, converted on request.
class Safetensors {
 public:
  explicit Safetensors(const std::string& path);
  bool has(const std::string& name) const { return index_.count(name) > 0; }
  std::vector<int> shape(const std::string& name) const;
  std::vector<double> f64(const std::string& name) const;  // F32, F64, I32 or I64 as double
  std::vector<int> i32(const std::string& name) const;      // I32 or I64
 private:
  struct Entry {
    std::string dtype;
    std::vector<int> shape;
    size_t begin = 0, end = 0;
  };
  std::string path_;
  std::string data_;
  size_t base_ = 0;
  std::map<std::string, Entry> index_;
  const Entry& entry(const std::string& name) const;
};

}  // namespace check
}  // namespace tegnas
