#pragma once
#include <vector>

namespace tegnas {

// Eigenvalues (ascending) of a symmetric n x n matrix (row-major, float64): Householder reduction to
// tridiagonal form, then implicit QL, as LAPACK's dsyev (what the reference's eigvalsh calls) does. The
// error of every eigenvalue is a small multiple of 1e-16 times the largest, far below what the float32
// gradients of an NTK leave in its entries. Throws EngineError when the matrix has a non-finite entry or
// the iteration does not converge.
std::vector<double> symmetric_eigenvalues(const double* A, int n);

}  // namespace tegnas
