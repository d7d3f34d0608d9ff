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
        // A^T J A for the rotation J in the (p, q) plane. Off the 2x2 block the row update equals the
        // column update (the matrix is symmetric and stays so to the bit), so each value is computed once
        // and written to both places: half the work of a column pass then a row pass, same results.
        for (int k = 0; k < n; ++k) {
          if (k == p || k == q) continue;
          const double akp = at(k, p), akq = at(k, q);
          const double np = c * akp - s * akq, nq = s * akp + c * akq;
          at(k, p) = at(p, k) = np;
          at(k, q) = at(q, k) = nq;
        }
        // The 2x2 block as the two passes compute it: columns first, then rows.
        const double app = at(p, p), aqq = at(q, q);
        const double cpp = c * app - s * apq, cpq = s * app + c * apq;  // column pass, row p
        const double cqp = c * apq - s * aqq, cqq = s * apq + c * aqq;  // column pass, row q
        at(p, p) = c * cpp - s * cqp;
        at(q, q) = s * cpq + c * cqq;
        at(p, q) = at(q, p) = 0;
      }
  }
  throw EngineError("eigensolver: Jacobi sweeps did not converge");
}

}  // namespace tegnas
