/**
 * Property-based tests of the native entry points (src/native.ts): forward, backward, perSampleGradients
 * (sync and async), ntkIndicators (sync and async), linearRegions, naswot, patternStats,
 * symmetricEigenvalues and solveLinear, called with valid arguments and with one or two arguments
 * broken (wrong length or type, NaN, Infinity, empty, huge or fractional sizes, bad indices and labels).
 * Through NativeNet every rejection is a clear TegnasError; through the raw addon (no TypeScript checks)
 * every rejection is a clear Error. Nothing crashes, and valid calls give finite values of the right size.
 */
import test from 'ava';
import fc from 'fast-check';
import { NativeNet, patternStats, rawBinding, solveLinear, symmetricEigenvalues } from '../../src/native.js';
import { Network } from '../../src/network.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { assertClearError, assertClearMessage, check, checkAsync } from './fuzz.js';
import { type BuiltPlan, numel, planArbitrary, values } from './plans.js';

const ARCH = '|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|';
const nb201 = Network.nb201(ARCH, { C: 2, N: 1, classes: 3, inputSize: [4, 4] });
const NB201: BuiltPlan = { plan: nb201.plan, shapes: nb201.info.nodeShapes, used: nb201.info.usedParams };

const ENTRY = ['forward', 'backward', 'perSampleGradients', 'perSampleGradientsAsync', 'ntkIndicators', 'ntkIndicatorsAsync', 'linearRegions', 'naswot'] as const;
type Entry = (typeof ENTRY)[number];

/** How one argument is broken. */
type Break =
  | { kind: 'length'; delta: number }
  | { kind: 'type'; as: number }
  | { kind: 'nonfinite'; at: number; value: number }
  | { kind: 'number'; value: unknown }
  | { kind: 'indices'; value: unknown }
  | { kind: 'view' };

const breakArb: fc.Arbitrary<Break> = fc.oneof(
  fc.record({ kind: fc.constant('length' as const), delta: fc.oneof(fc.integer({ min: -4, max: 4 }).filter((d) => d !== 0), fc.constantFrom(-1e9, 1000)) }),
  fc.record({ kind: fc.constant('type' as const), as: fc.nat({ max: 9 }) }),
  fc.record({ kind: fc.constant('nonfinite' as const), at: fc.nat(), value: fc.constantFrom(NaN, Infinity, -Infinity) }),
  fc.record({
    kind: fc.constant('number' as const),
    value: fc.constantFrom(0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 1e9, 65536, 1 << 20, -0, '2', null, undefined, {}, 4, 7),
  }),
  fc.record({
    kind: fc.constant('indices' as const),
    value: fc.constantFrom(-1, 2 ** 31 - 1, 1e9, 0.5, NaN, 'a', null, 'dup', 'shuffle', 'empty', 'f32', 'huge-label', 'neg-label'),
  }),
  fc.constant({ kind: 'view' as const }),
);

/** A typed array of the same values under another guise (or a non-array). */
function retype(a: Float32Array | Float64Array | Int32Array | Uint8Array, as: number): unknown {
  switch (as) {
    case 0: return a instanceof Float64Array ? Float32Array.from(a) : Float64Array.from(a);
    case 1: return Int32Array.from(a, (v) => v | 0);
    case 2: return Uint8Array.from(a, (v) => v & 0xff);
    case 3: return Array.from(a);
    case 4: return null;
    case 5: return undefined;
    case 6: return 'values';
    case 7: return new DataView(a.buffer);
    case 8: {
      // the same type over a SharedArrayBuffer
      const sab = new SharedArrayBuffer(a.byteLength);
      const c = new (a.constructor as new (b: SharedArrayBuffer) => typeof a)(sab);
      c.set(a as never);
      return c;
    }
    default: return a.buffer;
  }
}

function broken(v: unknown, b: Break): unknown {
  const arr = ArrayBuffer.isView(v) && Object.prototype.toString.call(v) !== '[object DataView]' ? (v as Float32Array) : undefined;
  switch (b.kind) {
    case 'length': {
      if (!arr) return v;
      const n = Math.max(0, Math.min(arr.length + b.delta, arr.length + 1000));
      const out = new (arr.constructor as new (n: number) => Float32Array)(n);
      out.set(arr.subarray(0, Math.min(n, arr.length)));
      return out;
    }
    case 'type':
      return arr ? retype(arr, b.as) : v;
    case 'nonfinite': {
      const fa = arr as unknown;
      if (!(fa instanceof Float32Array || fa instanceof Float64Array) || fa.length === 0) return v;
      const c = fa.slice();
      c[b.at % c.length] = b.value;
      return c;
    }
    case 'number':
      return b.value;
    case 'view': {
      // valid data at an offset inside a larger buffer
      if (!arr) return v;
      const big = new (arr.constructor as new (n: number) => Float32Array)(arr.length + 5);
      big.set(arr, 3);
      return big.subarray(3, 3 + arr.length);
    }
    case 'indices': {
      if (!Array.isArray(v) && !(v instanceof Int32Array)) return v;
      const l = Array.from(v as ArrayLike<number>);
      if (b.value === 'dup') return l.length ? [...l, l[0]] : [0, 0];
      if (b.value === 'shuffle') return l.reverse();
      if (b.value === 'empty') return [];
      if (b.value === 'f32') return Float32Array.from(l);
      if (b.value === 'huge-label') return l.map((x, i) => (i === 0 ? 1e6 : x));
      if (b.value === 'neg-label') return l.map((x, i) => (i === 0 ? -3 : x));
      return l.length ? l.map((x, i) => (i === l.length - 1 ? b.value : x)) : [b.value];
    }
  }
}

interface Call {
  entry: Entry;
  args: unknown[];
  /** Values a successful call must return, to check. */
  expect: (r: unknown) => void;
}

function finite(a: unknown, n: number, what: string): void {
  if (!(a instanceof Float32Array || a instanceof Float64Array)) throw new Error(`${what} is not a float array`);
  if (a.length !== n) throw new Error(`${what} has ${a.length} values, expected ${n}`);
  if (!a.every(Number.isFinite)) throw new Error(`${what} has a non-finite value`);
}

/** A valid call of `entry` on the plan, as NativeNet's arguments. */
function validCall(b: BuiltPlan, net: NativeNet, entry: Entry, batch: number, f64: boolean, seed: number): Call {
  const { plan } = b;
  const inSize = numel(net.info.nodeShapes[0]);
  const K = numel(net.info.nodeShapes[plan.output]);
  const params = values(net.info.totalParams, seed, 0.5, f64);
  const x = values(batch * inSize, seed + 1, 2, f64);
  const used = net.info.usedParams;
  const P = used.reduce((a, i) => a + numel(plan.params[i].shape), 0);
  switch (entry) {
    case 'forward':
      return { entry, args: [params, x, batch], expect: (r) => finite(r, batch * K, 'output') };
    case 'backward': {
      const S = 1 + (seed % 3);
      return {
        entry,
        args: [params, x, batch, values(S * batch * K, seed + 2, 1, f64), used, seed % 2 === 0],
        expect: (r) => finite((r as { grads: unknown }).grads, S * P, 'grads'),
      };
    }
    case 'perSampleGradients':
    case 'perSampleGradientsAsync':
      return { entry, args: [params, x, batch, used, 1 + (seed % 2)], expect: (r) => finite((r as { grads: unknown }).grads, batch * P, 'grads') };
    case 'ntkIndicators':
    case 'ntkIndicatorsAsync': {
      const classes = 1 + (seed % 4);
      const labels = (n: number, s: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + s) % classes);
      const val = seed % 3 === 0 ? undefined : { x: values(batch * inSize, seed + 3, 2, f64), batch, y: labels(batch, seed), trainY: labels(batch, seed + 1), classes };
      return {
        entry,
        args: [params, { x, batch, val }, used, used.slice(0, 1 + (seed % 3)), 1],
        expect: (r) => {
          const o = r as { condBad: boolean; cond: number | null; lambdaMax: number };
          if (!o.condBad && !(o.cond !== null && Number.isFinite(o.cond))) throw new Error(`cond ${o.cond}`);
        },
      };
    }
    case 'linearRegions': {
      const batches = 1 + (seed % 2);
      return { entry, args: [params, values(batch * batches * inSize, seed + 4, 2, f64), batch, batches], expect: (r) => {
        const o = r as { regions: number; inputs: number };
        if (o.inputs !== batch * batches || !(o.regions >= 1 && o.regions <= o.inputs)) throw new Error(`regions ${o.regions} of ${o.inputs}`);
      } };
    }
    case 'naswot':
      return { entry, args: [params, x, batch], expect: (r) => {
        const o = r as { logdet: number | null; singular: boolean };
        if (o.singular !== (o.logdet === null)) throw new Error('singular flag');
      } };
  }
}

/** Argument slots of an NtkBatches object, flattened for breaking. */
function breakCall(c: Call, breaks: [number, Break][]): Call {
  const args = c.args.slice();
  for (const [slot, b] of breaks) {
    if (c.entry.startsWith('ntk')) {
      // params, x, batch, val.x, val.batch, val.y, val.trainY, val.classes, weights, cells, threads
      const bt = { ...(args[1] as object) } as Record<string, unknown> & { val?: Record<string, unknown> };
      if (bt.val) bt.val = { ...bt.val };
      const s = slot % 11;
      if (s === 0) args[0] = broken(args[0], b);
      else if (s === 1) bt.x = broken(bt.x, b);
      else if (s === 2) bt.batch = broken(bt.batch, b);
      else if (s <= 7) {
        if (bt.val) {
          const k = ['x', 'batch', 'y', 'trainY', 'classes'][s - 3];
          bt.val[k] = broken(bt.val[k], b);
        }
      } else args[s - 6] = broken(args[s - 6], b);
      args[1] = bt;
    } else {
      const i = slot % args.length;
      args[i] = broken(args[i], b);
    }
  }
  return { ...c, args };
}

/** The same call on the raw addon object (positional arguments as the C++ reads them). */
function rawArgs(c: Call): unknown[] {
  if (!c.entry.startsWith('ntk')) return c.entry === 'backward' ? [...c.args.slice(0, 4), c.args[4] instanceof Int32Array || !Array.isArray(c.args[4]) ? c.args[4] : Int32Array.from(c.args[4] as number[]), c.args[5]] : c.args;
  const [params, b, weights, cells, threads] = c.args as [unknown, { x: unknown; batch: unknown; val?: Record<string, unknown> }, unknown, unknown, unknown];
  const v = b.val;
  return [params, b.x, b.batch, v ? v.trainY : null, v ? v.x : null, v ? v.batch : 0, v ? v.y : null, v ? v.classes : 0, weights, cells, threads];
}

const nets = new Map<NetworkPlan, NativeNet>();
function netOf(b: BuiltPlan): NativeNet {
  let n = nets.get(b.plan);
  if (!n) {
    n = new NativeNet(b.plan);
    nets.set(b.plan, n);
    if (nets.size > 200) nets.delete(nets.keys().next().value!);
  }
  return n;
}

const callArb = fc.record({
  built: fc.oneof({ weight: 1, arbitrary: fc.constant(NB201) }, { weight: 3, arbitrary: planArbitrary }),
  entry: fc.constantFrom(...ENTRY),
  batch: fc.integer({ min: 1, max: 4 }),
  f64: fc.boolean(),
  seed: fc.nat({ max: 1e6 }),
  breaks: fc.array(fc.tuple(fc.nat(), breakArb), { maxLength: 2 }),
});

async function invoke(target: NativeNet | object, c: Call, raw: boolean): Promise<unknown> {
  const f = (target as Record<string, (...a: unknown[]) => unknown>)[c.entry];
  const args = raw ? rawArgs(c) : c.args;
  return await f.apply(target, args);
}

test('native: entry points on valid and broken arguments through NativeNet give right-sized finite results or clear TegnasErrors', async (t) => {
  const tally = { valid: 0, accepted: 0, rejected: 0 };
  await checkAsync(
    t,
    fc.asyncProperty(callArb, async ({ built, entry, batch, f64, seed, breaks }) => {
      const net = netOf(built);
      const valid = validCall(built, net, entry, batch, f64, seed);
      const c = breakCall(valid, breaks);
      let r: unknown;
      try {
        r = await invoke(net, c, false);
      } catch (e) {
        tally.rejected++;
        assertClearError(e, ['E_INPUT', 'E_SHAPE', 'E_NATIVE']);
        return;
      }
      tally.accepted++;
      if (breaks.length === 0) {
        tally.valid++;
        valid.expect(r);
      }
    }),
    1,
  );
  t.log(`${tally.valid} valid calls checked, ${tally.accepted - tally.valid} broken calls still valid, ${tally.rejected} rejected`);
});

test('native: the raw addon re-checks every argument itself (clear Errors, no crash) when TypeScript is bypassed', async (t) => {
  const raw = rawBinding();
  const rawNets = new Map<NetworkPlan, object>();
  await checkAsync(
    t,
    fc.asyncProperty(callArb, async ({ built, entry, batch, f64, seed, breaks }) => {
      let rn = rawNets.get(built.plan);
      if (!rn) {
        rn = new raw.Network(built.plan);
        rawNets.set(built.plan, rn);
        if (rawNets.size > 200) rawNets.delete(rawNets.keys().next().value!);
      }
      const valid = validCall(built, netOf(built), entry, batch, f64, seed);
      const c = breakCall(valid, breaks);
      let r: unknown;
      try {
        r = await invoke(rn, c, true);
      } catch (e) {
        if (!(e instanceof Error)) throw new Error(`the addon threw a non-Error: ${String(e)}`);
        assertClearMessage(e.message);
        return;
      }
      if (breaks.length === 0) valid.expect(r);
    }),
    1,
  );
});

test('native: patternStats, symmetricEigenvalues and solveLinear on valid and broken arguments', (t) => {
  const raw = rawBinding();
  const arb = fc.record({
    which: fc.nat({ max: 2 }),
    n: fc.integer({ min: 1, max: 12 }),
    m: fc.integer({ min: 1, max: 4 }),
    seed: fc.nat({ max: 1e6 }),
    scale: fc.constantFrom(1, 1e-300, 1e300, 0),
    breaks: fc.array(fc.tuple(fc.nat(), breakArb), { maxLength: 2 }),
  });
  check(
    t,
    fc.property(arb, ({ which, n, m, seed, scale, breaks }) => {
      let args: unknown[];
      if (which === 0) {
        const bits = Uint8Array.from(values(n * m * 8, seed), (v) => (v > 0 ? 1 : 0));
        args = [bits, n, m * 8, seed % 2 === 0];
      } else {
        const a = values(n * n, seed, scale, true) as Float64Array;
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
        args = which === 1 ? [a, n] : [a, n, values(n * m, seed + 1, 1, true), m];
      }
      for (const [slot, b] of breaks) args[slot % args.length] = broken(args[slot % args.length], b);
      const f = [patternStats, symmetricEigenvalues, solveLinear][which] as (...a: unknown[]) => unknown;
      const rawF = [raw.patternStats, raw.symmetricEigenvalues, raw.solveLinear][which] as (...a: unknown[]) => unknown;
      let r: unknown;
      try {
        r = f(...args);
      } catch (e) {
        assertClearError(e, ['E_INPUT', 'E_SHAPE', 'E_NATIVE']);
      }
      try {
        rawF(...args);
      } catch (e) {
        if (!(e instanceof Error)) throw new Error(`the addon threw a non-Error: ${String(e)}`);
        assertClearMessage(e.message);
      }
      if (breaks.length === 0 && r !== undefined && r !== null && which > 0) finite(r, which === 1 ? n : n * m, which === 1 ? 'eigenvalues' : 'solution');
    }),
  );
});

test('native regressions: SharedArrayBuffer data, full int32 range, activation and class limits, zero-bit patterns', async (t) => {
  const raw = rawBinding();
  const plan: NetworkPlan = { version: 1, input: [1, 2, 2], params: [{ name: 'w.weight', shape: [3, 4], kind: 'linear-weight' }], nodes: [{ op: 'input' }, { op: 'linear', input: 0, weight: 0 }], output: 1 };
  const net = new NativeNet(plan);
  const p = values(12, 1) as Float32Array, x = values(8, 2) as Float32Array;
  // Typed arrays over a SharedArrayBuffer read the same values (the addon used to fail with "Invalid argument").
  const share = (a: Float32Array) => {
    const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  };
  t.deepEqual(Array.from(net.forward(share(p), share(x), 2)), Array.from(net.forward(p, x, 2)));
  t.deepEqual(Array.from(new raw.Network(plan).forward(share(p), share(x), 2)), Array.from(net.forward(p, x, 2)));
  // 2^31 - 1 is an integer (it used to be refused as "must be an integer").
  t.deepEqual(new NativeNet({ ...plan, input: [2 ** 31 - 1, 1, 1], params: [], nodes: [{ op: 'input' }], output: 0 }).info.nodeShapes, [[2 ** 31 - 1, 1, 1]]);
  // batch x largest node output over 2^31 - 1 values is refused before anything is read or allocated.
  const wide = new raw.Network({ ...plan, input: [1, 2 ** 15, 2 ** 15], params: [], nodes: [{ op: 'input' }, { op: 'relu', input: 0 }], output: 1 });
  t.throws(() => wide.forward(new Float32Array(0), new Float32Array(0), 2), { message: /batch 2 x the largest node output \(1073741824 values per sample\).*exceeds the engine's limit/ });
  // A stray number of classes is refused instead of allocating batch x classes doubles.
  const rn = new raw.Network(plan);
  const y = Int32Array.from([0, 1]);
  t.throws(() => rn.ntkIndicators(p, x, 2, y, x, 2, y, 1e9, Int32Array.from([0]), Int32Array.from([0])), { message: /classes must be at most 65536, got 1000000000/ });
  assertClearError(t.throws(() => net.ntkIndicators(p, { x, batch: 2, val: { x, batch: 2, y, trainY: y, classes: 1e9 } }, [0], [0])), ['E_INPUT'], ['1000000000']);
  // Labels are checked before the job starts: a synchronous error naming the label, also for the async call.
  t.throws(() => rn.ntkIndicatorsAsync(p, x, 2, Int32Array.from([0, 7]), x, 2, y, 3, Int32Array.from([0]), Int32Array.from([0])), { message: /training labels\[1\] = 7 is outside 0..2/ });
  // A zero op with a stride near 2^31 (found by npm run test:fuzz: ceil(w / stride) overflowed an int).
  const zero = new NativeNet({ version: 1, input: [1, 1, 2], params: [], nodes: [{ op: 'input' }, { op: 'zero', input: 0, channels: 1, stride: 2 ** 31 - 1 }], output: 1 });
  t.deepEqual(zero.info.nodeShapes[1], [1, 1, 1]);
  t.deepEqual(Array.from(zero.forward(new Float32Array(0), new Float32Array(2), 1)), [0]);
  // A plan without ReLU has zero-bit activation patterns (memcmp used to get null pointers: UB).
  const r = net.linearRegions(Float64Array.from(p), Float64Array.from(x), 2, 1);
  t.is(r.bits, 0);
  t.is(r.regions, 1);
  t.true(net.naswot(Float64Array.from(p), Float64Array.from(x), 2).singular);
});
