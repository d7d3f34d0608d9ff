#pragma once

namespace tegnas {

// Solves A X = B in place for X (A n x n, B n x m, row-major, float64) by LU with partial pivoting.
// Returns false, leaving B undefined, when A is singular to working precision: a pivot no larger than
// n * eps * max|A|.
bool lu_solve(double* A, int n, double* B, int m);

// log |det A| of a square matrix by LU with partial pivoting; returns false when A is singular to
// working precision (then the log-determinant is -infinity).
bool log_abs_det(double* A, int n, double& out);

}  // namespace tegnas
