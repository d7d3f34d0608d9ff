import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summarise } from '../src/analysis/summary.js';
import type { TegScores } from '../src/scoring/indicators.js';
import { Scorer } from '../src/scoring/scorer.js';

const ARCHS = [
  '|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|',
  '|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|',
];

const numbers = (s: TegScores) => ({
  cond: s.cond,
  mse: s.mse,
  regions: s.regions,
  naswot: s.naswot,
  repeats: s.repeats.map((r) => [r.cond, r.mse, r.regions, r.naswot]),
});

async function scoreAll(seed: number, threads: number): Promise<TegScores[]> {
  const scorer = new Scorer({ space: 'nas-bench-201', seed, repeat: 1, threads });
  const out: TegScores[] = [];
  for (const a of ARCHS) out.push(await scorer.score(a));
  return out;
}

test('the same seed gives bit-identical scores for a given thread count, and within 1e-6 relative across thread counts', async (t) => {
  const byThreads = new Map<number, TegScores[]>();
  for (const threads of [1, 2, 3]) {
    const a = await scoreAll(7, threads);
    const b = await scoreAll(7, threads);
    for (let i = 0; i < ARCHS.length; i++) t.deepEqual(numbers(a[i]), numbers(b[i]), `${threads} threads, ${ARCHS[i]}`);
    byThreads.set(threads, a);
  }
  const one = byThreads.get(1)!;
  let identical = true;
  for (const [threads, other] of byThreads) {
    for (let i = 0; i < ARCHS.length; i++) {
      const x = one[i], y = other[i];
      for (const k of ['cond', 'mse', 'naswot'] as const) {
        const rel = Math.abs(x[k]! - y[k]!) / Math.abs(x[k]!);
        t.true(rel <= 1e-6, `${k} with 1 and ${threads} threads: ${x[k]} vs ${y[k]}`);
        if (x[k] !== y[k]) identical = false;
      }
      t.is(x.regions, y.regions, 'linear regions are counts');
    }
  }
  t.log(identical ? 'bit-identical across 1, 2 and 3 threads' : 'equal within 1e-6 across thread counts, not bit-identical');
  // Another seed draws other networks and batches.
  const other = await scoreAll(8, 2);
  t.not(other[0].cond, one[0].cond);
});

test('mean and sample standard deviation over seeds', (t) => {
  const s = summarise([896, 1274, 890, null]);
  t.is(s.n, 3);
  t.is(s.mean, 1020);
  // Deviations -124, 254, -130: (15376 + 64516 + 16900) / 2 = 48396.
  t.is(s.std, Math.sqrt(48396));
  t.is(s.cv, Math.sqrt(48396) / 1020);
  t.deepEqual([s.min, s.max], [890, 1274]);
  t.deepEqual(summarise([5]), { n: 1, mean: 5, std: 0, cv: 0, min: 5, max: 5 });
  t.is(summarise([null]).mean, null);
});

test('tegnas score --seeds K reports each indicator over K seeds with its spread and per-seed values', (t) => {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const arch = ARCHS[1];
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'score', '--arch', arch, '--seeds', '3', '--seed', '4', '--repeat', '1', '--json'], { cwd: root, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.deepEqual(j.seeds, [4, 5, 6]);
  t.is(j.perSeed.length, 3);
  for (const k of ['cond', 'mse', 'regions', 'naswot']) {
    t.deepEqual(j.summary[k].values, j.perSeed.map((s: TegScores) => s[k as 'cond']));
    t.true(j.summary[k].std > 0, `${k} varies with the seed`);
  }
  const again = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'score', '--arch', arch, '--seed', '5', '--repeat', '1', '--json'], { cwd: root, encoding: 'utf8' });
  t.is(JSON.parse(again.stdout).cond, j.perSeed[1].cond, 'seed 5 of --seeds is tegnas score --seed 5');
  const text = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'score', '--arch', arch, '--seeds', '2', '--repeat', '1'], { cwd: root, encoding: 'utf8' });
  t.is(text.status, 0, text.stderr);
  t.regex(text.stdout, /^cond +\S+ +\S+ +\S+ %   \S+ \S+ +\(lower is better\)$/m);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'score', '--arch', arch, '--seeds', '2', '--inputs', 'x.safetensors'], { cwd: root, encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--seeds .* cannot be combined with --weights or --inputs/);
});
