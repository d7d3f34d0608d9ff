#include "json.h"

#include <cstdlib>
#include <stdexcept>

namespace tegnas::check {

class JsonParser {
 public:
  explicit JsonParser(const std::string& t) : t_(t) {}

  Json document() {
    Json v = value(0);
    ws();
    if (i_ != t_.size()) fail("trailing text after the JSON value");
    return v;
  }

 private:
  const std::string& t_;
  size_t i_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at byte " + std::to_string(i_));
  }
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  void literal(const char* word) {
    for (const char* p = word; *p; ++p, ++i_)
      if (i_ >= t_.size() || t_[i_] != *p) fail(std::string("expected ") + word);
  }
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  unsigned hex4() {
    if (i_ + 4 > t_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail("bad \\u escape");
    }
    return v;
  }
  std::string str() {
    expect('"');
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) fail("unterminated string");
      const char c = t_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= t_.size()) fail("unterminated escape");
      const char e = t_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && i_ + 6 <= t_.size() && t_[i_] == '\\' && t_[i_ + 1] == 'u') {
            i_ += 2;
            const unsigned lo = hex4();
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }
  Json value(int depth) {
    if (depth > 200) fail("nesting too deep");
    ws();
    if (i_ >= t_.size()) fail("unexpected end");
    Json v;
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      v.type_ = Json::Type::Object;
      if (eat('}')) return v;
      do {
        ws();
        std::string k = str();
        expect(':');
        v.members_.emplace_back(std::move(k), value(depth + 1));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.type_ = Json::Type::Array;
      if (eat(']')) return v;
      do v.items_.push_back(value(depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.type_ = Json::Type::String;
      v.string_ = str();
    } else if (c == 't' || c == 'f') {
      v.type_ = Json::Type::Bool;
      v.bool_ = c == 't';
      literal(c == 't' ? "true" : "false");
    } else if (c == 'n') {
      literal("null");
    } else {
      const char* start = t_.c_str() + i_;
      char* end = nullptr;
      v.number_ = std::strtod(start, &end);
      if (end == start) fail("expected a value");
      v.type_ = Json::Type::Number;
      i_ += static_cast<size_t>(end - start);
    }
    return v;
  }
};

Json Json::parse(const std::string& text) { return JsonParser(text).document(); }

namespace {
[[noreturn]] void wrong(const char* want) { throw std::runtime_error(std::string("JSON: expected ") + want); }
}  // namespace

bool Json::boolean() const {
  if (type_ != Type::Bool) wrong("a boolean");
  return bool_;
}
double Json::number() const {
  if (type_ != Type::Number) wrong("a number");
  return number_;
}
int Json::integer() const {
  const double d = number();
  if (d != static_cast<double>(static_cast<long long>(d)) || d < -2147483648.0 || d > 2147483647.0) wrong("an integer");
  return static_cast<int>(d);
}
const std::string& Json::string() const {
  if (type_ != Type::String) wrong("a string");
  return string_;
}
const std::vector<Json>& Json::array() const {
  if (type_ != Type::Array) wrong("an array");
  return items_;
}
const std::vector<std::pair<std::string, Json>>& Json::object() const {
  if (type_ != Type::Object) wrong("an object");
  return members_;
}
bool Json::has(const std::string& key) const {
  if (type_ != Type::Object) return false;
  for (const auto& m : members_)
    if (m.first == key) return true;
  return false;
}
const Json& Json::operator[](const std::string& key) const {
  for (const auto& m : object())
    if (m.first == key) return m.second;
  throw std::runtime_error("JSON: missing key '" + key + "'");
}

}  // namespace tegnas::check
