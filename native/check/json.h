// A small JSON reader for the check executable: plans, manifests, fixture metadata. Numbers are doubles;
// objects keep their keys in text order. Throws std::runtime_error with the byte offset on bad input.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tegnas::check {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  static Json parse(const std::string& text);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  bool boolean() const;
  double number() const;
  // An integral number in int range.
  int integer() const;
  const std::string& string() const;
  const std::vector<Json>& array() const;
  const std::vector<std::pair<std::string, Json>>& object() const;

  bool has(const std::string& key) const;
  // Member of an object; throws naming the key when absent.
  const Json& operator[](const std::string& key) const;
  const Json& operator[](size_t i) const { return array().at(i); }
  size_t size() const { return type_ == Type::Array ? items_.size() : members_.size(); }

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace tegnas::check
