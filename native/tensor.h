// The engine's one data type: a dense float32/float64 NCHW tensor.
// Fully connected activations use h = w = 1, so every node of a plan has a 4-D shape.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tegnas {

template <typename T>
struct Tensor {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<T> v;

  Tensor() = default;
  Tensor(int n_, int c_, int h_, int w_) { reset(n_, c_, h_, w_); }

  // Zero-filled resize; reuses the allocation when it is large enough.
  void reset(int n_, int c_, int h_, int w_) {
    n = n_; c = c_; h = h_; w = w_;
    v.assign(static_cast<size_t>(n) * c * h * w, T(0));
  }
  size_t numel() const { return v.size(); }
  size_t plane() const { return static_cast<size_t>(h) * w; }
  size_t sample() const { return static_cast<size_t>(c) * h * w; }
  T* data() { return v.data(); }
  const T* data() const { return v.data(); }
  bool empty() const { return v.empty(); }
  void release() { std::vector<T>().swap(v); n = c = h = w = 0; }
};

// A thrown error that names what was expected and what came; the addon turns it into a JS Error.
struct EngineError : std::runtime_error {
  explicit EngineError(const std::string& m) : std::runtime_error(m) {}
};

}  // namespace tegnas
