/** Finite-difference gradient checks of plans in float64. */
import { NativeNet } from '../../src/native.js';
import type { NetworkPlan } from '../../src/plan/types.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(rand: () => number, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12), v = rand();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

export interface GradCheckResult {
  /** Largest |analytic - numeric| / max(1e-3, |numeric|, |analytic|) over the checked coordinates. */
  maxRelErr: number;
  checked: number;
  worst: string;
}

/**
 * Checks d(sum_s sum(seed_s * output)) / d(params and input) of a plan against central differences.
 * `samples` coordinates of each parameter and of the input are checked (all when smaller).
 */
export function gradCheck(plan: NetworkPlan, opts: { batch: number; seeds?: number; seed?: number; samples?: number; h?: number }): GradCheckResult {
  const rand = mulberry32(opts.seed ?? 1);
  const net = new NativeNet(plan);
  const B = opts.batch, S = opts.seeds ?? 2, h = opts.h ?? 1e-6, samples = opts.samples ?? 12;
  const params = randn(rand, net.info.totalParams, 0.5);
  // BN gammas near 1 keep the check well conditioned.
  let off = 0;
  const offsets: number[] = [];
  for (const p of plan.params) {
    offsets.push(off);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.kind === 'bn-weight') for (let i = 0; i < n; i++) params[off + i] = 1 + 0.3 * params[off + i];
    off += n;
  }
  const [c, hh, ww] = plan.input;
  const x = randn(rand, B * c * hh * ww);
  const out0 = net.forward(params, x, B);
  const seeds = randn(rand, S * out0.length);
  const req = plan.params.map((_, i) => i);
  const r = net.backward(params, x, B, seeds, req, true);
  const P = params.length;
  const loss = (p: Float64Array, xx: Float64Array): number[] => {
    const y = net.forward(p, xx, B);
    const ls: number[] = [];
    for (let s = 0; s < S; s++) {
      let acc = 0;
      for (let i = 0; i < y.length; i++) acc += seeds[s * y.length + i] * y[i];
      ls.push(acc);
    }
    return ls;
  };
  let maxRelErr = 0, checked = 0, worst = '';
  const compare = (label: string, analytic: (s: number) => number, bump: (d: number) => [Float64Array, Float64Array]) => {
    const [pp, xp] = bump(h);
    const lp = loss(pp, xp);
    const [pm, xm] = bump(-h);
    const lm = loss(pm, xm);
    for (let s = 0; s < S; s++) {
      const numeric = (lp[s] - lm[s]) / (2 * h);
      const a = analytic(s);
      const err = Math.abs(a - numeric) / Math.max(1e-3, Math.abs(numeric), Math.abs(a));
      checked++;
      if (err > maxRelErr) {
        maxRelErr = err;
        worst = `${label} seed ${s}: analytic ${a}, numeric ${numeric}`;
      }
    }
  };
  plan.params.forEach((p, pi) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const picks = n <= samples ? [...Array(n).keys()] : Array.from({ length: samples }, () => Math.floor(rand() * n));
    for (const k of picks) {
      const idx = offsets[pi] + k;
      compare(`${p.name}[${k}]`, (s) => r.grads[s * P + idx], (d) => {
        const q = params.slice();
        q[idx] += d;
        return [q, x];
      });
    }
  });
  const xn = x.length;
  const picks = xn <= samples ? [...Array(xn).keys()] : Array.from({ length: samples }, () => Math.floor(rand() * xn));
  for (const k of picks)
    compare(`input[${k}]`, (s) => r.inputGrad![s * xn + k], (d) => {
      const q = x.slice();
      q[k] += d;
      return [params, q];
    });
  return { maxRelErr, checked, worst };
}
