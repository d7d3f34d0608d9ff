/**
 * REINFORCE with the TEG-NAS buffer reward (spec section 5): a categorical policy over the ops of each
 * edge (logits initialised 1e-3 x N(0, 1)), Adam, an exponential-moving-average baseline (momentum 0.9,
 * bias-corrected as numerator / denominator), loss = -sum log pi(a) x (reward - baseline). The result is
 * the rank-sum best of every architecture evaluated.
 */
import { DARTS_GENOTYPE_OPS, DARTS_STEPS, type DartsPair, type Genotype, formatGenotype } from '../spaces/darts.js';
import { NB201_OPS, formatNb201 } from '../spaces/nb201.js';
import { TegnasError } from '../errors.js';
import type { Rng } from '../weights/rng.js';
import { Adam } from './adam.js';
import { RewardBuffer } from './reward-buffer.js';
import { checkSearchInt, MAX_SEARCH_BUDGET, SearchLog, type Evaluator, type SearchOptions, type SearchResult } from './types.js';

export interface ReinforceOptions extends SearchOptions {
  steps?: number;
  /** Adam learning rate (default 0.04 for NAS-Bench-201, 0.07 for DARTS). */
  lr?: number;
  /** EMA momentum of the baseline (default 0.9). */
  momentum?: number;
  /** Reward buffer length (default 10). */
  buffer?: number;
}

/** An action: the sampled op index per (cell, edge), -1 for edges a DARTS node did not keep. */
interface Sample {
  arch: string;
  /** d log pi(action) / d logits. */
  gradLogProb: Float64Array;
}

function softmaxRow(logits: Float64Array, offset: number, n: number): number[] {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, logits[offset + k]);
  const e = Array.from({ length: n }, (_, k) => Math.exp(logits[offset + k] - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function drawCategorical(p: number[], rng: Rng): number {
  const u = rng.uniform();
  let acc = 0;
  for (let k = 0; k < p.length; k++) {
    acc += p[k];
    if (u < acc) return k;
  }
  return p.length - 1;
}

function sampleNb201(logits: Float64Array, rng: Rng): Sample {
  const K = NB201_OPS.length;
  const grad = new Float64Array(logits.length);
  const ops: (typeof NB201_OPS)[number][] = [];
  for (let e = 0; e < 6; e++) {
    const p = softmaxRow(logits, e * K, K);
    const a = drawCategorical(p, rng);
    ops.push(NB201_OPS[a]);
    for (let k = 0; k < K; k++) grad[e * K + k] = (k === a ? 1 : 0) - p[k];
  }
  return { arch: formatNb201(ops), gradLogProb: grad };
}

// DARTS: an op per edge from its softmax; each node after the first keeps 2 of its input edges, drawn
// without replacement with probabilities softmax(logit of each edge's chosen op). As in the reference,
// log pi counts the op choices of the kept edges.
function sampleDarts(logits: Float64Array, rng: Rng): Sample {
  const K = DARTS_GENOTYPE_OPS.length, E = 14;
  const grad = new Float64Array(logits.length);
  const cells: DartsPair[][] = [];
  for (let cell = 0; cell < 2; cell++) {
    const base = cell * E * K;
    const ops: number[] = [], probs: number[][] = [];
    for (let e = 0; e < E; e++) {
      const p = softmaxRow(logits, base + e * K, K);
      probs.push(p);
      ops.push(drawCategorical(p, rng));
    }
    const pairs: DartsPair[] = [];
    let start = 0;
    for (let node = 0; node < DARTS_STEPS; node++) {
      const n = node + 2;
      let kept = [0, 1];
      if (node > 0) {
        const w = softmaxRow(Float64Array.from({ length: n }, (_, j) => logits[base + (start + j) * K + ops[start + j]]), 0, n);
        const first = drawCategorical(w, rng);
        const rest = w.map((v, j) => (j === first ? 0 : v));
        const s = rest.reduce((a, b) => a + b, 0);
        const second = drawCategorical(rest.map((v) => v / s), rng);
        kept = [first, second].sort((a, b) => a - b);
      }
      for (const j of kept) {
        const e = start + j;
        pairs.push([DARTS_GENOTYPE_OPS[ops[e]], j]);
        for (let k = 0; k < K; k++) grad[base + e * K + k] += (k === ops[e] ? 1 : 0) - probs[e][k];
      }
      start += n;
    }
    cells.push(pairs);
  }
  const g: Genotype = { normal: cells[0], normalConcat: [2, 3, 4, 5], reduce: cells[1], reduceConcat: [2, 3, 4, 5] };
  return { arch: formatGenotype(g), gradLogProb: grad };
}

export async function reinforce(evaluator: Evaluator, options: ReinforceOptions = {}): Promise<SearchResult> {
  const darts = evaluator.space === 'darts';
  const steps = checkSearchInt('steps', options.steps ?? 500, 1, MAX_SEARCH_BUDGET);
  const lr = options.lr ?? (darts ? 0.07 : 0.04);
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0)
    throw new TegnasError('E_INPUT', `lr must be a positive finite number, got ${JSON.stringify(lr)}`);
  const log = new SearchLog('reinforce', evaluator, options, steps);
  const logits = new Float64Array(darts ? 2 * 14 * DARTS_GENOTYPE_OPS.length : 6 * NB201_OPS.length);
  const init = log.rng.fork('policy');
  for (let i = 0; i < logits.length; i++) logits[i] = 1e-3 * init.normal();
  const adam = new Adam(logits, lr);
  const momentum = options.momentum ?? 0.9;
  const buffer = new RewardBuffer(options.buffer ?? 10);
  let num = 0, den = 0;
  const draw = log.rng.fork('actions');
  for (let step = 0; step < steps; step++) {
    const s = darts ? sampleDarts(logits, draw) : sampleNb201(logits, draw);
    const e = await log.evaluate(s.arch);
    const reward = buffer.push(e.scores);
    e.reward = reward;
    num = momentum * num + (1 - momentum) * reward;
    den = momentum * den + (1 - momentum);
    const advantage = reward - num / den;
    // loss = -log pi(a) * advantage, so d loss / d logits = -advantage * d log pi / d logits.
    adam.step(s.gradLogProb.map((g) => -advantage * g));
    log.progress(step + 1);
  }
  return log.result(log.history[log.bestOf(log.history)]);
}
