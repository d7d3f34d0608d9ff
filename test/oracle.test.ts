import test from 'ava';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Network } from '../src/network.js';
import type { DartsSupernetSelection } from '../src/plan/darts-network.js';
import { NB201_EDGES, type Nb201Op } from '../src/spaces/nb201.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { ORACLE_CASES, ORACLE_FLOAT64 } from './oracle/cases.js';

// Agreement with the PyTorch oracle (test/oracle/make_fixtures.py): same weights, same inputs,
// per-sample gradients of each sample's summed logits through train-mode BatchNorm.

const dir = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CASES = ORACLE_CASES;
const FLOAT64 = ORACLE_FLOAT64;

const inputs = readSafetensors(dir + 'inputs.safetensors').tensors.get('x')!;

function networkFor(config: string, meta: Record<string, string>): Network {
  const classes = Number(/-k(\d+)$/.exec(config)![1]);
  if (config.startsWith('nb201-c3n1')) {
    if (meta.mode === 'single') return Network.nb201(meta.arch, { C: 3, N: 1, classes });
    const ops = JSON.parse(meta.ops) as Record<string, Nb201Op[]>;
    return Network.nb201(NB201_EDGES.map(([to, from]) => ops[`${to}<-${from}`]), { C: 3, N: 1, classes });
  }
  if (config.startsWith('darts-c1n1d2')) {
    const sel = meta.mode === 'single' ? meta.arch : (JSON.parse(meta.ops) as DartsSupernetSelection);
    return Network.darts(sel, { C: 1, N: 1, depth: 2, classes });
  }
  throw new Error(`unknown fixture config ${config}`);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const name of CASES) {
  test(`matches the PyTorch oracle: ${name}`, (t) => {
    const file = `${dir}${name}.safetensors`;
    t.true(existsSync(file), `fixture ${file} is missing: run npm run oracle`);
    const { tensors, metadata } = readSafetensors(file);
    const config = name.split('--')[0];
    const batch = Number(metadata.batch);
    const net = networkFor(config, metadata).loadWeights(`${dir}${config}.weights.safetensors`);
    const x = (inputs.data as Float32Array).slice(0, batch * net.inputSize);
    const r = net.perSampleGradients(x, batch, 'weights');

    const expectedColumns = JSON.parse(metadata.columns) as [string, number][];
    t.deepEqual(r.columns.map((c) => [c.name, c.numel]), expectedColumns, 'gradient columns (names, sizes, order)');
    const G = tensors.get('grads')!, L = tensors.get('logits')!;
    t.deepEqual(G.shape, [batch, r.grads.length / batch]);
    t.deepEqual(L.shape, [batch, net.classes]);

    const scaleL = maxAbs(L.data as Float32Array), dL = maxDiff(r.logits, L.data as Float32Array);
    t.true(dL <= 1e-4 * scaleL, `logits: max |d| ${dL} vs max |logit| ${scaleL}`);
    const scaleG = maxAbs(G.data as Float32Array), dG = maxDiff(r.grads, G.data as Float32Array);
    t.true(scaleG > 0, 'the oracle gradients are not all zero');
    t.true(dG <= 1e-4 * scaleG, `grads: max |dG| ${dG} vs max |G| ${scaleG} (ratio ${dG / scaleG})`);
    t.log(`P=${r.grads.length / batch} max|dG|/max|G| = ${(dG / scaleG).toExponential(2)}, logits ${(dL / scaleL).toExponential(2)}`);

    if (FLOAT64.has(name)) {
      const idx = net.groupIndices('weights');
      const r64 = net.native.perSampleGradients(Float64Array.from(net.params), Float64Array.from(x), batch, idx);
      const d64 = maxDiff(r64.grads, G.data as Float32Array);
      t.true(d64 <= 2e-6 * scaleG, `float64 engine vs float64 oracle: ${d64 / scaleG}`);
      t.log(`float64: max|dG|/max|G| = ${(d64 / scaleG).toExponential(2)}`);
    }
  });
}
