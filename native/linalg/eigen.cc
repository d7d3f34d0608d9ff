#include "eigen.h"

#include <algorithm>
#include <cmath>

#include "../tensor.h"

namespace tegnas {

std::vector<double> symmetric_eigenvalues(const double* A, int n) {
  std::vector<double> a(A, A + static_cast<size_t>(n) * n);
  for (double v : a)
    if (!std::isfinite(v)) throw EngineError("eigensolver: the matrix has a non-finite entry");
  auto at = [&](int i, int j) -> double& { return a[static_cast<size_t>(i) * n + j]; };
  double scale = 0;
  for (double v : a) scale = std::max(scale, std::fabs(v));
  std::vector<double> w(n);
  if (scale == 0) return w;  // the zero matrix
  const double tiny = 1e-300;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int p = 0; p < n; ++p) {
      diag += at(p, p) * at(p, p);
      for (int q = p + 1; q < n; ++q) off += at(p, q) * at(p, q);
    }
    if (off <= 1e-32 * diag || off < tiny) {
      for (int i = 0; i < n; ++i) w[i] = at(i, i);
      std::sort(w.begin(), w.end());
      return w;
    }
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        // Skip rotations that cannot change the diagonal in float64 (the classic threshold test).
        if (std::fabs(apq) < tiny) continue;
        if (sweep > 3 && std::fabs(apq) * 1e17 < std::fabs(at(p, p)) && std::fabs(apq) * 1e17 < std::fabs(at(q, q))) {
          at(p, q) = at(q, p) = 0;
          continue;
        }
        const double theta = (at(q, q) - at(p, p)) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
        at(p, q) = at(q, p) = 0;
      }
  }
  throw EngineError("eigensolver: Jacobi sweeps did not converge");
}

}  // namespace tegnas
