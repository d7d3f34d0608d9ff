// Conv per-sample backward throughput at the NTK network's sizes (ad-hoc, for kernel work).
import { NativeNet } from '../src/native.js';
import { Rng } from '../src/weights/rng.js';
const threads = Number(process.argv[2] ?? 1);
function plan(c: number, hw: number, k: number, stride: number) {
  return { version: 1, input: [c, hw, hw], params: [
      { name: 'a.weight', shape: [c, c, k, k], kind: 'conv-weight' },
      { name: 'b.weight', shape: [c, c, k, k], kind: 'conv-weight' } ],
    nodes: [ { op: 'input' }, { op: 'conv2d', input: 0, weight: 0, padding: (k - 1) / 2 }, { op: 'relu', input: 1 },
      { op: 'conv2d', input: 2, weight: 1, padding: (k - 1) / 2, stride }, { op: 'global_avgpool', input: 3 } ], output: 4 } as any;
}
const rng = new Rng(1);
for (const [c, hw, k, st] of (process.argv[3] ? JSON.parse(process.argv[3]) : [[3, 32, 3, 1], [6, 16, 3, 1], [12, 8, 3, 1], [3, 32, 3, 2], [3, 32, 1, 1], [16, 32, 3, 1]])) {
  const net = new NativeNet(plan(c, hw, k, st));
  const B = 64;
  const params = Float32Array.from({ length: net.info.totalParams }, () => rng.normal() * 0.1);
  const x = Float32Array.from({ length: B * c * hw * hw }, () => rng.normal());
  const ho = Math.floor((hw + 2 * ((k - 1) / 2) - k) / st) + 1;
  const flop = 2 * B * c * c * k * k * hw * hw; // conv a
  const flopB = 2 * B * c * c * k * k * ho * ho;
  net.perSampleGradients(params, x, B, [0, 1], threads);
  const t = performance.now();
  const R = Number(process.env.R ?? 3);
  for (let i = 0; i < R; i++) net.perSampleGradients(params, x, B, [0, 1], threads);
  const s = (performance.now() - t) / 1000 / R;
  // a: weight grad; b: weight grad + data grad
  const total = B * (flop + 2 * flopB);
  console.log(`c${c} ${hw}x${hw} k${k} s${st}: ${(s * 1000).toFixed(1)} ms, ${(total / s / 1e9).toFixed(1)} GFLOP/s`);
}
