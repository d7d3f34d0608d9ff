import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORRELATE_INDICATORS, type ScoredArch, correlate, sampleNb201Classes } from '../src/analysis/correlate.js';
import { averageRanks, kendallTauB, pearson, spearman } from '../src/analysis/correlation.js';
import { formatTick, linearTicks, logTicks, scatterSvg } from '../src/analysis/scatter-svg.js';
import { nb201Table } from '../src/benchmarks/nb201.js';
import type { TegScores } from '../src/scoring/indicators.js';
import { nb201CanonicalKey } from '../src/spaces/nb201.js';

const close = (a: number | null, b: number, eps = 1e-12) => a !== null && Math.abs(a - b) <= eps;

test('average ranks give ties the mean of the ranks they span', (t) => {
  t.deepEqual(averageRanks([10, 30, 20, 30]), [1, 3.5, 2, 3.5]);
  t.deepEqual(averageRanks([5, 5, 5]), [2, 2, 2]);
  t.deepEqual(averageRanks([]), []);
});

test('Kendall tau-b, by hand and against scipy\'s documented example', (t) => {
  t.is(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  t.is(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // x = [1, 2, 2, 3], y = [1, 3, 2, 3]: of the 6 pairs, 4 concordant, none discordant, (1,2) tied in x,
  // (1,3) tied in y: tau-b = 4 / sqrt((6 - 1) (6 - 1)) = 0.8.
  t.true(close(kendallTauB([1, 2, 2, 3], [1, 3, 2, 3]), 0.8));
  // scipy.stats.kendalltau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) = -0.47140452079103173 (its docs):
  // 2 concordant, 6 discordant, 2 pairs tied in x (one of them also in y): -4 / sqrt(8 x 9).
  t.true(close(kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]), -0.47140452079103173));
  t.is(kendallTauB([1, 1, 1], [1, 2, 3]), null, 'a constant side has no correlation');
  t.throws(() => kendallTauB([1, 2], [1]), { message: /2 values with 1/ });
  t.throws(() => kendallTauB([1, Number.NaN], [1, 2]), { message: /non-finite/ });
});

test('Spearman rho, by hand and against scipy\'s documented example', (t) => {
  // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233: ranks of y are
  // [1, 2, 3.5, 5, 3.5]; sum dx dy = 8, sum dx^2 = 10, sum dy^2 = 9.5, rho = 8 / sqrt(95).
  t.true(close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.8207826816681233));
  // x ranks [1, 2.5, 2.5, 4], y ranks [1, 3.5, 2, 3.5]: 3.75 / sqrt(4.5 x 4.5) = 5/6.
  t.true(close(spearman([1, 2, 2, 3], [1, 3, 2, 3]), 5 / 6));
  // Monotone but not linear: rho 1, Pearson below 1.
  t.is(spearman([1, 2, 3, 4], [1, 10, 100, 1000]), 1);
  t.true(pearson([1, 2, 3, 4], [1, 10, 100, 1000])! < 0.9);
  t.is(spearman([2, 2], [1, 3]), null);
});

function fake(arch: string, cond: number | null, mse: number | null, regions: number, bad = false): ScoredArch {
  const scores: TegScores = {
    arch, key: nb201CanonicalKey(arch), cond, mse, regions, naswot: bad ? null : regions / 10, params: 1, flops: 2, bad,
    repeats: [], seconds: { ntk: 0, regions: 0, naswot: 0, total: 0 }, cached: false,
  };
  return { arch, scores };
}

test('correlate ranks bad architectures as a search does: their cond and mse are the worst of the sample', async (t) => {
  const table = nb201Table();
  // Four architectures of clearly different accuracy, best first.
  const top = [0, 500, 1000, 1500].map((i) => table.top(1501, 'cifar10')[i]);
  for (let i = 1; i < 4; i++) t.true(top[i].accuracy.cifar10 < top[i - 1].accuracy.cifar10);
  const dead = '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|';
  // cond falls and regions rise with accuracy; the dead architecture is bad.
  const rows = [
    fake(top[3].arch, 400, 1.4, 100),
    fake(top[0].arch, 100, 1.1, 400),
    fake(dead, null, null, 1, true),
    fake(top[2].arch, 300, 1.3, 200),
    fake(top[1].arch, 200, 1.2, 300),
  ];
  async function* source() {
    yield* rows;
  }
  let seen = 0;
  const r = await correlate(source(), { dataset: 'cifar10', onRow: (_row, n) => (seen = n) });
  t.is(seen, 5);
  t.deepEqual(r.correlations.map((c) => c.indicator), [...CORRELATE_INDICATORS]);
  const by = Object.fromEntries(r.correlations.map((c) => [c.indicator, c]));
  const deadRow = r.rows[2];
  t.true(deadRow.bad);
  t.is(deadRow.values.cond, 400, 'the worst cond of the sample');
  t.is(deadRow.values.mse, 1.4);
  t.is(deadRow.values.naswot, 10, 'a missing NASWOT is the lowest of the sample');
  t.is(deadRow.accuracy, table.byArch(dead).accuracy.cifar10);
  // Accuracy order: top0 > top1 > top2 > top3 > dead. cond: 100 < 200 < 300 < 400 = 400 (tie at the bottom).
  // 10 pairs, 9 discordant, one tied in cond: tau-b = -9 / sqrt(9 x 10).
  t.true(close(by.cond.tau, -9 / Math.sqrt(90)));
  t.is(by.regions.tau, 1);
  t.is(by.cond.replaced, 1);
  t.is(by.regions.replaced, 0);
  // The rank-sum (search ranks: ties share the better rank): top0 0+0+0, top1 3, top2 6, top3 and dead
  // tie on cond and mse (rank 3) and differ on regions: 3+3+3 = 9 and 3+3+4 = 10.
  t.deepEqual(r.rows.map((x) => x.values['rank-sum']), [9, 0, 10, 6, 3]);
  t.is(by['rank-sum'].tau, -1);
  t.is(by.params.tau, null, 'a constant indicator');
  await t.throwsAsync(correlate([rows[0]], { dataset: 'cifar10' }), { message: /at least 2/ });
});

test('the sample is seeded, of distinct canonical classes', (t) => {
  const a = sampleNb201Classes(300, 4);
  t.deepEqual(a, sampleNb201Classes(300, 4));
  t.notDeepEqual(a, sampleNb201Classes(300, 5));
  t.is(new Set(a.map((x) => nb201CanonicalKey(x))).size, 300);
  t.is(new Set(sampleNb201Classes(5425, 0).map((x) => nb201CanonicalKey(x))).size, 5425, 'every class');
  t.throws(() => sampleNb201Classes(5426, 0), { message: /1\.\.5425/ });
});

test('ticks: round linear steps, decades on a log axis, readable labels', (t) => {
  t.deepEqual(linearTicks(0, 10), [0, 2, 4, 6, 8, 10]);
  t.deepEqual(linearTicks(0.93, 1.52), [1, 1.1, 1.2, 1.3, 1.4, 1.5]);
  t.deepEqual(logTicks(30, 2e5), [100, 1000, 10000, 100000]);
  t.deepEqual(logTicks(3, 80), [5, 10, 20, 50]);
  t.deepEqual([formatTick(100000), formatTick(2e6), formatTick(1500), formatTick(0.5), formatTick(0)], ['100k', '2M', '1500', '0.5', '0']);
});

test('the scatter SVG has a panel per indicator with its title, axes and points, and escapes text', (t) => {
  const svg = scatterSvg({
    title: 'A & B',
    panels: [
      { title: 'cond: τ = −0.5', xLabel: 'cond', yLabel: 'acc', points: [{ x: 10, y: 90 }, { x: 1e4, y: 50 }, { x: 5e3, y: 10, flagged: true }] },
      { title: 'regions', xLabel: 'regions', yLabel: 'acc', points: [{ x: 1, y: 2 }, { x: 2, y: 3 }], xScale: 'linear' },
    ],
    legend: { point: 'arch', flagged: 'bad' },
  });
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.true(svg.trimEnd().endsWith('</svg>'));
  t.true(svg.includes('A &amp; B'));
  t.true(svg.includes('cond: τ = −0.5'));
  t.true(svg.includes('cond (log scale)'), 'x spanning 3 decades is logarithmic');
  t.false(svg.includes('regions (log scale)'));
  t.is((svg.match(/<circle cx/g) ?? []).length, 4 + 1, 'plain points, and the legend');
  t.regex(svg, /class="x"/);
  t.false(/NaN|undefined/.test(svg));
  // With yRange 'unflagged', a flagged outlier does not stretch the y axis: it sits on the frame's edge.
  const points = [{ x: 1, y: 80 }, { x: 2, y: 90 }, { x: 3, y: 10, flagged: true }];
  const stretched = scatterSvg({ title: '', panels: [{ title: '', xLabel: '', yLabel: '', points }] });
  const tight = scatterSvg({ title: '', panels: [{ title: '', xLabel: '', yLabel: '', points, yRange: 'unflagged' }] });
  t.true(stretched.includes('>20</text>'));
  t.false(tight.includes('>20</text>'));
  t.true(tight.includes('>84</text>'));
});

test('tegnas correlate scores a small sample and prints the table, JSON and a plot', (t) => {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-corr-'));
  const plot = join(dir, 'c.svg');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'correlate', '--samples', '6', '--repeat', '1', '--batch-size', '16', '--seed', '2', '--json', '--plot', plot], { cwd: root, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.is(j.rows.length, 6);
  t.deepEqual(j.correlations.map((c: { indicator: string }) => c.indicator), [...CORRELATE_INDICATORS]);
  for (const c of j.correlations) t.true(c.tau === null || (c.tau >= -1 && c.tau <= 1));
  t.deepEqual(j.rows.map((x: { arch: string }) => x.arch), sampleNb201Classes(6, 2));
  const svg = readFileSync(plot, 'utf8');
  // Every architecture in every panel, plus the legend's marks (a cross only when some are bad).
  const bad = j.rows.filter((x: { bad: boolean }) => x.bad).length;
  t.is((svg.match(/<circle cx/g) ?? []).length, 7 * (6 - bad) + 1);
  t.is((svg.match(/l6 6m0-6l-6 6/g) ?? []).length, 7 * bad + (bad ? 1 : 0));
  const usage = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'correlate', '--space', 'darts'], { cwd: root, encoding: 'utf8' });
  t.is(usage.status, 2);
  t.regex(usage.stderr, /only nas-bench-201 has a ground-truth/);
});
