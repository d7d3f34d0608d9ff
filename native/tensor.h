// The engine's one data type: a dense float32/float64 NCHW tensor.
// Fully connected activations use h = w = 1, so every node of a plan has a 4-D shape.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
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
  // The same shape with the contents left as they were: for an op that writes every element. A buffer
  // recycled from a larger tensor is not filled at all (a zero fill was half the forward pass's stores).
  void shape(int n_, int c_, int h_, int w_) {
    n = n_; c = c_; h = h_; w = w_;
    v.resize(static_cast<size_t>(n) * c * h * w);
  }
  size_t numel() const { return v.size(); }
  size_t plane() const { return static_cast<size_t>(h) * w; }
  size_t sample() const { return static_cast<size_t>(c) * h * w; }
  T* data() { return v.data(); }
  const T* data() const { return v.data(); }
  bool empty() const { return v.empty(); }
  void release() { std::vector<T>().swap(v); n = c = h = w = 0; }
};

// Backward passes run kSeeds seeds at once, with the seed as the innermost (fastest) index of every
// gradient tensor: [n][c][h][w][seed]. Every backward op then becomes a fixed-width loop over seeds
// that the compiler turns into vector instructions, whatever the channel count of the network.
constexpr int kSeeds = 16;

// An allocator whose resize() leaves new elements unwritten: a recycled gradient buffer grown for a
// first writer that assigns every element would otherwise be zero-filled for nothing.
template <typename T>
struct UninitAlloc : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitAlloc<U>;
  };
  UninitAlloc() = default;
  template <typename U>
  UninitAlloc(const UninitAlloc<U>&) noexcept {}
  // Cache-line aligned: a gradient element's kSeeds floats are one 64-byte line, and at malloc's 16-byte
  // alignment every vector load and store of a backward pass touched two lines.
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(64)); }
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};
template <typename T>
using GradStore = std::vector<T, UninitAlloc<T>>;

template <typename T>
struct Grad {
  int n = 0, c = 0, h = 0, w = 0;
  GradStore<T> v;

  void reset(int n_, int c_, int h_, int w_) {
    n = n_; c = c_; h = h_; w = w_;
    v.assign(static_cast<size_t>(n) * c * h * w * kSeeds, T(0));
  }
  size_t elements() const { return static_cast<size_t>(n) * c * h * w; }
  size_t plane() const { return static_cast<size_t>(h) * w; }
  size_t sample() const { return static_cast<size_t>(c) * h * w; }
  // The kSeeds values of element i (an NCHW index).
  T* at(size_t i) { return v.data() + i * kSeeds; }
  const T* at(size_t i) const { return v.data() + i * kSeeds; }
  bool empty() const { return v.empty(); }
  void release() { GradStore<T>().swap(v); n = c = h = w = 0; }
};

// The kSeeds values of one element as one vector value (GCC/Clang vector extension): arithmetic on it
// compiles to one AVX-512 instruction, two AVX2 ones, or four SSE ones. Unaligned loads are allowed.
#if defined(__GNUC__)
template <typename T>
struct SeedVecOf;
template <>
struct SeedVecOf<float> {
  typedef float type __attribute__((vector_size(kSeeds * sizeof(float)), aligned(alignof(float))));
};
template <>
struct SeedVecOf<double> {
  typedef double type __attribute__((vector_size(kSeeds * sizeof(double)), aligned(alignof(double))));
};
template <typename T>
using SeedVec = typename SeedVecOf<T>::type;
#define TEGNAS_HAVE_SEEDVEC 1
#endif

// Recycles gradient buffers between the nodes and passes of one worker, and from one call to the next
// when the pool lives in a Workspace, so the backward pass does not page-fault its way through freshly
// mapped memory for every node of every seed chunk.
template <typename T>
struct GradPool {
  std::vector<GradStore<T>> free;

  // zero = false leaves the contents undefined, for a first writer that overwrites every element.
  void take(Grad<T>& g, int n, int c, int h, int w, bool zero = true) {
    const size_t need = static_cast<size_t>(n) * c * h * w * kSeeds;
    // The smallest buffer that fits and, of equal ones, the one given back last: it is the likeliest to
    // be still in cache (the first-given one, taken before, was a whole layer's traffic colder).
    size_t best = free.size();
    for (size_t i = 0; i < free.size(); ++i)
      if (free[i].capacity() >= need && (best == free.size() || free[i].capacity() <= free[best].capacity())) best = i;
    if (best < free.size()) {
      g.v = std::move(free[best]);
      free.erase(free.begin() + static_cast<long>(best));
    }
    g.n = n; g.c = c; g.h = h; g.w = w;
    if (zero) g.v.assign(need, T(0));
    else g.v.resize(need);
  }
  void give(Grad<T>& g) {
    if (g.v.capacity() > 0) free.push_back(std::move(g.v));
    g.v = GradStore<T>();
    g.n = g.c = g.h = g.w = 0;
  }
};

// The same for plain buffers (forward activations, BatchNorm caches): give() keeps a vector's
// allocation, reserve_from() hands the smallest one that fits to a vector about to be assigned.
template <typename T>
struct BufferPool {
  std::vector<std::vector<T>> free;

  void give(std::vector<T>& v) {
    if (v.capacity() > 0) free.push_back(std::move(v));
    v = std::vector<T>();
  }
  void reserve_from(std::vector<T>& v, size_t need) {
    if (v.capacity() >= need) return;
    size_t best = free.size();
    for (size_t i = 0; i < free.size(); ++i)
      if (free[i].capacity() >= need && (best == free.size() || free[i].capacity() < free[best].capacity())) best = i;
    if (best == free.size()) return;
    std::vector<T> b = std::move(free[best]);
    free.erase(free.begin() + static_cast<long>(best));
    give(v);
    v = std::move(b);
  }
  void clear() { std::vector<std::vector<T>>().swap(free); }
};

// Multi-versioned kernels: one binary carries AVX-512, AVX2 and baseline code and picks at load time.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(TEGNAS_NO_CLONES)
#define TEGNAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TEGNAS_SIMD
#endif
#if defined(__GNUC__)
#define TEGNAS_INLINE inline __attribute__((always_inline))
#else
#define TEGNAS_INLINE inline
#endif

// A thrown error that names what was expected and what came; the addon turns it into a JS Error.
struct EngineError : std::runtime_error {
  explicit EngineError(const std::string& m) : std::runtime_error(m) {}
};

}  // namespace tegnas
