// ReLU activation patterns: one bit per neuron (output > 0) of every ReLU node that runs, bit-packed
// per input, for the linear-region count (distinct patterns) and NASWOT (Hamming kernel).
#pragma once
#include <cstdint>
#include <vector>

#include "../graph/executor.h"

namespace tegnas {

struct Patterns {
  int count = 0;      // inputs
  long long bits = 0; // bits per input
  int words = 0;      // 64-bit words per input
  std::vector<uint64_t> data;  // count x words
  const uint64_t* row(int i) const { return data.data() + static_cast<size_t>(i) * words; }
};

// Appends the patterns of the N inputs of one forward pass (all ReLU nodes in execution order).
template <typename T>
void append_patterns(const Plan& plan, const Activations<T>& acts, Patterns& out);

// Exact number of distinct patterns: hashed into an open-addressing table, and on every hash match the
// full patterns are compared, so a collision can never merge two different patterns. O(n) expected.
long long count_distinct(const Patterns& p);

// The reference's O(n^2) formula, sum_i 1 / #{j : pattern_j == pattern_i}, for tests.
double pairwise_region_formula(const Patterns& p);

// NASWOT (Mellor et al. 2021): log |det K| with K[i][j] = number of bits where inputs i and j agree.
// Returns false when K is singular (e.g. two inputs share a pattern); out is then -infinity.
bool naswot_logdet(const Patterns& p, double& out);

}  // namespace tegnas
