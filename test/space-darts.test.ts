import test from 'ava';
import { TegnasError } from '../src/errors.js';
import {
  DARTS_GENOTYPE_OPS,
  DARTS_STEPS,
  type DartsPair,
  type Genotype,
  formatGenotype,
  genotypeKey,
  mutateGenotype,
  parseGenotype,
  randomGenotype,
  validateGenotype,
} from '../src/spaces/darts.js';
import { Rng } from '../src/weights/rng.js';

// DARTS_V2 and DARTS_V1 as printed by the DARTS code (genotypes.py).
const V2 =
  "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";
const V1 =
  "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])";

const opsNoNone: readonly string[] = DARTS_GENOTYPE_OPS;
const pairs = (g: Genotype): DartsPair[] => [...g.normal, ...g.reduce];

function isValidDraw(g: Genotype): boolean {
  for (const cell of [g.normal, g.reduce]) {
    if (cell.length !== 2 * DARTS_STEPS) return false;
    for (let k = 0; k < DARTS_STEPS; k++) {
      const [a, b] = [cell[2 * k], cell[2 * k + 1]];
      if (a[1] === b[1] || a[1] > k + 1 || b[1] > k + 1 || a[1] < 0 || b[1] < 0) return false;
      if (!opsNoNone.includes(a[0]) || !opsNoNone.includes(b[0])) return false;
    }
  }
  return g.normalConcat.join() === '2,3,4,5' && g.reduceConcat.join() === '2,3,4,5';
}

test('DARTS_V2 and DARTS_V1 round-trip through parse and format', (t) => {
  for (const text of [V2, V1]) {
    const g = parseGenotype(text);
    t.is(formatGenotype(g), text);
    t.deepEqual(parseGenotype(formatGenotype(g)), g);
  }
  const g = parseGenotype(V2);
  t.deepEqual(g.normal[7], ['dil_conv_3x3', 2]);
  t.deepEqual(g.reduceConcat, [2, 3, 4, 5]);
  // The DARTS code's range(2, 6) concat and free spacing parse to the same genotype.
  t.deepEqual(parseGenotype(V2.replace(/normal_concat=\[2, 3, 4, 5\]/, 'normal_concat=range(2, 6)').replace(/, /g, ',  ')), g);
});

test('random genotypes: valid, no none, distinct inputs, round trip, reproducible', (t) => {
  const rng = new Rng(1);
  for (let i = 0; i < 500; i++) {
    const g = randomGenotype(rng);
    if (!isValidDraw(g)) t.fail(formatGenotype(g));
    t.notThrows(() => validateGenotype(g));
    const text = formatGenotype(g);
    t.is(formatGenotype(parseGenotype(text)), text);
    t.deepEqual(parseGenotype(text), g);
  }
  t.deepEqual(randomGenotype(new Rng(7)), randomGenotype(new Rng(7)));
  t.notDeepEqual(randomGenotype(new Rng(7)), randomGenotype(new Rng(8)));
});

test('random genotypes are drawn as the reference draws them: uniform input pairs in random order, uniform ops', (t) => {
  const rng = new Rng(11);
  const n = 20_000;
  const orderedNode3 = new Map<string, number>(); // node 3 reads 2 of states 0..4: 20 ordered pairs
  const ops = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const g = randomGenotype(rng);
    const key = `${g.reduce[6][1]},${g.reduce[7][1]}`;
    orderedNode3.set(key, (orderedNode3.get(key) ?? 0) + 1);
    for (const [o] of pairs(g)) ops.set(o, (ops.get(o) ?? 0) + 1);
  }
  t.is(orderedNode3.size, 20);
  for (const c of orderedNode3.values()) t.true(Math.abs(c - n / 20) < 160, `${c}`); // sd ~ 31
  t.deepEqual([...ops.keys()].sort(), [...DARTS_GENOTYPE_OPS].sort());
  for (const c of ops.values()) t.true(Math.abs(c - (16 * n) / 7) < 1000, `${c}`); // sd ~ 200
});

test('a mutation changes exactly one thing: one input (kept distinct) or one op, in either cell, half the time each', (t) => {
  const rng = new Rng(5);
  const n = 20_000;
  let rewires = 0, opChanges = 0, normal = 0;
  const slots = new Set<string>();
  for (let i = 0; i < n; i++) {
    const g = i % 2 ? randomGenotype(rng) : parseGenotype(V2);
    const before = formatGenotype(g);
    const m = mutateGenotype(g, rng);
    t.is(formatGenotype(g), before); // the parent is untouched
    if (!isValidDraw(m)) t.fail(formatGenotype(m));
    t.notThrows(() => validateGenotype(m));
    const diff = pairs(g).flatMap((p, j) => {
      const q = pairs(m)[j];
      return p[0] !== q[0] || p[1] !== q[1] ? [{ j, op: p[0] !== q[0], input: p[1] !== q[1] }] : [];
    });
    if (diff.length !== 1 || diff[0].op === diff[0].input) {
      t.fail(`${before} -> ${formatGenotype(m)}`);
      continue;
    }
    if (diff[0].input) rewires++;
    else opChanges++;
    if (diff[0].j < 2 * DARTS_STEPS) normal++;
    slots.add(`${diff[0].j}:${diff[0].input ? 'input' : 'op'}`);
    t.false(pairs(m).some(([o]) => o === 'none'));
  }
  t.true(Math.abs(rewires - n / 2) < 400, `${rewires}`); // sd ~ 71
  t.true(Math.abs(normal - n / 2) < 400, `${normal}`);
  t.is(rewires + opChanges, n);
  // Every pair's op can change; every input except node 0's (which must read states 0 and 1) can move.
  t.is(slots.size, 16 + 12);
});

test('genotypeKey: independent of the order of a node\'s two inputs, distinct otherwise', (t) => {
  const g = parseGenotype(V2);
  const swapped: Genotype = { ...g, normal: g.normal.map((p) => [...p] as DartsPair), reduce: g.reduce.map((p) => [...p] as DartsPair) };
  [swapped.normal[0], swapped.normal[1]] = [swapped.normal[1], swapped.normal[0]];
  [swapped.reduce[6], swapped.reduce[7]] = [swapped.reduce[7], swapped.reduce[6]];
  t.not(formatGenotype(swapped), formatGenotype(g));
  t.is(genotypeKey(swapped), genotypeKey(g));
  t.is(genotypeKey(g), V2.replace("('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat", "('max_pool_3x3', 1), ('skip_connect', 2)], reduce_concat").replace("('sep_conv_3x3', 1), ('skip_connect', 0)", "('skip_connect', 0), ('sep_conv_3x3', 1)").replace("('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2)", "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('skip_connect', 2)"));
  t.deepEqual(parseGenotype(genotypeKey(g)), parseGenotype(genotypeKey(swapped)));
  t.not(genotypeKey(parseGenotype(V1)), genotypeKey(g));
  // Random genotypes: key(g) = key(g with every node's inputs swapped); mutants differ in key.
  const rng = new Rng(3);
  for (let i = 0; i < 300; i++) {
    const r = randomGenotype(rng);
    const flip = (c: DartsPair[]) => c.map((_, j) => [...c[j ^ 1]] as DartsPair);
    t.is(genotypeKey({ ...r, normal: flip(r.normal), reduce: flip(r.reduce) }), genotypeKey(r));
    t.not(genotypeKey(mutateGenotype(r, rng)), genotypeKey(r));
  }
});

test('malformed genotypes are rejected with E_ARCH and a message naming the problem', (t) => {
  const bad: [string, RegExp][] = [
    [V2.replace("('sep_conv_3x3', 0)", "('conv_9x9', 0)"), /normal\[0\]: unknown op "conv_9x9"; expected one of none, skip_connect/],
    [V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 7)"), /normal\[7\]: node 3 may read states 0\.\.4, got 7/],
    [V2.replace("('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2)", "('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 3)"), /reduce\[2\]: node 1 may read states 0\.\.2, got 3/],
    [V2.replace("('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", "('sep_conv_3x3', 0), ('sep_conv_3x3', 0)"), /normal node 0 reads state 0 twice; its two inputs must differ/],
    [V2.replace(", ('dil_conv_3x3', 2)]", ']'), /normal must list 8 \(op, input\) pairs, got 7/],
    [V2.replace("('max_pool_3x3', 1)], reduce_concat", "('max_pool_3x3', 1), ('none', 0)], reduce_concat"), /reduce must list 8 \(op, input\) pairs, got 9/],
    [V2.replace('normal_concat=[2, 3, 4, 5]', 'normal_concat=[2, 3]'), /normal_concat must be \[2, 3, 4, 5\], got \[2,3\]/],
    [V2.replace(/, reduce=\[.*\], reduce_concat/, ', reduce_concat'), /missing reduce=/],
    [V2.replace("('sep_conv_3x3', 0)", "(sep_conv_3x3, 0)"), /cannot read a \('op', input\) pair/],
    [V2.slice(0, -1), /missing Genotype\( \.\.\. \)/],
    ['Genotype(normal=[]', /missing Genotype/],
    ['hello', /missing Genotype/],
    [`${V2.slice(0, -1)}, normal=[])`, /field normal appears twice/],
    ['Genotype(normal=[], bogus=1)', /cannot read the text at/],
  ];
  for (const [text, pattern] of bad) {
    const e = t.throws(() => parseGenotype(text), { instanceOf: TegnasError, message: pattern }, text);
    t.is((e as TegnasError).code, 'E_ARCH');
  }
  t.is((t.throws(() => parseGenotype(42 as unknown as string)) as TegnasError).code, 'E_ARCH');
  // Objects: mutateGenotype, genotypeKey and formatGenotype validate too.
  const g = parseGenotype(V2);
  const dup: Genotype = { ...g, reduce: g.reduce.map((p, j) => (j === 7 ? ['max_pool_3x3', 2] : p) as DartsPair) };
  for (const f of [() => mutateGenotype(dup, new Rng(0)), () => genotypeKey(dup), () => formatGenotype(dup)])
    t.throws(f, { instanceOf: TegnasError, message: /reduce node 3 reads state 2 twice/ });
  t.throws(() => validateGenotype(null as unknown as Genotype), { instanceOf: TegnasError, message: /expected an object/ });
});
