import test from 'ava';
import { matmul, patternStats, solveLinear, symmetricEigenvalues } from '../src/native.js';
import { mulberry32, randn } from './helpers/gradcheck.js';

// A random orthogonal matrix from Gram-Schmidt, to build matrices with known spectra.
function orthogonal(n: number, seed: number): Float64Array {
  const q = randn(mulberry32(seed), n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let d = 0;
      for (let k = 0; k < n; k++) d += q[i * n + k] * q[j * n + k];
      for (let k = 0; k < n; k++) q[i * n + k] -= d * q[j * n + k];
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += q[i * n + k] ** 2;
    for (let k = 0; k < n; k++) q[i * n + k] /= Math.sqrt(norm);
  }
  return q;
}

function withSpectrum(values: number[], seed: number): Float64Array {
  const n = values.length;
  const q = orthogonal(n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[k * n + i] * values[k] * q[k * n + j];
      a[i * n + j] = a[j * n + i] = s;
    }
  return a;
}

test('the eigensolver recovers a known spectrum of a 64 x 64 matrix, small eigenvalues included', (t) => {
  const values = Array.from({ length: 64 }, (_, i) => 10 ** (-4 + (8 * i) / 63));
  const w = symmetricEigenvalues(withSpectrum(values, 5), 64);
  const sorted = [...values].sort((a, b) => a - b);
  // Building the matrix costs ~1e-16 * 1e4 absolute; the smallest eigenvalue (1e-4) keeps ~8 digits.
  for (let i = 0; i < 64; i++) t.true(Math.abs(w[i] - sorted[i]) <= 1e-9 * sorted[63] + 1e-8 * sorted[i], `eigenvalue ${i}: ${w[i]} vs ${sorted[i]}`);
  const cond = w[63] / w[0];
  t.true(Math.abs(cond / 1e8 - 1) < 1e-3, `cond ${cond}`);
});

test('the eigensolver on small and already-reduced matrices: 1 x 1, 2 x 2, diagonal, tridiagonal, repeated eigenvalues', (t) => {
  t.deepEqual(Array.from(symmetricEigenvalues(Float64Array.from([-3]), 1)), [-3]);
  // [[2, 1], [1, 2]]: 1 and 3.
  const w2 = symmetricEigenvalues(Float64Array.from([2, 1, 1, 2]), 2);
  t.true(Math.abs(w2[0] - 1) < 1e-15 && Math.abs(w2[1] - 3) < 1e-15, `${w2}`);
  // Diagonal (every Householder step is skipped), unsorted on input.
  t.deepEqual(Array.from(symmetricEigenvalues(Float64Array.from([5, 0, 0, 0, -1, 0, 0, 0, 2]), 3)), [-1, 2, 5]);
  // The 8 x 8 second-difference matrix tridiag(-1, 2, -1): 2 - 2 cos(k pi / 9).
  const n = 8;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 2;
    if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
  }
  const w = symmetricEigenvalues(a, n);
  for (let k = 1; k <= n; k++) t.true(Math.abs(w[k - 1] - (2 - 2 * Math.cos((k * Math.PI) / (n + 1)))) < 1e-14, `eigenvalue ${k}: ${w[k - 1]}`);
  // A rank-one matrix u u^T plus 3 I (eigenvalue 3 five times, 3 + |u|^2 once), rotated off the axes.
  const u = [1, -2, 0.5, 3, 1, -1];
  const b = new Float64Array(36);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) b[i * 6 + j] = u[i] * u[j] + (i === j ? 3 : 0);
  const wb = symmetricEigenvalues(b, 6);
  for (let i = 0; i < 5; i++) t.true(Math.abs(wb[i] - 3) < 1e-14, `eigenvalue ${i}: ${wb[i]}`);
  t.true(Math.abs(wb[5] - (3 + u.reduce((s, x) => s + x * x, 0))) < 1e-13, `largest ${wb[5]}`);
});

test('the eigensolver handles the zero matrix and rejects asymmetric or non-finite input', (t) => {
  t.deepEqual(Array.from(symmetricEigenvalues(new Float64Array(9), 3)), [0, 0, 0]);
  t.throws(() => symmetricEigenvalues(Float64Array.from([1, 2, 3, 4]), 2), { message: /not symmetric/ });
  t.throws(() => symmetricEigenvalues(Float64Array.from([1, Number.NaN, Number.NaN, 1]), 2), { message: /non-finite/ });
});

test('the linear solve is exact on a well-conditioned system and reports a singular one', (t) => {
  const n = 64, m = 10;
  const a = withSpectrum(Array.from({ length: n }, (_, i) => 1 + i), 9);
  const x = randn(mulberry32(2), n * m);
  const b = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * x[k * m + j];
      b[i * m + j] = s;
    }
  const got = solveLinear(a, n, b, m)!;
  let err = 0;
  for (let i = 0; i < n * m; i++) err = Math.max(err, Math.abs(got[i] - x[i]));
  t.true(err < 1e-10, `max error ${err}`);
  const singular = withSpectrum([...Array(n - 1).fill(1), 0], 3);
  t.is(solveLinear(singular, n, b, m), null);
});

test('hashed distinct count equals the pairwise region formula on random patterns', (t) => {
  const rand = mulberry32(11);
  for (const [count, nbits, ones] of [[500, 9, 0.5], [3000, 63, 0.5], [2000, 64, 0.9], [1000, 65, 0.5], [700, 200, 0.97], [300, 1, 0.5]] as const) {
    // Draw from a small pool of base patterns so that duplicates are common.
    const pool = Array.from({ length: Math.max(2, Math.floor(count / 3)) }, () => Uint8Array.from({ length: nbits }, () => (rand() < ones ? 1 : 0)));
    const bits = new Uint8Array(count * nbits);
    for (let i = 0; i < count; i++) bits.set(pool[Math.floor(rand() * pool.length)], i * nbits);
    const distinctSet = new Set<string>();
    for (let i = 0; i < count; i++) distinctSet.add(bits.subarray(i * nbits, (i + 1) * nbits).join(''));
    const r = patternStats(bits, count, nbits, true);
    t.is(r.distinct, distinctSet.size, `${count} x ${nbits}`);
    t.true(Math.abs(r.pairwise! - r.distinct) < 1e-6 * r.distinct, `pairwise ${r.pairwise} vs ${r.distinct}`);
  }
});

test('patterns that differ only in the last bit of a word are counted apart', (t) => {
  for (const nbits of [64, 65, 128, 130]) {
    const bits = new Uint8Array(2 * nbits);
    bits[2 * nbits - 1] = 1;
    t.is(patternStats(bits, 2, nbits).distinct, 2);
    t.is(patternStats(new Uint8Array(2 * nbits), 2, nbits).distinct, 1);
  }
});

test('matmul matches a float64 triple loop for every transpose, across the packing block edges', (t) => {
  const rng = mulberry32(7);
  // k 300 crosses the 256-deep packed block, n 1100 the 1024-column one; 7 and 37 leave partial tiles.
  for (const [m, n, k] of [[7, 37, 300], [13, 1100, 5], [1, 1, 1], [64, 10, 12]] as const)
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const a = Float32Array.from(randn(rng, m * k));
        const b = Float32Array.from(randn(rng, k * n));
        const c = matmul(a, b, m, n, k, ta, tb);
        t.is(c.length, m * n);
        let worst = 0;
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0, mag = 0;
            for (let p = 0; p < k; p++) {
              const x = (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
              s += x;
              mag += Math.abs(x);
            }
            worst = Math.max(worst, Math.abs(c[i * n + j] - s) / (mag + 1e-30));
          }
        t.true(worst < 1e-5, `m ${m} n ${n} k ${k} transA ${ta} transB ${tb}: relative error ${worst}`);
      }
});

test('matmul rejects wrong lengths and non-finite values with a named error', (t) => {
  const a = new Float32Array(6), b = new Float32Array(6);
  t.throws(() => matmul(a, b, 2, 2, 4), { message: /matmul: a has 6 values, expected m 2 x k 4 = 8/ });
  b[3] = Number.NaN;
  t.throws(() => matmul(a, b, 2, 2, 3), { message: /matmul: b has a non-finite value/ });
  t.throws(() => matmul(a, b, 0, 2, 3), { message: /matmul: m must be an integer/ });
});
