/**
 * Property-based tests of network plans (docs/plan-format.md) and the native Network constructor:
 * random valid plans build, their node shapes and live parameters agree with an independent
 * computation, and they run; random corruptions of them (any value in any field, missing fields,
 * huge sizes) are either still valid plans that run, or an E_PLAN error naming the problem. The raw
 * addon (no TypeScript in front) must reject the same plans with a plain Error, never crash.
 */
import test from 'ava';
import fc from 'fast-check';
import { NativeNet, rawBinding } from '../../src/native.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { acceptOrReject, anyValue, assertClearError, assertClearMessage, check } from './fuzz.js';
import { buildPlan, numel, planArbitrary, values } from './plans.js';

/** The plan runs: forward and per-sample gradients of every used parameter give finite values of the right size. */
function runs(net: NativeNet, plan: NetworkPlan, batch: number, seed: number): void {
  const [c, h, w] = net.info.nodeShapes[0];
  const out = numel(net.info.nodeShapes[plan.output]);
  const p = values(net.info.totalParams, seed) as Float32Array;
  const x = values(batch * c * h * w, seed + 1, 2) as Float32Array;
  const y = net.forward(p, x, batch);
  if (y.length !== batch * out) throw new Error(`forward gave ${y.length} values, expected ${batch * out}`);
  if (!y.every(Number.isFinite)) throw new Error('forward gave a non-finite value');
  const r = net.perSampleGradients(p, x, batch, net.info.usedParams, 1);
  const P = net.info.usedParams.reduce((a, i) => a + numel(plan.params[i].shape), 0);
  if (r.grads.length !== batch * P || r.logits.length !== batch * out) throw new Error(`gradients ${r.grads.length}, logits ${r.logits.length}`);
  if (!r.grads.every(Number.isFinite)) throw new Error('a non-finite gradient');
}

test('plans: random valid plans build, with the node shapes and live parameters worked out independently, and run', (t) => {
  check(
    t,
    fc.property(planArbitrary, fc.integer({ min: 1, max: 3 }), fc.nat(), ({ plan, shapes, used }, batch, seed) => {
      const net = new NativeNet(plan);
      if (JSON.stringify(net.info.nodeShapes) !== JSON.stringify(shapes)) throw new Error(`node shapes ${JSON.stringify(net.info.nodeShapes)}, expected ${JSON.stringify(shapes)}`);
      if (net.info.usedParams.join() !== used.join()) throw new Error(`used parameters ${net.info.usedParams}, expected ${used}`);
      const total = plan.params.reduce((a, p) => a + numel(p.shape), 0);
      if (net.info.totalParams !== total) throw new Error(`totalParams ${net.info.totalParams}, expected ${total}`);
      runs(net, plan, batch, seed);
    }),
    1,
  );
});

/** Values that break a field: wrong types, edge and huge integers, non-finite numbers. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  anyValue,
  fc.constantFrom(-1, 0, 1, 2, 1.5, -0, NaN, Infinity, -Infinity, 2 ** 31 - 1, 2 ** 31, 2 ** 30, 2 ** 24, 1e9, -(2 ** 31), 2 ** 53, '1', null, undefined, [], [1], [1, 2], [1, 2, 3], [0, 0, 0], [-1, 2, 2]),
  fc.integer({ min: -5, max: 40 }),
  fc.array(fc.integer({ min: -2, max: 2 ** 31 - 1 }), { maxLength: 5 }),
  fc.constantFrom('input', 'conv2d', 'batchnorm', 'relu', 'avgpool', 'maxpool', 'global_avgpool', 'linear', 'add', 'concat', 'zero', 'shift', 'softmax', ''),
);

const FIELDS = ['op', 'input', 'inputs', 'weight', 'bias', 'stride', 'padding', 'dilation', 'groups', 'eps', 'kernel', 'channels'];

/** A copy of the plan's own structure (top object, input, params and shapes, nodes and inputs); field values are shared. */
function clone(plan: unknown): unknown {
  const plain = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
  if (!plain(plan)) return plan;
  const p: Record<string, unknown> = { ...plan };
  if (Array.isArray(p.input)) p.input = [...p.input];
  if (Array.isArray(p.params)) p.params = p.params.map((q: unknown) => (plain(q) ? { ...q, ...(Array.isArray(q.shape) ? { shape: [...q.shape] } : {}) } : q));
  if (Array.isArray(p.nodes)) p.nodes = p.nodes.map((n: unknown) => (plain(n) ? { ...n, ...(Array.isArray(n.inputs) ? { inputs: [...n.inputs] } : {}) } : n));
  return p;
}

/** One edit of a plan: a top-level field, a node field, a parameter's shape or name, set to `v` or deleted. */
function corrupt(plan: NetworkPlan, where: number, which: number, v: unknown, del: boolean): NetworkPlan {
  const p = clone(plan) as unknown as Record<string, unknown> & { nodes: Record<string, unknown>[]; params: Record<string, unknown>[]; input: unknown[] };
  const set = (o: Record<string, unknown> | unknown[], k: string | number) => {
    try {
      if (del) delete (o as Record<string, unknown>)[k];
      else (o as Record<string, unknown>)[k] = v;
    } catch {
      // a frozen or exotic value put there by an earlier edit: leave it
    }
  };
  const obj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object';
  const nodes = Array.isArray(p.nodes) ? p.nodes : [];
  const params = Array.isArray(p.params) ? p.params : [];
  switch (where % 8) {
    case 0:
      set(p, ['version', 'input', 'params', 'nodes', 'output'][which % 5]);
      break;
    case 1:
      if (obj(p.input)) set(p.input, which % 3);
      break;
    case 2:
    case 3:
    case 4: {
      const n = nodes[which % Math.max(1, nodes.length)];
      if (obj(n)) set(n, FIELDS[(which >> 4) % FIELDS.length]);
      break;
    }
    case 5: {
      const q = params[which % Math.max(1, params.length)];
      if (obj(q)) set(q, (which >> 4) % 2 ? 'shape' : 'name');
      break;
    }
    case 6: {
      const q = params[which % Math.max(1, params.length)];
      if (obj(q) && Array.isArray(q.shape)) set(q.shape, (which >> 4) % (q.shape.length + 1));
      break;
    }
    case 7:
      if (nodes.length) nodes.splice(which % nodes.length, 1, v as Record<string, unknown>);
      break;
  }
  return p as unknown as NetworkPlan;
}

const corrupted = fc
  .tuple(planArbitrary, fc.array(fc.tuple(fc.nat(), fc.nat(), hostile, fc.boolean()), { minLength: 1, maxLength: 3 }))
  .map(([b, edits]) => edits.reduce((p, [where, which, v, del]) => corrupt(p, where, which, v, del), b.plan));

/** Small enough to run on this machine in a fuzz case. */
function small(net: NativeNet): boolean {
  return net.info.totalParams <= 2e5 && net.info.nodeShapes.reduce((a, s) => a + numel(s), 0) <= 2e5;
}

test('plans: corrupted plans are valid plans that run, or an E_PLAN error naming the problem', (t) => {
  let ran = 0, rejected = 0;
  check(
    t,
    fc.property(corrupted, fc.nat(), (plan, seed) => {
      const r = acceptOrReject(() => new NativeNet(plan), ['E_PLAN']);
      if (!r.ok) rejected++;
      if (r.ok && small(r.value)) {
        runs(r.value, plan, 1 + (seed % 2), seed);
        ran++;
      }
    }),
  );
  t.log(`${rejected} rejected, ${ran} still valid and run`);
});

test('plans: the raw addon rejects corrupted plans with a clear Error (its own re-checks, no TypeScript in front)', (t) => {
  const raw = rawBinding();
  check(
    t,
    fc.property(fc.oneof(corrupted, anyValue as fc.Arbitrary<NetworkPlan>), (plan) => {
      try {
        new raw.Network(plan);
      } catch (e) {
        if (!(e instanceof Error)) throw new Error(`the addon threw a non-Error: ${String(e)}`);
        assertClearMessage(e.message);
      }
    }),
  );
});

test('plans: huge sizes anywhere are refused or accepted without allocating, never overflow', (t) => {
  const huge = fc.constantFrom(2 ** 31 - 1, 2 ** 30, 2 ** 24 + 1, 2 ** 21, 65537, 46341, 2 ** 16);
  check(
    t,
    fc.property(planArbitrary, fc.array(fc.tuple(fc.nat(), fc.nat(), huge), { minLength: 1, maxLength: 3 }), (b, edits) => {
      const plan = edits.reduce((p, [where, which, v]) => corrupt(p, [1, 2, 6][where % 3], which, v, false), b.plan);
      const r = acceptOrReject(() => new NativeNet(plan), ['E_PLAN']);
      if (r.ok) {
        const net = r.value;
        for (const s of net.info.nodeShapes) if (!s.every((d) => Number.isInteger(d) && d >= 1 && d < 2 ** 31)) throw new Error(`node shape ${s}`);
        if (!Number.isSafeInteger(net.info.totalParams)) throw new Error(`totalParams ${net.info.totalParams}`);
        if (small(net)) runs(net, plan, 1, 1);
      }
    }),
  );
});

test('plan regressions: sizes whose products overflow 32 or 64 bits are refused', (t) => {
  const base = (): NetworkPlan => ({ version: 1, input: [1, 4, 4], params: [], nodes: [{ op: 'input' }, { op: 'relu', input: 0 }], output: 1 });
  const cases: [string, (p: NetworkPlan) => void, RegExp][] = [
    // 2^21 * 2^21 * 2^22 = 2^64: wrapped to 0 values per sample in 64-bit arithmetic
    ['input 2^21 x 2^21 x 2^22', (p) => (p.input = [2 ** 21, 2 ** 21, 2 ** 22]), /input.*too large|exceeds/],
    ['parameter of 2^64 values', (p) => p.params.push({ name: 'w', shape: [2 ** 16, 2 ** 16, 2 ** 16, 2 ** 16], kind: 'linear-weight' }), /'w'.*(too large|exceeds)/],
    ['zero of 2^31 - 1 channels on 2 x 2', (p) => p.nodes.push({ op: 'zero', input: 0, channels: 2 ** 31 - 1, stride: 1 }), /node 2 \(zero\).*(too large|exceeds)/],
    ['pool padding 2^30', (p) => p.nodes.push({ op: 'avgpool', input: 0, kernel: 2 ** 31 - 1, stride: 1, padding: 2 ** 30 }), /node 2 \(avgpool\)/],
    ['conv dilation 2^30', (p) => { p.params.push({ name: 'w', shape: [1, 1, 3, 3], kind: 'conv-weight' }); p.nodes.push({ op: 'conv2d', input: 0, weight: 0, dilation: 2 ** 30, padding: 2 ** 30 }); }, /node 2 \(conv2d\)/],
    ['concat channel sum past 2^31', (p) => { p.nodes.push({ op: 'zero', input: 0, channels: 2 ** 27, stride: 4 }); p.nodes.push({ op: 'concat', inputs: new Array(20).fill(2) }); }, /node 3 \(concat\).*(too large|exceeds)/],
    ['eps Infinity', (p) => { p.params.push({ name: 'g', shape: [1], kind: 'bn-weight' }, { name: 'b', shape: [1], kind: 'bn-bias' }); p.nodes.push({ op: 'batchnorm', input: 0, weight: 0, bias: 1, eps: Infinity }); }, /eps must be a finite number > 0, got Infinity/],
  ];
  for (const [name, edit, pattern] of cases) {
    const p = base();
    edit(p);
    const e = t.throws(() => new NativeNet(p), undefined, name);
    assertClearError(e, ['E_PLAN']);
    t.regex((e as Error).message, pattern, name);
  }
  t.notThrows(() => new NativeNet(buildPlan([1, 2, 2], [{ op: 10, a: 0, b: 3, c: 0, d: 0 }], 0).plan));
});

test('plan regressions: a plan whose getter throws, or a Proxy, is an error and not a crash', (t) => {
  const raw = rawBinding();
  const plan = { version: 1, input: [1, 2, 2], params: [], nodes: [{ op: 'input' }], output: 0 };
  const throwing = { ...plan, get nodes(): unknown { throw new Error('boom'); } };
  t.throws(() => new raw.Network(throwing as unknown as NetworkPlan), { message: 'boom' });
  t.throws(() => new NativeNet(throwing as unknown as NetworkPlan), { message: /boom/ });
  const proxy = new Proxy(plan, { get: (o, k) => (k === 'output' ? 'zero' : (o as Record<string | symbol, unknown>)[k]) });
  assertClearError(t.throws(() => new NativeNet(proxy as unknown as NetworkPlan)), ['E_PLAN'], ['output']);
});
