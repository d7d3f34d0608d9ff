#pragma once
#include <vector>

namespace tegnas {

// Eigenvalues (ascending) of a symmetric n x n matrix (row-major, float64), by cyclic Jacobi
// rotations: slower than tridiagonal QR for large n but accurate in the small eigenvalues of a
// positive semi-definite matrix, which is what a condition number needs. Throws EngineError when the
// matrix has a non-finite entry or the sweeps do not converge.
std::vector<double> symmetric_eigenvalues(const double* A, int n);

}  // namespace tegnas
