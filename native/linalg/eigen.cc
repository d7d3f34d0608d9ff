#include "eigen.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "../tensor.h"

namespace tegnas {

namespace {

// Householder reduction of the symmetric matrix a (row-major, overwritten) to a tridiagonal matrix with
// diagonal d and sub-diagonal e (e[i] couples rows i and i + 1). Eigenvalues only: the reflections are
// applied and forgotten. Row-major and symmetric, so A v is taken as a sum of rows (an axpy per row) and
// the rank-2 update runs along rows: every inner loop is contiguous and free of reductions, which GCC
// vectorizes without reassociating anything.
void tridiagonalize(std::vector<double>& a, int n, std::vector<double>& d, std::vector<double>& e) {
  auto row = [&](int i) { return a.data() + static_cast<size_t>(i) * n; };
  std::vector<double> v(n), p(n);
  for (int k = 0; k + 2 < n; ++k) {
    const int lo = k + 1, m = n - lo;  // the reflection acts on rows and columns lo..n-1
    double tail = 0;
    for (int i = lo + 1; i < n; ++i) tail += row(i)[k] * row(i)[k];
    d[k] = row(k)[k];
    const double x0 = row(lo)[k];
    if (tail == 0) {  // column k is already tridiagonal
      e[k] = x0;
      continue;
    }
    const double alpha = -std::copysign(std::sqrt(x0 * x0 + tail), x0);
    for (int i = 0; i < m; ++i) v[i] = row(lo + i)[k];
    v[0] -= alpha;
    const double beta = 1 / (x0 * x0 + tail - x0 * alpha);  // 2 / (v . v)
    std::fill(p.begin(), p.begin() + m, 0.0);
    for (int j = 0; j < m; ++j) {
      const double vj = beta * v[j];
      const double* r = row(lo + j) + lo;
      for (int i = 0; i < m; ++i) p[i] += vj * r[i];
    }
    double vp = 0;
    for (int i = 0; i < m; ++i) vp += v[i] * p[i];
    const double K = 0.5 * beta * vp;
    for (int i = 0; i < m; ++i) p[i] -= K * v[i];  // p is now q = p - K v
    for (int i = 0; i < m; ++i) {
      double* r = row(lo + i) + lo;
      const double vi = v[i], qi = p[i];
      for (int j = 0; j < m; ++j) r[j] -= vi * p[j] + qi * v[j];
    }
    e[k] = alpha;
  }
  if (n >= 2) {
    d[n - 2] = row(n - 2)[n - 2];
    e[n - 2] = row(n - 1)[n - 2];
  }
  d[n - 1] = row(n - 1)[n - 1];
}

// Eigenvalues of the symmetric tridiagonal (d, e) by the implicit QL method with Wilkinson's shift,
// deflating an off-diagonal element once it no longer changes the sum of its two neighbours' moduli.
// Leaves them in d, unordered.
void tridiagonal_ql(std::vector<double>& d, std::vector<double>& e, int n) {
  e[n - 1] = 0;
  for (int l = 0; l < n; ++l) {
    for (int iter = 0;; ++iter) {
      int m = l;
      for (; m + 1 < n; ++m) {
        const double dd = std::fabs(d[m]) + std::fabs(d[m + 1]);
        if (std::fabs(e[m]) + dd == dd) break;
      }
      if (m == l) break;
      if (iter == 60) throw EngineError("eigensolver: the QL iteration did not converge");
      double g = (d[l + 1] - d[l]) / (2 * e[l]);
      double r = std::hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
      double s = 1, c = 1, p = 0;
      bool underflow = false;
      for (int i = m - 1; i >= l; --i) {
        const double f = s * e[i], b = c * e[i];
        r = std::hypot(f, g);
        e[i + 1] = r;
        if (r == 0) {  // the rotation vanished: split the matrix here and start the sweep again
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

}  // namespace

std::vector<double> symmetric_eigenvalues(const double* A, int n) {
  std::vector<double> a(A, A + static_cast<size_t>(n) * n);
  double scale = 0;
  for (double v : a) {
    if (!std::isfinite(v)) throw EngineError("eigensolver: the matrix has a non-finite entry");
    scale = std::max(scale, std::fabs(v));
  }
  std::vector<double> w(n);
  if (n == 0 || scale == 0) return w;  // the zero matrix
  // Entries at most 1 in modulus: the squared norms of the reduction cannot overflow or underflow.
  for (double& v : a) v /= scale;
  std::vector<double> e(n);
  tridiagonalize(a, n, w, e);
  tridiagonal_ql(w, e, n);
  for (double& v : w) v *= scale;
  std::sort(w.begin(), w.end());
  return w;
}

}  // namespace tegnas
