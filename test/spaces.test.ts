import test from 'ava';
import { TegnasError } from '../src/errors.js';
import { DARTS_OPS, formatGenotype, genotypeKey, mutateGenotype, parseGenotype, randomGenotype } from '../src/spaces/darts.js';
import { allNb201, formatNb201, mutateNb201, nb201CanonicalKey, nb201ReferenceKey, parseNb201, randomNb201 } from '../src/spaces/nb201.js';
import { Rng } from '../src/weights/rng.js';

const V2 = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

test('NAS-Bench-201: 15,625 architectures; canonical keys give 5,425 classes, the reference rule 6,466', (t) => {
  const all = allNb201();
  t.is(all.length, 15625);
  t.is(new Set(all.map((a) => formatNb201(a))).size, 15625);
  t.is(new Set(all.map((a) => nb201CanonicalKey(a))).size, 5425);
  t.is(new Set(all.map((a) => nb201ReferenceKey(a))).size, 6466);
});

test('canonical keys merge what computes the same and nothing else', (t) => {
  const k = nb201CanonicalKey;
  // The sum is commutative: swapping the ops into node 3 from nodes 1 and 2 when both hold the same value.
  t.is(k('|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|'), k('|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|'));
  // Dead branches do not matter.
  t.is(k('|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|'), k('|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|'));
  // Every dead cell shares one key.
  t.is(k('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'), '#');
  t.is(k('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|'), '#');
  // Different functions differ.
  t.not(k('|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|'), k('|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|'));
});

test('random and mutated NAS-Bench-201 architectures are valid; a mutation changes exactly one edge', (t) => {
  const rng = new Rng(3);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const a = randomNb201(rng);
    seen.add(a);
    const m = mutateNb201(a, rng);
    const pa = parseNb201(a), pm = parseNb201(m);
    t.is(pa.filter((o, e) => o !== pm[e]).length, 1);
  }
  t.true(seen.size > 290);
  t.deepEqual(randomNb201(new Rng(9)), randomNb201(new Rng(9)));
});

test('DARTS genotypes round-trip, random ones are valid, a mutation changes one thing', (t) => {
  t.is(formatGenotype(parseGenotype(V2)), V2);
  const rng = new Rng(1);
  for (let i = 0; i < 200; i++) {
    const g = randomGenotype(rng);
    t.is(formatGenotype(parseGenotype(formatGenotype(g))), formatGenotype(g));
    t.false([...g.normal, ...g.reduce].some(([o]) => o === 'none'));
    const m = mutateGenotype(g, rng);
    const diff = [...g.normal, ...g.reduce].filter((p, j) => {
      const q = [...m.normal, ...m.reduce][j];
      return p[0] !== q[0] || p[1] !== q[1];
    });
    t.is(diff.length, 1);
  }
  t.true(DARTS_OPS.length === 8);
});

test('genotype keys ignore the order of a node\'s two inputs', (t) => {
  const g = parseGenotype(V2);
  const swapped = { ...g, normal: g.normal.map((p) => [...p] as [typeof p[0], number]) };
  [swapped.normal[0], swapped.normal[1]] = [swapped.normal[1], swapped.normal[0]];
  t.is(genotypeKey(swapped), genotypeKey(g));
});

test('malformed genotypes and arch strings are clear errors', (t) => {
  const bad: [string, RegExp][] = [
    [V2.replace("'sep_conv_3x3', 0", "'conv_9x9', 0"), /unknown op "conv_9x9"/],
    [V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 7)"), /may read states 0\.\.4, got 7/],
    [V2.replace("('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", "('sep_conv_3x3', 0), ('sep_conv_3x3', 0)"), /reads state 0 twice/],
    ['Genotype(normal=[]', /missing Genotype|cannot read/],
    ['hello', /missing Genotype/],
  ];
  for (const [text, pattern] of bad) {
    const e = t.throws(() => parseGenotype(text));
    t.true(e instanceof TegnasError);
    t.regex(e!.message, pattern);
  }
  t.throws(() => parseNb201('|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|'), { message: /must read input 0/ });
});
