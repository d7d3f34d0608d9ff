import test, { type ExecutionContext } from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TegnasError } from '../src/errors.js';
import { NativeNet, rawBinding } from '../src/native.js';
import { Network } from '../src/network.js';
import type { NetworkPlan } from '../src/plan/types.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { mulberry32, randn } from './helpers/gradcheck.js';

const ARCH = '|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|';
const small = () => Network.nb201(ARCH, { C: 3, N: 1, classes: 5, inputSize: [8, 8] }).init('torch-default', 7);
const input = (n: number, net: Network) => Float32Array.from(randn(mulberry32(3), n * net.inputSize));
const tmp = () => mkdtempSync(join(tmpdir(), 'tegnas-'));

function isTegnas(t: ExecutionContext, e: unknown, code: string, pattern: RegExp) {
  t.true(e instanceof TegnasError, `expected TegnasError, got ${String(e)}`);
  const err = e as TegnasError;
  t.is(err.code, code);
  t.regex(err.message, pattern);
}

test('batched per-sample gradients equal one backward pass per sample', (t) => {
  const net = small();
  const B = 6;
  const x = input(B, net);
  const r = net.perSampleGradients(x, B, 'weights');
  const idx = net.groupIndices('weights');
  const P = r.grads.length / B;
  const K = r.classes;
  let maxG = 0, maxD = 0;
  for (let s = 0; s < B; s++) {
    const seed = new Float32Array(B * K);
    seed.fill(1, s * K, (s + 1) * K);
    const one = net.native.backward(net.params, x, B, seed, idx);
    for (let p = 0; p < P; p++) {
      maxG = Math.max(maxG, Math.abs(one.grads[p]));
      maxD = Math.max(maxD, Math.abs(one.grads[p] - r.grads[s * P + p]));
    }
  }
  t.true(maxG > 0);
  t.true(maxD <= 1e-6 * maxG, `max difference ${maxD} vs max gradient ${maxG}`);
});

test('per-sample gradients are identical for 1 and 2 threads, and sync and async agree', async (t) => {
  const net = small();
  const x = input(5, net);
  const a = net.perSampleGradients(x, 5, 'weights', 1);
  const b = net.perSampleGradients(x, 5, 'weights', 2);
  const c = await net.perSampleGradientsAsync(x, 5, 'weights', 2);
  t.deepEqual(Array.from(a.grads), Array.from(b.grads));
  t.deepEqual(Array.from(a.grads), Array.from(c.grads));
  t.deepEqual(Array.from(a.logits), Array.from(c.logits));
});

test('parameter groups: weights skip biases and unused ops; cell-weights are the cells. part', (t) => {
  const net = small();
  const w = net.columns(net.groupIndices('weights')).map((c) => c.name);
  const cw = net.columns(net.groupIndices('cell-weights')).map((c) => c.name);
  t.true(w.every((n) => n.endsWith('weight')));
  t.true(w.includes('stem.0.weight') && w.includes('classifier.weight') && w.includes('lastact.0.weight'));
  t.true(w.includes('cells.0.edges.1<-0.3.op.1.weight'));
  t.false(w.includes('cells.0.edges.1<-0.2.op.1.weight'), 'unselected nor_conv_1x1 on edge 1<-0 must not be a column');
  t.deepEqual(cw, w.filter((n) => n.startsWith('cells.')));
  t.true(cw.includes('cells.1.downsample.1.weight'));
  const none = Network.nb201('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', { C: 3, N: 1, classes: 5 });
  t.false(none.columns(none.groupIndices('weights')).some((c) => c.name.includes('.edges.')));
});

test('weights round-trip through safetensors, and a wrong file is a clear error', (t) => {
  const dir = tmp();
  const net = small();
  const f = join(dir, 'w.safetensors');
  net.saveWeights(f);
  const other = Network.nb201(ARCH, { C: 3, N: 1, classes: 5, inputSize: [8, 8] }).loadWeights(f);
  t.deepEqual(Array.from(other.params), Array.from(net.params));

  const tensors = net.namedTensors();
  const missing = new Map(tensors);
  missing.delete('cells.0.edges.1<-0.3.op.1.weight');
  writeSafetensors(join(dir, 'missing.safetensors'), missing);
  isTegnas(t, t.throws(() => other.loadWeights(join(dir, 'missing.safetensors'))), 'E_WEIGHTS', /missing tensor 'cells\.0\.edges\.1<-0\.3\.op\.1\.weight'/);

  const unknown = new Map(tensors);
  unknown.set('cells.9.bogus.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
  writeSafetensors(join(dir, 'unknown.safetensors'), unknown);
  isTegnas(t, t.throws(() => other.loadWeights(join(dir, 'unknown.safetensors'))), 'E_WEIGHTS', /unknown tensor 'cells\.9\.bogus\.weight'/);

  const shaped = new Map(tensors);
  shaped.set('stem.0.weight', { dtype: 'F32', shape: [3, 3, 3, 2], data: new Float32Array(54) });
  writeSafetensors(join(dir, 'shape.safetensors'), shaped);
  isTegnas(t, t.throws(() => other.loadWeights(join(dir, 'shape.safetensors'))), 'E_WEIGHTS', /'stem\.0\.weight' has shape \[3, 3, 3, 2\], expected \[3, 3, 3, 3\]/);

  const nan = new Map(tensors);
  const bad = Float32Array.from(tensors.get('classifier.bias')!.data as Float32Array);
  bad[2] = Number.NaN;
  nan.set('classifier.bias', { dtype: 'F32', shape: [5], data: bad });
  writeSafetensors(join(dir, 'nan.safetensors'), nan);
  isTegnas(t, t.throws(() => other.loadWeights(join(dir, 'nan.safetensors'))), 'E_WEIGHTS', /'classifier\.bias' has a non-finite value at index 2/);
  // A failed load changes nothing.
  t.deepEqual(Array.from(other.params), Array.from(net.params));
});

test('bad inputs are clear errors, never crashes', (t) => {
  const net = small();
  const x = input(2, net);
  isTegnas(t, t.throws(() => net.forward(x.subarray(1), 2)), 'E_SHAPE', /expected batch 2 x 3 x 8 x 8 = 384/);
  const y = x.slice();
  y[17] = Number.POSITIVE_INFINITY;
  isTegnas(t, t.throws(() => net.perSampleGradients(y, 2)), 'E_INPUT', /non-finite value \(Infinity\) at index 17/);
  isTegnas(t, t.throws(() => net.forward(x, 0)), 'E_INPUT', /batch must be a positive integer/);
  // NativeNet checks every argument before the engine sees it...
  const p = net.params.slice();
  p[3] = Number.NaN;
  isTegnas(t, t.throws(() => net.native.forward(p, x, 2)), 'E_INPUT', /forward: params has a non-finite value \(NaN\) at index 3/);
  isTegnas(t, t.throws(() => net.native.forward(net.params, x, 3)), 'E_SHAPE', /forward: input has 384 values, expected batch 3 x 192 values per sample = 576/);
  isTegnas(t, t.throws(() => net.native.forward(net.params as Float32Array | Float64Array, new Float64Array(384), 2)), 'E_INPUT', /input must be a Float32Array like params, got a Float64Array/);
  isTegnas(t, t.throws(() => net.native.perSampleGradients(net.params, x, 2, [99999])), 'E_INPUT', /\[0\] = 99999 is out of range: the plan has \d+ parameters/);
  // ...and the native layer re-checks what it relies on, even when TypeScript is bypassed.
  const raw = new (rawBinding().Network)(net.plan);
  t.throws(() => raw.forward(p, x, 2), { message: /params has a non-finite value \(nan\) at index 3/ });
  t.throws(() => raw.forward(net.params, x, 3), { message: /input has 384 values, expected 576/ });
  t.throws(() => raw.forward(net.params as Float32Array | Float64Array, new Float64Array(384), 2), { message: /must both be Float32Array or both Float64Array, got a Float32Array of \d+ and a Float64Array of 384/ });
  t.throws(() => raw.perSampleGradients(net.params, x, 2, [99999]), { message: /\[0\] = 99999 is out of range/ });
});

test('bad architectures are clear errors', (t) => {
  isTegnas(t, t.throws(() => Network.nb201('|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|', { C: 3, N: 1, classes: 10 })), 'E_ARCH', /unknown op 'conv'/);
  isTegnas(t, t.throws(() => Network.nb201('|none~0|+|none~0|none~1|', { C: 3, N: 1, classes: 10 })), 'E_ARCH', /expected 3 nodes/);
  isTegnas(t, t.throws(() => Network.darts("Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2, 3, 4, 5], reduce=[], reduce_concat=[2, 3, 4, 5])", { C: 1, N: 1, classes: 10 })), 'E_ARCH', /normal must list 8/);
});

test('invalid plans are rejected by the engine with the node and the problem named', (t) => {
  const base = (): NetworkPlan => ({
    version: 1,
    input: [2, 4, 4],
    params: [{ name: 'w.weight', shape: [3, 2, 3, 3], kind: 'conv-weight' }],
    nodes: [{ op: 'input' }, { op: 'conv2d', input: 0, weight: 0, padding: 1 }],
    output: 1,
  });
  const cases: [string, (p: NetworkPlan) => void, RegExp][] = [
    ['unknown op', (p) => { (p.nodes[1] as { op: string }).op = 'softmax'; }, /nodes\[1\]: unknown op 'softmax'/],
    ['forward reference', (p) => { (p.nodes[1] as { input: number }).input = 1; }, /node 1 \(conv2d\): input 1 is not an earlier node/],
    ['bad parameter index', (p) => { (p.nodes[1] as { weight: number }).weight = 4; }, /weight refers to parameter 4 but the plan has 1/],
    ['wrong weight shape', (p) => { p.params[0].shape = [3, 5, 3, 3]; }, /'w\.weight' has shape \[3, 5, 3, 3\], expected \[3, 2, 3, 3\]/],
    ['kernel larger than input', (p) => { (p.nodes[1] as { padding: number }).padding = 0; p.input = [2, 2, 2]; }, /kernel does not fit/],
    ['bad output', (p) => { p.output = 7; }, /output 7 is not a node index/],
    ['bad version', (p) => { (p as { version: number }).version = 2; }, /expected version 1/],
    ['non-integer stride', (p) => { (p.nodes[1] as { stride: number }).stride = 1.5; }, /'stride' must be an integer/],
    ['groups not dividing', (p) => { (p.nodes[1] as { groups: number }).groups = 2; p.params[0].shape = [3, 1, 3, 3]; }, /groups 2 must divide/],
  ];
  for (const [name, mutate, pattern] of cases) {
    const p = base();
    mutate(p);
    const e = t.throws(() => new NativeNet(p), undefined, name);
    isTegnas(t, e, 'E_PLAN', pattern);
  }
  t.notThrows(() => new NativeNet(base()));
});

test('a DARTS supernet whose state 0 feeds no edge leaves preprocess0 out of the gradient columns', (t) => {
  const edges = { '0<-1': ['sep_conv_3x3' as const], '1<-2': ['skip_connect' as const], '2<-3': ['max_pool_3x3' as const], '3<-4': ['avg_pool_3x3' as const] };
  const net = Network.darts({ normal: edges, reduce: { ...edges, '0<-0': ['max_pool_3x3' as const] } }, { C: 1, N: 1, classes: 10, depth: 2 });
  const names = net.columns(net.groupIndices('weights')).map((c) => c.name);
  t.false(names.some((n) => n.startsWith('cells.0.preprocess0.')), 'PyTorch leaves its gradient None');
  t.true(names.includes('cells.0.preprocess1.op.1.weight'));
  t.true(names.includes('cells.1.preprocess0.op.1.weight'));
});
