import test from 'ava';
import { TegnasError } from '../src/errors.js';
import {
  NB201_DEAD_KEY,
  NB201_EDGES,
  NB201_OPS,
  NB201_SIZE,
  type Nb201Op,
  allNb201,
  formatNb201,
  mutateNb201,
  nb201CanonicalKey,
  nb201Code,
  nb201FromCode,
  nb201ReferenceKey,
  parseNb201,
  randomNb201,
} from '../src/spaces/nb201.js';
import { Rng } from '../src/weights/rng.js';

const all = allNb201();
const S = (ops: string) => formatNb201(ops.split(' ') as Nb201Op[]);

/** Edges on a path of non-`none` ops from node 0 to node 3 (computed independently of the key). */
function liveEdges(ops: readonly Nb201Op[]): number[] {
  const fromInput = [true, false, false, false];
  for (let to = 1; to < 4; to++) fromInput[to] = NB201_EDGES.some(([t, f], e) => t === to && ops[e] !== 'none' && fromInput[f]);
  const toOutput = [false, false, false, true];
  for (let n = 2; n >= 0; n--) toOutput[n] = NB201_EDGES.some(([t, f], e) => f === n && ops[e] !== 'none' && toOutput[t]);
  return NB201_EDGES.flatMap(([t, f], e) => (ops[e] !== 'none' && fromInput[f] && toOutput[t] ? [e] : []));
}

/** An independent canonical form: the instance graph, minimised over every naming of its instances. */
function bruteKey(ops: readonly Nb201Op[]): string {
  const inst: { op: string; input: number[] }[] = [];
  const values: number[][] = [[-1]];
  for (let to = 1; to < 4; to++) {
    const v: number[] = [];
    NB201_EDGES.forEach(([t, f], e) => {
      if (t !== to || ops[e] === 'none' || values[f].length === 0) return;
      if (ops[e] === 'skip_connect') v.push(...values[f]);
      else v.push(inst.push({ op: ops[e], input: values[f] }) - 1);
    });
    values.push(v);
  }
  const out = values[3];
  if (!out.length) return 'dead';
  const live = new Set<number>();
  const visit = (i: number) => {
    if (i < 0 || live.has(i)) return;
    live.add(i);
    inst[i].input.forEach(visit);
  };
  out.forEach(visit);
  let best = '';
  const perm = (rest: number[], named: number[]) => {
    if (!rest.length) {
      const nm = (i: number) => (i < 0 ? 'x' : `v${named.indexOf(i)}`);
      const sum = (xs: number[]) => xs.map(nm).sort().join('+');
      const s = `${named.map((i) => `${inst[i].op}(${sum(inst[i].input)})`).join(',')}=>${sum(out)}`;
      if (!best || s < best) best = s;
      return;
    }
    rest.forEach((i, j) => perm([...rest.slice(0, j), ...rest.slice(j + 1)], [...named, i]));
  };
  perm([...live], []);
  return best;
}

test('allNb201: all 15,625 architectures, in code order, each parse/format round trip', (t) => {
  t.is(all.length, NB201_SIZE);
  t.is(new Set(all.map((a) => formatNb201(a))).size, NB201_SIZE);
  t.deepEqual(all[0], Array(6).fill('none'));
  t.deepEqual(all[NB201_SIZE - 1], Array(6).fill('avg_pool_3x3'));
  t.deepEqual(all[1], ['none', 'none', 'none', 'none', 'none', 'skip_connect']);
  t.deepEqual(all[5 ** 5], ['skip_connect', 'none', 'none', 'none', 'none', 'none']);
  let bad = 0;
  for (const [code, ops] of all.entries()) {
    const s = formatNb201(ops);
    if (nb201Code(ops) !== code || nb201Code(s) !== code || nb201FromCode(code).join() !== ops.join() || parseNb201(s).join() !== ops.join()) bad++;
  }
  t.is(bad, 0);
  for (const c of [-1, NB201_SIZE, 1.5, NaN]) t.is((t.throws(() => nb201FromCode(c)) as TegnasError).code, 'E_ARCH');
});

test('randomNb201: valid, reproducible per seed, an independent uniform op per edge', (t) => {
  t.is(randomNb201(new Rng(9)), randomNb201(new Rng(9)));
  t.not(randomNb201(new Rng(9)), randomNb201(new Rng(10)));
  const rng = new Rng(1);
  const n = 50_000;
  const counts = NB201_EDGES.map(() => new Array(5).fill(0));
  const codes = new Set<number>();
  for (let i = 0; i < n; i++) {
    const ops = parseNb201(randomNb201(rng));
    ops.forEach((o, e) => counts[e][NB201_OPS.indexOf(o)]++);
    codes.add(nb201Code(ops));
  }
  // Each count is Binomial(n, 1/5): sd = sqrt(n * 0.16) ~ 89; allow 5 sd.
  for (const row of counts) for (const c of row) t.true(Math.abs(c - n / 5) < 450, `${c}`);
  // 50,000 uniform draws from 15,625 miss about 15,625 * e^-3.2 ~ 638 architectures.
  t.true(codes.size > 14_700 && codes.size < 15_250, `${codes.size}`);
});

test('mutateNb201: exactly one edge changes, to one of the other four ops, uniformly', (t) => {
  const rng = new Rng(2);
  const edgeCounts = new Array(6).fill(0);
  const toCounts = new Map<string, number>();
  const parent = '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|';
  const n = 30_000;
  for (let i = 0; i < n; i++) {
    const p = parseNb201(parent), c = parseNb201(mutateNb201(parent, rng));
    const diff = p.flatMap((o, e) => (o !== c[e] ? [e] : []));
    t.is(diff.length, 1);
    edgeCounts[diff[0]]++;
    const key = `${diff[0]}:${c[diff[0]]}`;
    toCounts.set(key, (toCounts.get(key) ?? 0) + 1);
  }
  for (const c of edgeCounts) t.true(Math.abs(c - n / 6) < 350, `${c}`); // sd ~ 65
  t.is(toCounts.size, 24); // 6 edges x 4 other ops, each about n / 24
  for (const c of toCounts.values()) t.true(Math.abs(c - n / 24) < 180, `${c}`); // sd ~ 35
  // Random parents too.
  for (let i = 0; i < 2000; i++) {
    const a = randomNb201(rng);
    const pa = parseNb201(a), pm = parseNb201(mutateNb201(a, rng));
    if (pa.filter((o, e) => o !== pm[e]).length !== 1) t.fail(a);
  }
  t.is((t.throws(() => mutateNb201('|nor_conv_3x3~0|', rng)) as TegnasError).code, 'E_ARCH');
});

test('canonical key: 5,425 classes over the space (the reference rule: 6,466); dead cells share "#"', (t) => {
  const keys = all.map((a) => nb201CanonicalKey(a));
  t.is(new Set(keys).size, 5425);
  t.is(new Set(all.map((a) => nb201ReferenceKey(a))).size, 6466);
  // Dead exactly when no path of non-none ops joins node 0 to node 3.
  let dead = 0;
  for (const [i, a] of all.entries()) {
    const isDead = liveEdges(a).length === 0;
    if (isDead) dead++;
    if ((keys[i] === NB201_DEAD_KEY) !== isDead) t.fail(formatNb201(a));
  }
  t.is(keys.filter((k) => k === NB201_DEAD_KEY).length, dead);
  t.is(NB201_DEAD_KEY, '#');
  t.is(nb201CanonicalKey(S('none none none none none none')), '#');
  t.is(nb201CanonicalKey(S('nor_conv_3x3 nor_conv_3x3 nor_conv_3x3 none none none')), '#');
  t.is(nb201CanonicalKey(S('none skip_connect avg_pool_3x3 none avg_pool_3x3 none')), '#');
  // The key of an arch string is the key of its op list; the key reads as documented.
  t.true(all.every((a, i) => nb201CanonicalKey(formatNb201(a)) === keys[i]));
  t.is(nb201CanonicalKey(S('nor_conv_3x3 none avg_pool_3x3 skip_connect none skip_connect')), 'a=nor_conv_3x3(0);b=avg_pool_3x3(a);out=0+b');
  t.is(nb201CanonicalKey(S('skip_connect none none none none none')), '#');
  t.is(nb201CanonicalKey(S('none none none skip_connect none none')), 'out=0');
  t.is(nb201CanonicalKey(S('skip_connect none none skip_connect skip_connect none')), 'out=0+0');
});

test('canonical key agrees with an independent brute-force canonical form on every architecture', (t) => {
  const pairs = new Set<string>();
  const keys = new Set<string>();
  const brute = new Set<string>();
  for (const a of all) {
    const k = nb201CanonicalKey(a), b = bruteKey(a);
    keys.add(k);
    brute.add(b);
    pairs.add(`${k}\n${b}`);
  }
  // Same partition: each key is one brute-force class and vice versa.
  t.is(keys.size, brute.size);
  t.is(pairs.size, keys.size);
});

test('architectures sharing a key have the same live ops (so the same parameters and FLOPs)', (t) => {
  const byKey = new Map<string, string>();
  let bad = 0;
  for (const a of all) {
    const k = nb201CanonicalKey(a);
    const live = liveEdges(a).map((e) => a[e]);
    const ops = ['nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'].map((o) => live.filter((x) => x === o).length).join(',');
    const seen = byKey.get(k);
    if (seen === undefined) byKey.set(k, ops);
    else if (seen !== ops) bad++;
  }
  t.is(bad, 0);
});

test('canonical key merges cells that are the same computation', (t) => {
  const k = (s: string) => nb201CanonicalKey(S(s));
  // Sums commute: nodes 1 and 2 swapped (no edge 2<-1).
  t.is(k('nor_conv_3x3 nor_conv_3x3 none none nor_conv_1x1 avg_pool_3x3'), k('nor_conv_3x3 nor_conv_3x3 none none avg_pool_3x3 nor_conv_1x1'));
  t.is(k('nor_conv_1x1 nor_conv_3x3 none none skip_connect skip_connect'), k('nor_conv_3x3 nor_conv_1x1 none none skip_connect skip_connect'));
  // Sums are associative through skips: conv3(x) + pool(x) + conv1(x), grouped differently.
  t.is(k('skip_connect nor_conv_3x3 avg_pool_3x3 none nor_conv_1x1 skip_connect'), k('skip_connect nor_conv_1x1 none nor_conv_3x3 avg_pool_3x3 skip_connect'));
  t.is(k('skip_connect skip_connect none nor_conv_3x3 nor_conv_1x1 avg_pool_3x3'), k('skip_connect nor_conv_1x1 nor_conv_3x3 avg_pool_3x3 none skip_connect'));
  // skip_connect is the identity: conv of node 1 = skip(node 0) is conv of node 0.
  t.is(k('skip_connect none nor_conv_3x3 none none skip_connect'), k('none nor_conv_3x3 none none none skip_connect'));
  t.is(k('skip_connect none nor_conv_3x3 none none skip_connect'), k('none none none nor_conv_3x3 none none'));
  // Dead branches and edges out of zero nodes do not matter.
  t.is(k('nor_conv_3x3 none none skip_connect none none'), k('avg_pool_3x3 nor_conv_1x1 none skip_connect none none'));
  t.is(k('none none nor_conv_3x3 skip_connect nor_conv_1x1 avg_pool_3x3'), k('none none none skip_connect none none'));
  // The reference's rule separates several of these.
  t.not(nb201ReferenceKey(S('none none nor_conv_3x3 skip_connect none avg_pool_3x3')), nb201ReferenceKey(S('none none none skip_connect none none')));
  t.not(
    nb201ReferenceKey(S('skip_connect nor_conv_3x3 avg_pool_3x3 none nor_conv_1x1 skip_connect')),
    nb201ReferenceKey(S('skip_connect nor_conv_1x1 none nor_conv_3x3 avg_pool_3x3 skip_connect')),
  );
});

test('canonical key separates cells that differ', (t) => {
  const k = (s: string) => nb201CanonicalKey(S(s));
  // Two convolutions with their own weights vs one convolution reached twice (the reference merges them).
  const two = 'nor_conv_3x3 nor_conv_3x3 none none skip_connect skip_connect';
  const shared = 'nor_conv_3x3 none skip_connect none skip_connect skip_connect';
  t.is(k(two), 'a=nor_conv_3x3(0);b=nor_conv_3x3(0);out=a+b');
  t.is(k(shared), 'a=nor_conv_3x3(0);out=a+a');
  t.is(nb201ReferenceKey(S(two)), nb201ReferenceKey(S(shared)));
  // a(x) + b(a(x)) (a shared) vs a(x) + b(c(x)).
  t.not(k('nor_conv_3x3 none nor_conv_3x3 none skip_connect skip_connect'), k('nor_conv_3x3 none nor_conv_3x3 nor_conv_3x3 none skip_connect'));
  // x vs 2x; different ops; different depth.
  t.not(k('none none none skip_connect none none'), k('skip_connect none none skip_connect skip_connect none'));
  t.not(k('none none none nor_conv_3x3 none none'), k('none none none nor_conv_1x1 none none'));
  t.not(k('none none none nor_conv_3x3 none none'), k('nor_conv_3x3 none none none nor_conv_3x3 none'));
  // Pools are kept structural: pool(x) on two edges is not merged with pool(x) reached twice.
  t.not(k('avg_pool_3x3 none none avg_pool_3x3 skip_connect none'), k('avg_pool_3x3 none skip_connect none skip_connect skip_connect'));
});

test('canonical key rejects bad architectures with E_ARCH', (t) => {
  for (const bad of ['|nor_conv_3x3~0|', '', '|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|']) {
    const e = t.throws(() => nb201CanonicalKey(bad));
    t.is((e as TegnasError).code, 'E_ARCH', bad);
  }
  t.is((t.throws(() => nb201CanonicalKey(['none'] as Nb201Op[])) as TegnasError).code, 'E_ARCH');
  t.is((t.throws(() => nb201CanonicalKey(['conv', 'none', 'none', 'none', 'none', 'none'] as unknown as Nb201Op[])) as TegnasError).code, 'E_ARCH');
  t.is((t.throws(() => nb201ReferenceKey('x')) as TegnasError).code, 'E_ARCH');
  t.is((t.throws(() => nb201Code('x')) as TegnasError).code, 'E_ARCH');
});
