#include "solve.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace tegnas {

namespace {
// In-place LU with partial pivoting; perm[k] is the row swapped into position k. False if singular.
bool lu(double* A, int n, std::vector<int>& perm) {
  double scale = 0;
  for (size_t i = 0; i < static_cast<size_t>(n) * n; ++i) scale = std::max(scale, std::fabs(A[i]));
  const double tol = n * std::numeric_limits<double>::epsilon() * scale;
  perm.resize(n);
  if (scale == 0) return false;
  for (int k = 0; k < n; ++k) {
    int piv = k;
    for (int i = k + 1; i < n; ++i)
      if (std::fabs(A[static_cast<size_t>(i) * n + k]) > std::fabs(A[static_cast<size_t>(piv) * n + k])) piv = i;
    perm[k] = piv;
    if (std::fabs(A[static_cast<size_t>(piv) * n + k]) <= tol) return false;
    if (piv != k)
      for (int j = 0; j < n; ++j) std::swap(A[static_cast<size_t>(k) * n + j], A[static_cast<size_t>(piv) * n + j]);
    const double d = A[static_cast<size_t>(k) * n + k];
    for (int i = k + 1; i < n; ++i) {
      double& l = A[static_cast<size_t>(i) * n + k];
      l /= d;
      if (l == 0) continue;
      for (int j = k + 1; j < n; ++j) A[static_cast<size_t>(i) * n + j] -= l * A[static_cast<size_t>(k) * n + j];
    }
  }
  return true;
}
}  // namespace

bool lu_solve(double* A, int n, double* B, int m) {
  std::vector<int> perm;
  if (!lu(A, n, perm)) return false;
  for (int k = 0; k < n; ++k)
    if (perm[k] != k)
      for (int j = 0; j < m; ++j) std::swap(B[static_cast<size_t>(k) * m + j], B[static_cast<size_t>(perm[k]) * m + j]);
  for (int i = 0; i < n; ++i)  // forward: L y = P b (unit diagonal)
    for (int k = 0; k < i; ++k) {
      const double l = A[static_cast<size_t>(i) * n + k];
      if (l != 0)
        for (int j = 0; j < m; ++j) B[static_cast<size_t>(i) * m + j] -= l * B[static_cast<size_t>(k) * m + j];
    }
  for (int i = n - 1; i >= 0; --i) {  // back: U x = y
    for (int k = i + 1; k < n; ++k) {
      const double u = A[static_cast<size_t>(i) * n + k];
      if (u != 0)
        for (int j = 0; j < m; ++j) B[static_cast<size_t>(i) * m + j] -= u * B[static_cast<size_t>(k) * m + j];
    }
    const double d = A[static_cast<size_t>(i) * n + i];
    for (int j = 0; j < m; ++j) B[static_cast<size_t>(i) * m + j] /= d;
  }
  return true;
}

bool log_abs_det(double* A, int n, double& out) {
  std::vector<int> perm;
  if (!lu(A, n, perm)) {
    out = -std::numeric_limits<double>::infinity();
    return false;
  }
  double s = 0;
  for (int k = 0; k < n; ++k) s += std::log(std::fabs(A[static_cast<size_t>(k) * n + k]));
  out = s;
  return true;
}

}  // namespace tegnas
