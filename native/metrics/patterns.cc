#include "patterns.h"

#include <algorithm>
#include <bitset>
#include <cstring>

#include "../linalg/solve.h"

namespace tegnas {

template <typename T>
void append_patterns(const Plan& plan, const Activations<T>& acts, Patterns& out) {
  const int N = acts.N;
  long long bits = 0;
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    if (plan.nodes[i].op == Op::Relu) bits += static_cast<long long>(acts.act[i].sample());
  if (out.count == 0) {
    out.bits = bits;
    out.words = static_cast<int>((bits + 63) / 64);
  } else if (out.bits != bits) {
    throw EngineError("activation patterns of different lengths cannot be pooled");
  }
  const size_t base = out.data.size();
  out.data.resize(base + static_cast<size_t>(N) * out.words, 0);
  for (int n = 0; n < N; ++n) {
    uint64_t* row = out.data.data() + base + static_cast<size_t>(n) * out.words;
    long long b = 0;
    for (size_t i = 0; i < plan.nodes.size(); ++i) {
      if (plan.nodes[i].op != Op::Relu) continue;
      const Tensor<T>& a = acts.act[i];
      const T* v = a.data() + n * a.sample();
      for (size_t k = 0; k < a.sample(); ++k, ++b)
        if (v[k] > T(0)) row[b >> 6] |= uint64_t(1) << (b & 63);
    }
  }
  out.count += N;
}

namespace {
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Patterns of zero bits have no storage (row() is then a null pointer, which memcmp may not take).
bool same_row(const uint64_t* a, const uint64_t* b, size_t bytes) { return bytes == 0 || std::memcmp(a, b, bytes) == 0; }

uint64_t hash_row(const uint64_t* r, int words) {
  uint64_t h = 0x6a09e667f3bcc909ULL ^ static_cast<uint64_t>(words);
  for (int k = 0; k < words; ++k) h = mix(h ^ r[k]);
  return h;
}
}  // namespace

long long count_distinct(const Patterns& p) {
  if (p.count == 0) return 0;
  size_t cap = 16;
  while (cap < static_cast<size_t>(p.count) * 2) cap <<= 1;
  std::vector<int> slot(cap, -1);
  std::vector<uint64_t> hashes(p.count);
  long long distinct = 0;
  const size_t bytes = static_cast<size_t>(p.words) * sizeof(uint64_t);
  for (int i = 0; i < p.count; ++i) {
    const uint64_t h = hash_row(p.row(i), p.words);
    hashes[i] = h;
    size_t s = h & (cap - 1);
    for (;;) {
      const int j = slot[s];
      if (j < 0) {
        slot[s] = i;
        ++distinct;
        break;
      }
      if (hashes[j] == h && same_row(p.row(i), p.row(j), bytes)) break;  // the same pattern
      s = (s + 1) & (cap - 1);
    }
  }
  return distinct;
}

double pairwise_region_formula(const Patterns& p) {
  const size_t bytes = static_cast<size_t>(p.words) * sizeof(uint64_t);
  double total = 0;
  for (int i = 0; i < p.count; ++i) {
    int same = 0;
    for (int j = 0; j < p.count; ++j) same += same_row(p.row(i), p.row(j), bytes);
    total += 1.0 / same;
  }
  return total;
}

bool naswot_logdet(const Patterns& p, double& out) {
  const int n = p.count;
  std::vector<double> K(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) {
      long long differ = 0;
      const uint64_t* a = p.row(i);
      const uint64_t* b = p.row(j);
      for (int k = 0; k < p.words; ++k) differ += static_cast<long long>(std::bitset<64>(a[k] ^ b[k]).count());
      K[static_cast<size_t>(i) * n + j] = K[static_cast<size_t>(j) * n + i] = static_cast<double>(p.bits - differ);
    }
  return log_abs_det(K.data(), n, out);
}

template void append_patterns<float>(const Plan&, const Activations<float>&, Patterns&);
template void append_patterns<double>(const Plan&, const Activations<double>&, Patterns&);

}  // namespace tegnas
