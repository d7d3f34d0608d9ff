import test from 'ava';
import { TegnasError } from '../src/errors.js';
import { Rng } from '../src/weights/rng.js';

const draws = (r: Rng, n: number, f: (r: Rng) => number = (x) => x.nextU32()) => Array.from({ length: n }, () => f(r));

function moments(xs: number[]): { mean: number; variance: number; skew: number; kurtosis: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (const x of xs) {
    const d = x - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  return { mean, variance: m2, skew: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) };
}

function chiSquare(counts: number[], expected: number): number {
  return counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
}

test('matches a C reference of splitmix64-seeded xoshiro128**', (t) => {
  // Computed by a C implementation of the reference algorithms (Vigna's splitmix64.c and xoshiro128starstar.c).
  t.deepEqual(draws(new Rng(0), 5), [513008459, 2795874746, 972916236, 1374099887, 2042740824]);
  t.deepEqual(draws(new Rng(42), 5), [825760943, 2622800619, 310231447, 2495256757, 2989135795]);
  t.deepEqual(draws(new Rng(2n ** 64n - 1n), 5), [1684066916, 570735087, 88880781, 2327579996, 1691556425]);
});

test('seeds: deterministic, number and bigint agree, taken modulo 2^64', (t) => {
  t.deepEqual(draws(new Rng(7), 100), draws(new Rng(7), 100));
  t.deepEqual(draws(new Rng(7), 10), draws(new Rng(7n), 10));
  t.deepEqual(draws(new Rng(-1), 10), draws(new Rng(2n ** 64n - 1n), 10));
  t.deepEqual(draws(new Rng(2n ** 64n + 5n), 10), draws(new Rng(5), 10));
  t.deepEqual(draws(new Rng(2 ** 60), 10), draws(new Rng(2n ** 60n), 10));
  t.notDeepEqual(draws(new Rng(7), 10), draws(new Rng(8), 10));
  t.is(new Rng(-1).key, 2n ** 64n - 1n);
  for (const bad of [1.5, NaN, Infinity, -Infinity, '3' as unknown as number]) {
    const err = t.throws(() => new Rng(bad), { instanceOf: TegnasError });
    t.is(err?.code, 'E_INPUT');
    t.regex(err!.message, /seed must be an integer/);
  }
});

test('fork depends only on key and label', (t) => {
  const a = new Rng(123);
  const b = new Rng(123);
  draws(b, 1000);
  b.normal();
  t.deepEqual(draws(a.fork('x'), 20), draws(b.fork('x'), 20), 'parent draws do not matter');
  t.deepEqual(draws(a.fork('x').fork(3), 20), draws(b.fork('x').fork(3), 20), 'fork chains are deterministic');
  t.is(a.fork('x').key, b.fork('x').key);
  t.notDeepEqual(draws(a.fork('x'), 20), draws(a.fork('y'), 20));
  t.notDeepEqual(draws(a.fork(1), 20), draws(a.fork('1'), 20), 'numbers and strings are distinct labels');
  t.notDeepEqual(draws(a.fork('x'), 20), draws(new Rng(124).fork('x'), 20), 'seed matters');
  t.notDeepEqual(draws(a.fork('x'), 20), draws(new Rng(123), 20), 'a fork differs from its parent');
  t.notDeepEqual(draws(a.fork('x').fork('y'), 20), draws(a.fork('y').fork('x'), 20), 'fork order matters');
  t.notDeepEqual(draws(a.fork(''), 20), draws(a, 20));
  t.throws(() => a.fork(NaN), { instanceOf: TegnasError });
  t.throws(() => a.fork({} as unknown as string), { instanceOf: TegnasError });
});

test('forked streams are uncorrelated', (t) => {
  const root = new Rng(99);
  const n = 100_000;
  const names = ['cells.0.edges.1<-0.3.op.1.weight', 'cells.0.edges.1<-0.3.op.1.bias', 'stem.0.weight', 'stem.1.weight'];
  const streams = names.map((name) => draws(root.fork(name), n, (r) => r.uniform() - 0.5));
  for (let i = 0; i < streams.length; i++)
    for (let j = i + 1; j < streams.length; j++) {
      let c = 0;
      for (let k = 0; k < n; k++) c += streams[i][k] * streams[j][k];
      const corr = c / n / (1 / 12);
      t.true(Math.abs(corr) < 0.015, `corr(${names[i]}, ${names[j]}) = ${corr}`); // ~4.7 sigma
    }
  // Adjacent integer labels and adjacent seeds too.
  const x = draws(new Rng(1), n, (r) => r.uniform() - 0.5);
  const y = draws(new Rng(2), n, (r) => r.uniform() - 0.5);
  let c = 0;
  for (let k = 0; k < n; k++) c += x[k] * y[k];
  t.true(Math.abs((c / n) * 12) < 0.015);
});

test('uniform: range and moments on 100k draws', (t) => {
  const r = new Rng(2024);
  const xs = draws(r, 100_000, (x) => x.uniform());
  t.true(xs.every((x) => x >= 0 && x < 1));
  const m = moments(xs);
  t.true(Math.abs(m.mean - 0.5) < 0.005, `mean ${m.mean}`);
  t.true(Math.abs(m.variance - 1 / 12) < 0.002, `variance ${m.variance}`);
  t.true(Math.abs(m.skew) < 0.03, `skew ${m.skew}`);
  // Decile counts.
  const counts = new Array(10).fill(0);
  for (const x of xs) counts[Math.floor(x * 10)]++;
  t.true(chiSquare(counts, 10_000) < 40, `chi2 ${chiSquare(counts, 10_000)}`);
  // Uses more than 32 bits: many values are not multiples of 2^-32.
  t.true(xs.some((x) => x * 2 ** 32 !== Math.floor(x * 2 ** 32)));

  const ys = draws(r, 10_000, (x) => x.uniformRange(-3, 5));
  t.true(ys.every((y) => y >= -3 && y < 5));
  t.true(Math.abs(moments(ys).mean - 1) < 0.1);
  t.throws(() => r.uniformRange(0, Infinity), { instanceOf: TegnasError });
});

test('normal: moments on 100k draws, mean and std arguments', (t) => {
  const r = new Rng(5);
  const xs = draws(r, 100_000, (x) => x.normal());
  t.true(xs.every(Number.isFinite));
  const m = moments(xs);
  t.true(Math.abs(m.mean) < 0.015, `mean ${m.mean}`);
  t.true(Math.abs(m.variance - 1) < 0.025, `variance ${m.variance}`);
  t.true(Math.abs(m.skew) < 0.05, `skew ${m.skew}`);
  t.true(Math.abs(m.kurtosis - 3) < 0.1, `kurtosis ${m.kurtosis}`);
  const within1 = xs.filter((x) => Math.abs(x) < 1).length / xs.length;
  t.true(Math.abs(within1 - 0.6827) < 0.01, `P(|z|<1) = ${within1}`);

  const ys = draws(new Rng(6), 100_000, (x) => x.normal(10, 0.5));
  const my = moments(ys);
  t.true(Math.abs(my.mean - 10) < 0.01);
  t.true(Math.abs(Math.sqrt(my.variance) - 0.5) < 0.01);
  // The cached second value is used: two normals cost four 32-bit outputs.
  const a = new Rng(8);
  a.normal();
  a.normal();
  const b = new Rng(8);
  draws(b, 4);
  t.is(a.nextU32(), b.nextU32());
});

test('int: range and rough unbiasedness', (t) => {
  const r = new Rng(31337);
  for (const n of [1, 2, 3, 7, 10, 1000, 2 ** 31 + 1, 2 ** 32, 2 ** 32 + 3, 2 ** 53]) {
    const xs = draws(r, 2000, (x) => x.int(n));
    t.true(xs.every((x) => Number.isInteger(x) && x >= 0 && x < n), `n = ${n}`);
  }
  for (const n of [3, 10]) {
    const total = 100_000;
    const counts = new Array(n).fill(0);
    for (let i = 0; i < total; i++) counts[r.int(n)]++;
    t.true(chiSquare(counts, total / n) < 40, `n = ${n}: chi2 ${chiSquare(counts, total / n)}`);
  }
  // n = 3 * 2^30: a modulo without rejection would give the low third twice the weight of the rest.
  const n = 3 * 2 ** 30;
  const low = draws(r, 30_000, (x) => x.int(n)).filter((x) => x < 2 ** 30).length / 30_000;
  t.true(Math.abs(low - 1 / 3) < 0.02, `share of the low third ${low}`);
  // Above 2^32: the top half is reached.
  t.true(draws(r, 100, (x) => x.int(2 ** 40)).some((x) => x >= 2 ** 39));
  for (const bad of [0, -1, 1.5, NaN, 2 ** 53 + 2]) t.throws(() => r.int(bad), { instanceOf: TegnasError });
});

test('shuffle: a permutation, deterministic, roughly uniform', (t) => {
  const a = Array.from({ length: 50 }, (_, i) => i);
  const s1 = new Rng(1).shuffle(a.slice());
  const s2 = new Rng(1).shuffle(a.slice());
  t.deepEqual(s1, s2);
  t.deepEqual(s1.slice().sort((x, y) => x - y), a);
  t.notDeepEqual(s1, a);
  const arr = [1, 2];
  t.is(new Rng(1).shuffle(arr), arr, 'in place');
  t.deepEqual(new Rng(1).shuffle([]), []);
  const r = new Rng(2);
  const counts = new Array(4).fill(0);
  for (let i = 0; i < 40_000; i++) counts[r.shuffle([0, 1, 2, 3]).indexOf(0)]++;
  t.true(chiSquare(counts, 10_000) < 30, `chi2 ${chiSquare(counts, 10_000)}`);
});

test('sample: without replacement, input untouched, roughly uniform', (t) => {
  const r = new Rng(77);
  const a = Array.from({ length: 20 }, (_, i) => `x${i}`);
  const frozen = Object.freeze(a.slice());
  for (let k = 0; k <= 20; k++) {
    const s = r.sample(frozen, k);
    t.is(s.length, k);
    t.is(new Set(s).size, k, 'distinct');
    t.true(s.every((x) => frozen.includes(x)));
  }
  t.deepEqual(r.sample(frozen, 20).sort(), a.slice().sort());
  t.deepEqual(new Rng(5).sample(a, 5), new Rng(5).sample(a, 5));
  // Duplicated values in the input are different positions.
  t.deepEqual(new Rng(1).sample([7, 7, 7], 3), [7, 7, 7]);
  const counts = new Array(10).fill(0);
  const items = Array.from({ length: 10 }, (_, i) => i);
  for (let i = 0; i < 20_000; i++) for (const x of r.sample(items, 3)) counts[x]++;
  t.true(chiSquare(counts, 6000) < 40, `chi2 ${chiSquare(counts, 6000)}`);
  for (const bad of [-1, 21, 1.5]) t.throws(() => r.sample(a, bad), { instanceOf: TegnasError });
});
