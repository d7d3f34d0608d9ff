import test from 'ava';
import { TegnasError } from '../src/errors.js';
import type { ParamSpec } from '../src/plan/types.js';
import { INIT_NAMES, type InitName, fanIn, fanOut, initParams, isInitName } from '../src/weights/init.js';

const conv = (name: string, shape: number[]): ParamSpec => ({ name, shape, kind: 'conv-weight' });
const specs: ParamSpec[] = [
  conv('stem.0.weight', [16, 3, 3, 3]),
  { name: 'stem.1.weight', shape: [16], kind: 'bn-weight' },
  { name: 'stem.1.bias', shape: [16], kind: 'bn-bias' },
  conv('cells.0.edges.1<-0.3.op.1.weight', [16, 16, 3, 3]),
  conv('cells.0.dw.weight', [8, 1, 3, 3]),
  { name: 'classifier.weight', shape: [10, 64], kind: 'linear-weight' },
  { name: 'classifier.bias', shape: [10], kind: 'linear-bias' },
];

function stats(v: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let s2 = 0;
  let maxAbs = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), maxAbs };
}

function errorOf(t: import('ava').ExecutionContext, f: () => unknown, code: string, pattern: RegExp): void {
  const err = t.throws(f, { instanceOf: TegnasError });
  t.is(err?.code, code, err?.message);
  t.regex(err!.message, pattern);
}

test('names and fans', (t) => {
  t.deepEqual([...INIT_NAMES], ['torch-default', 'kaiming-fanin', 'kaiming-fanout']);
  t.true(isInitName('kaiming-fanout'));
  t.false(isInitName('kaiming'));
  t.false(isInitName(3));
  t.is(fanIn([16, 8, 3, 3]), 72);
  t.is(fanOut([16, 8, 3, 3]), 144);
  t.is(fanIn([8, 1, 3, 3]), 9, 'depthwise');
  t.is(fanOut([8, 1, 3, 3]), 72);
  t.is(fanIn([10, 64]), 64);
  t.is(fanOut([10, 64]), 10);
  t.throws(() => fanIn([5]), { instanceOf: TegnasError });
});

test('one Float32Array per spec, in order, with the right sizes', (t) => {
  for (const init of INIT_NAMES) {
    const vs = initParams(specs, init, 0);
    t.is(vs.length, specs.length);
    vs.forEach((v, i) => {
      t.true(v instanceof Float32Array);
      t.is(v.length, specs[i].shape.reduce((a, b) => a * b, 1), `${init} ${specs[i].name}`);
      t.true(v.every(Number.isFinite));
    });
    t.true(vs[1].every((x) => x === 1), 'bn weight 1');
    t.true(vs[2].every((x) => x === 0), 'bn bias 0');
  }
  t.deepEqual(initParams([], 'torch-default', 1), []);
});

test('torch-default: uniform within +-1/sqrt(fan_in), bias from its weight', (t) => {
  const vs = initParams(specs, 'torch-default', 3);
  const check = (v: Float32Array, fan: number, what: string) => {
    const bound = 1 / Math.sqrt(fan);
    const s = stats(v);
    t.true(s.maxAbs <= Math.fround(bound), `${what}: max ${s.maxAbs} > ${bound}`);
    if (v.length >= 100) {
      t.true(s.maxAbs > 0.95 * bound, `${what}: max ${s.maxAbs} should approach ${bound}`);
      t.true(Math.abs(s.std - bound / Math.sqrt(3)) < 0.1 * (bound / Math.sqrt(3)), `${what}: std ${s.std}`);
      t.true(Math.abs(s.mean) < 0.1 * bound, `${what}: mean ${s.mean}`);
    }
  };
  check(vs[0], 27, 'stem conv');
  check(vs[3], 144, 'cell conv');
  check(vs[4], 9, 'depthwise conv');
  check(vs[5], 64, 'classifier weight');
  check(vs[6], 64, 'classifier bias');
  t.true(vs[6].some((x) => x !== 0), 'bias is drawn, not zero');

  const big = initParams([conv('big.weight', [256, 128, 3, 3])], 'torch-default', 1)[0];
  const bound = 1 / Math.sqrt(128 * 9);
  const s = stats(big);
  t.true(s.maxAbs <= Math.fround(bound));
  t.true(Math.abs(s.std / (bound / Math.sqrt(3)) - 1) < 0.01, `std ${s.std}`);
});

test('kaiming: normal with std sqrt(2 / fan) within 3%, biases zero', (t) => {
  const shape = [256, 128, 3, 3];
  for (const [init, fan] of [
    ['kaiming-fanin', 128 * 9],
    ['kaiming-fanout', 256 * 9],
  ] as const) {
    const v = initParams([conv('big.weight', shape)], init, 11)[0];
    const s = stats(v);
    const std = Math.sqrt(2 / fan);
    t.true(Math.abs(s.std / std - 1) < 0.03, `${init}: std ${s.std} vs ${std}`);
    t.true(Math.abs(s.mean) < 0.01 * std, `${init}: mean ${s.mean}`);
    t.true(s.maxAbs > 3.5 * std, `${init}: normal tails, max ${s.maxAbs}`);

    const vs = initParams(specs, init, 11);
    t.true(vs[6].every((x) => x === 0), `${init}: linear bias 0`);
    const lin = stats(vs[5]);
    const linStd = Math.sqrt(2 / (init === 'kaiming-fanin' ? 64 : 10));
    t.true(Math.abs(lin.std / linStd - 1) < 0.15, `${init}: linear std ${lin.std} vs ${linStd}`);
  }
  const dw = initParams([conv('dw.weight', [512, 1, 3, 3])], 'kaiming-fanin', 2)[0];
  t.true(Math.abs(stats(dw).std / Math.sqrt(2 / 9) - 1) < 0.05, 'depthwise fan_in k*k');
});

test('values depend only on (seed, init, name, shape)', (t) => {
  for (const init of INIT_NAMES) {
    const all = initParams(specs, init, 42);
    specs.forEach((spec, i) => {
      const needsWeight = spec.kind === 'linear-bias';
      const alone = needsWeight ? initParams([specs[5], spec], init, 42)[1] : initParams([spec], init, 42)[0];
      t.deepEqual(alone, all[i], `${init} ${spec.name} alone`);
    });
    const reversed = initParams([...specs].reverse(), init, 42).reverse();
    t.deepEqual(reversed, all, `${init}: order does not matter`);
    const extra = initParams([conv('other.weight', [4, 4, 1, 1]), ...specs], init, 42).slice(1);
    t.deepEqual(extra, all, `${init}: extra parameters do not matter`);
  }
  const a = initParams(specs, 'torch-default', 42);
  t.deepEqual(initParams(specs, 'torch-default', 42n), a, 'number and bigint seeds agree');
  t.notDeepEqual(initParams(specs, 'torch-default', 43)[0], a[0], 'seed matters');
  const renamed = initParams([{ ...specs[0], name: 'stem.0.weight2' }], 'torch-default', 42)[0];
  t.notDeepEqual(renamed, a[0], 'name matters');
  // Two parameters of the same shape under different names are not copies of each other.
  const twins = initParams([conv('a.weight', [4, 4, 3, 3]), conv('b.weight', [4, 4, 3, 3])], 'kaiming-fanin', 0);
  t.notDeepEqual(twins[0], twins[1]);
});

test('errors', (t) => {
  const one = [specs[0]];
  errorOf(t, () => initParams(one, 'kaiming' as InitName, 0), 'E_INPUT', /unknown init "kaiming"; expected one of torch-default, kaiming-fanin, kaiming-fanout/);
  for (const seed of [NaN, Infinity, 1.5, '1' as unknown as number])
    errorOf(t, () => initParams(one, 'torch-default', seed), 'E_INPUT', /seed must be a finite integer/);
  const bad = (shape: unknown, kind = 'conv-weight') => [{ name: 'p.weight', shape, kind } as ParamSpec];
  errorOf(t, () => initParams(bad([]), 'torch-default', 0), 'E_SHAPE', /parameter 0 \("p.weight"\): invalid shape \[\]/);
  errorOf(t, () => initParams(bad([4, 0, 3, 3]), 'torch-default', 0), 'E_SHAPE', /invalid shape \[4,0,3,3\]; dims must be positive integers/);
  errorOf(t, () => initParams(bad([4, -1, 3, 3]), 'torch-default', 0), 'E_SHAPE', /invalid shape/);
  errorOf(t, () => initParams(bad([4, 2.5, 3, 3]), 'torch-default', 0), 'E_SHAPE', /invalid shape/);
  errorOf(t, () => initParams(bad('4x4'), 'torch-default', 0), 'E_SHAPE', /invalid shape/);
  errorOf(t, () => initParams(bad([4, 4]), 'torch-default', 0), 'E_SHAPE', /a conv-weight needs at least 3 dims/);
  errorOf(t, () => initParams(bad([4, 4, 4], 'linear-weight'), 'torch-default', 0), 'E_SHAPE', /a linear-weight needs 2 dims/);
  errorOf(t, () => initParams(bad([4, 4], 'bn-weight'), 'torch-default', 0), 'E_SHAPE', /a bn-weight needs 1 dim, got shape \[4, 4\]/);
  errorOf(t, () => initParams(bad([4], 'conv-bias'), 'torch-default', 0), 'E_PLAN', /unknown kind "conv-bias"/);
  errorOf(t, () => initParams([{ name: '', shape: [1], kind: 'bn-bias' }], 'torch-default', 0), 'E_PLAN', /non-empty name/);
  errorOf(t, () => initParams([specs[0], specs[0]], 'torch-default', 0), 'E_PLAN', /"stem.0.weight" appears twice/);
  errorOf(t, () => initParams([specs[6]], 'torch-default', 0), 'E_PLAN', /linear bias "classifier.bias": torch-default needs the fan_in of its linear weight "classifier.weight"/);
  errorOf(t, () => initParams([conv('classifier.weight', [10, 64, 1, 1]), specs[6]], 'torch-default', 0), 'E_PLAN', /not among the parameters/);
  errorOf(t, () => initParams([{ ...specs[6], name: 'classifier.b' }], 'torch-default', 0), 'E_PLAN', /must end in '.bias'/);
  errorOf(t, () => initParams([specs[5], { ...specs[6], shape: [11] }], 'torch-default', 0), 'E_SHAPE', /has 11 values but its weight "classifier.weight" has 10 outputs/);
  // Kaiming gives a linear bias 0 and does not need its weight.
  t.deepEqual(initParams([specs[6]], 'kaiming-fanin', 0), [new Float32Array(10)]);
});
