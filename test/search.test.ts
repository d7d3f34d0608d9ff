import test from 'ava';
import type { TegScores } from '../src/scoring/indicators.js';
import type { Architecture } from '../src/scoring/scorer.js';
import { evolution } from '../src/search/evolution.js';
import { prune } from '../src/search/prune.js';
import { bestIndex, ranks, WorstSeen } from '../src/search/ranking.js';
import { randomSearch } from '../src/search/random.js';
import { reinforce } from '../src/search/reinforce.js';
import { RewardBuffer } from '../src/search/reward-buffer.js';
import type { Evaluator } from '../src/search/types.js';
import { parseGenotype } from '../src/spaces/darts.js';
import { nb201CanonicalKey, parseNb201 } from '../src/spaces/nb201.js';

// A fast stand-in for the scorer: indicators from the ops, so a known architecture is best.
function fakeScores(arch: string, key: string, cond: number | null, mse: number | null, regions: number, bad = false): TegScores {
  return { arch, key, cond, mse, regions, naswot: null, params: 0, flops: 0, bad, repeats: [], seconds: { ntk: 0, regions: 0, naswot: 0, total: 0 }, cached: false };
}

class FakeNb201 implements Evaluator {
  readonly space = 'nas-bench-201' as const;
  calls = 0;
  async score(a: Architecture): Promise<TegScores> {
    this.calls++;
    if (Array.isArray(a)) {
      // Supernet: removing conv3x3 hurts, removing anything else helps a little.
      const n3 = a.filter((ops) => ops.includes('nor_conv_3x3')).length;
      const others = a.reduce((s, ops) => s + ops.length, 0) - n3;
      return fakeScores(JSON.stringify(a), JSON.stringify(a), 100 - 10 * n3 + others, null, 100 + 10 * n3 - others);
    }
    const ops = parseNb201(a as string);
    const convs = ops.filter((o) => o === 'nor_conv_3x3').length;
    const none = ops.filter((o) => o === 'none').length;
    if (none === 6) return fakeScores(a as string, nb201CanonicalKey(a as string), null, null, 1, true);
    return fakeScores(a as string, nb201CanonicalKey(a as string), 1000 - 100 * convs + none, 2 - 0.1 * convs, 100 + 50 * convs - none);
  }
}

test('ranks share the better rank on ties; bad entries take the worst cond and mse seen', (t) => {
  t.deepEqual(ranks([3, 1, 3, 2], false), [2, 0, 2, 1]);
  t.deepEqual(ranks([3, 1, 3, 2], true), [0, 3, 0, 2]);
  const worst = new WorstSeen();
  const entries = [fakeScores('a', 'a', 10, 1, 5), fakeScores('b', 'b', null, null, 50, true), fakeScores('c', 'c', 5, 0.5, 6)];
  entries.forEach((e) => worst.observe(e));
  t.is(worst.value(entries[1], 'cond'), 10);
  t.is(bestIndex(entries, worst), 2);
});

test('the buffer reward follows the reference: 0 first, then signed normalised changes', (t) => {
  const b = new RewardBuffer(10);
  t.is(b.push({ cond: 100, mse: 1, regions: 10, bad: false }), 0);
  const r = b.push({ cond: 50, mse: 1, regions: 20, bad: false });
  // cond fell by 50 over a range of 50, regions rose by 10 over a range of 10: reward ~ 2.
  t.true(Math.abs(r - 2) < 1e-6);
  // A bad architecture takes the worst cond and mse in the buffer.
  b.push({ cond: null, mse: null, regions: 1, bad: true });
  t.is(b.values.cond[2], 100);
  // A larger cond later raises it.
  b.push({ cond: 500, mse: 1, regions: 5, bad: false });
  t.is(b.values.cond[2], 500);
});

test('evolution is deterministic per seed and finds the all-conv3x3 optimum of a fake score', async (t) => {
  const a = await evolution(new FakeNb201(), { seed: 1, population: 32, sample: 8, steps: 150 });
  const b = await evolution(new FakeNb201(), { seed: 1, population: 32, sample: 8, steps: 150 });
  t.deepEqual(a.history.map((e) => e.arch), b.history.map((e) => e.arch));
  t.is(a.evaluations, 182);
  t.is(a.best.arch, '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|');
});

test('REINFORCE improves over its start and random search spends exactly its budget', async (t) => {
  const r = await reinforce(new FakeNb201(), { seed: 2, steps: 300 });
  t.is(r.evaluations, 300);
  const convs = (arch: string) => parseNb201(arch).filter((o) => o === 'nor_conv_3x3').length;
  const early = r.history.slice(0, 50).reduce((s, e) => s + convs(e.arch), 0) / 50;
  const late = r.history.slice(-50).reduce((s, e) => s + convs(e.arch), 0) / 50;
  t.true(late > early + 1, `conv3x3 per sampled arch: ${early} -> ${late}`);
  const rand = await randomSearch(new FakeNb201(), { seed: 3, evaluations: 40 });
  t.is(rand.evaluations, 40);
  t.is(rand.history.length, 40);
});

test('pruning removes one op per edge per round and keeps the op whose removal hurts', async (t) => {
  const ev = new FakeNb201();
  const r = await prune(ev, { seed: 0 });
  t.is(r.best.arch, '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|');
  // Rounds with 4, 3 and 2 ops per edge: (1 + 24) + (1 + 18) + (1 + 12) supernets, then the result.
  t.is(ev.calls, 58);
});

test('a DARTS REINFORCE search proposes genotypes that parse back', async (t) => {
  const ev: Evaluator = {
    space: 'darts',
    async score(a) {
      const text = a as string;
      parseGenotype(text);
      return fakeScores(text, text, 100 + text.length % 17, 1, 10 + (text.match(/sep_conv/g) ?? []).length);
    },
  };
  const r = await reinforce(ev, { seed: 0, steps: 20 });
  t.notThrows(() => parseGenotype(r.best.arch));
});

test('DARTS pruning ends with a valid genotype: one op per kept edge, two inputs per node', async (t) => {
  const ev: Evaluator = {
    space: 'darts',
    async score(a) {
      // A supernet selection: more sep_conv_3x3 and edges from state 0 "help".
      const text = typeof a === 'string' ? a : JSON.stringify(a);
      const sep = (text.match(/sep_conv_3x3/g) ?? []).length;
      const from0 = (text.match(/<-0/g) ?? []).length;
      return fakeScores(text, text, 1000 - 5 * sep - 3 * from0 + text.length / 100, null, 100 + 5 * sep + from0);
    },
  };
  const r = await prune(ev, { seed: 0 });
  const g = parseGenotype(r.best.arch);
  for (const cell of [g.normal, g.reduce])
    for (let k = 0; k < 4; k++) t.not(cell[2 * k][1], cell[2 * k + 1][1]);
  t.true(g.normal.some(([op]) => op === 'sep_conv_3x3'));
});

test('search budgets are checked before any work: a clear error naming the option, no scoring', async (t) => {
  const ev = new FakeNb201();
  await t.throwsAsync(() => evolution(ev, { population: 100_000_000 }), { message: /population must be an integer between 1 and 15625, got 100000000/ });
  await t.throwsAsync(() => evolution(ev, { population: 8, sample: 9 }), { message: /sample must be an integer between 1 and 8, got 9/ });
  await t.throwsAsync(() => evolution(ev, { steps: -1 }), { message: /steps must be/ });
  await t.throwsAsync(() => evolution(ev, { population: 2.5 }), { message: /population must be an integer/ });
  await t.throwsAsync(() => reinforce(ev, { steps: 0 }), { message: /steps must be an integer between 1/ });
  await t.throwsAsync(() => reinforce(ev, { lr: Number.NaN }), { message: /lr must be a positive finite number/ });
  await t.throwsAsync(() => randomSearch(ev, { evaluations: 2_000_000 }), { message: /evaluations must be an integer between 1 and 1000000/ });
  t.is(ev.calls, 0);
});
