/** `tegnas score`: the TEG indicators of one architecture, on the shipped data by default. */
import { parseArgs } from 'node:util';
import { DATASETS, type DatasetName } from '../data/datasets.js';
import { SPACES, type SpaceName } from '../scoring/indicators.js';
import { Scorer, type ScorerOptions } from '../scoring/scorer.js';
import { type Summary, summarise } from '../analysis/summary.js';
import type { TegScores } from '../scoring/indicators.js';
import { progressBar } from './progress.js';
import { INIT_NAMES, type InitName } from '../weights/init.js';
import { BACKEND_CHOICES, type BackendChoice } from '../native.js';
import { UsageError, choiceFlag, intFlag } from './args.js';

export const SCORE_HELP = `tegnas score --arch TEXT [options]
  The TEG indicators of one architecture: NTK condition number, NTK regression MSE, linear regions,
  NASWOT, parameters and FLOPs of the evaluation network.
  --space NAME        nas-bench-201 | darts (default nas-bench-201)
  --arch TEXT         an arch string (|op~0|+|op~0|op~1|+|op~0|op~1|op~2|) or a DARTS Genotype(...) text
  --dataset NAME      ${DATASETS.join(' | ')} (default cifar10: the shipped images)
  --data-dir DIR      where the dataset's official files are
  --seed N            seed of the networks and batches (default 0)
  --seeds K           score with K seeds (--seed, --seed + 1, ...): each indicator's mean, standard
                      deviation, relative spread (std / mean) and per-seed values, to see how much an
                      indicator depends on the random networks and batches (not with --weights/--inputs)
  --repeat N          networks per indicator (default 3)
  --init NAME         ${INIT_NAMES.join(' | ')} (default torch-default)
  --weights FILE      safetensors with ntk.<r>.<name> and thin.<r>.<name> for r = 0..repeat-1
  --inputs FILE       safetensors with ntk.x, ntk.y, val.x, val.y, regions.x
  --threads N         engine threads (default: all cores)
  --backend NAME      auto | cpu | cuda: where the indicators are computed (default auto: the GPU
                      when the CUDA backend works here, see 'tegnas backend')
  --json              print one JSON object`;

export async function scoreCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      space: { type: 'string' },
      arch: { type: 'string' },
      dataset: { type: 'string' },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      seeds: { type: 'string' },
      repeat: { type: 'string' },
      init: { type: 'string' },
      weights: { type: 'string' },
      inputs: { type: 'string' },
      threads: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.arch) throw new UsageError('--arch is required (an arch string or a DARTS genotype text)');
  const space = choiceFlag<SpaceName>('space', values.space, 'nas-bench-201', SPACES);
  const dataset = choiceFlag<DatasetName>('dataset', values.dataset, 'cifar10', DATASETS);
  const seed = intFlag('seed', values.seed, 0, 0);
  const seeds = intFlag('seeds', values.seeds, 1, 1, 1000);
  if (values.seeds !== undefined && (values.weights !== undefined || values.inputs !== undefined))
    throw new UsageError('--seeds draws networks and batches from each seed: it cannot be combined with --weights or --inputs');
  const options: ScorerOptions = {
    space,
    dataset,
    dataDir: values['data-dir'],
    seed,
    repeat: intFlag('repeat', values.repeat, 3, 1, 100),
    init: choiceFlag<InitName>('init', values.init, 'torch-default', INIT_NAMES),
    weights: values.weights,
    inputs: values.inputs,
    threads: values.threads === undefined ? undefined : intFlag('threads', values.threads, 1, 1, 1024),
    backend: choiceFlag<BackendChoice>('backend', values.backend, 'auto', BACKEND_CHOICES),
  };
  if (values.seeds !== undefined) return scoreSeeds(values.arch, options, seeds, Boolean(values.json));
  const scorer = new Scorer(options);
  const s = await scorer.score(values.arch);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ space, dataset: values.inputs ? `inputs ${values.inputs}` : dataset, ...s }, null, 2)}\n`);
    return;
  }
  const f = (v: number | null, d = 4) => (v === null ? 'n/a' : v.toPrecision(d));
  process.stdout.write(
    [
      `arch      ${s.arch}`,
      `cond      ${f(s.cond, 6)}   (NTK condition number, lower is better)`,
      `mse       ${f(s.mse, 6)}   (NTK regression error, lower is better)`,
      `regions   ${s.regions.toFixed(1)}   (linear regions, higher is better)`,
      `naswot    ${f(s.naswot, 6)}`,
      `params    ${s.params.toFixed(4)} M   flops ${s.flops.toFixed(2)} M   (evaluation network)`,
      `bad       ${s.bad ? `yes: ${s.badReason}` : 'no'}`,
      `repeats   ${s.repeats.map((r) => `[cond ${f(r.cond)}, mse ${f(r.mse)}, regions ${r.regions}]`).join(' ')}`,
      `time      ${s.seconds.total.toFixed(2)} s on the ${scorer.backend === 'cuda' ? 'GPU' : 'CPU'} (ntk ${s.seconds.ntk.toFixed(2)}, regions ${s.seconds.regions.toFixed(3)}, naswot ${s.seconds.naswot.toFixed(3)})`,
      '',
    ].join('\n'),
  );
}

const SEED_INDICATORS = ['cond', 'mse', 'regions', 'naswot'] as const;

/** `--seeds K`: the indicators over K seeds, with their spread. */
async function scoreSeeds(arch: string, options: ScorerOptions, k: number, json: boolean): Promise<void> {
  const first = options.seed ?? 0;
  const per: TegScores[] = [];
  const t0 = performance.now();
  const bar = json ? undefined : progressBar();
  for (let i = 0; i < k; i++) {
    bar?.update('score', i, k, `seed ${first + i} (${i + 1} of ${k})`);
    per.push(await new Scorer({ ...options, seed: first + i }).score(arch));
  }
  bar?.done();
  const summary = Object.fromEntries(SEED_INDICATORS.map((ind) => {
    const values = per.map((s) => s[ind]);
    return [ind, { ...summarise(values), values }];
  })) as Record<(typeof SEED_INDICATORS)[number], Summary & { values: (number | null)[] }>;
  const seeds = per.map((_, i) => first + i);
  const bad = per.flatMap((s, i) => (s.bad ? [`seed ${seeds[i]}: ${s.badReason}`] : []));
  if (json) {
    process.stdout.write(`${JSON.stringify({ space: options.space, dataset: options.dataset, arch: per[0].arch, seeds, repeat: options.repeat, summary, perSeed: per }, null, 2)}\n`);
    return;
  }
  const f = (v: number | null, d = 5) => (v === null ? 'n/a' : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(d - 1) : v.toPrecision(d));
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(1)} %`);
  const lines = [
    `arch      ${per[0].arch}`,
    `seeds     ${seeds[0]}..${seeds[seeds.length - 1]} (${k} seeds, ${options.repeat} networks per indicator each)`,
    `          ${'mean'.padStart(11)} ${'std'.padStart(11)} ${'std/mean'.padStart(9)}   per seed`,
  ];
  for (const ind of SEED_INDICATORS) {
    const s = summary[ind];
    const better = ind === 'cond' || ind === 'mse' ? 'lower is better' : 'higher is better';
    lines.push(`${ind.padEnd(9)} ${f(s.mean).padStart(11)} ${f(s.std).padStart(11)} ${pct(s.cv).padStart(9)}   ${s.values.map((v) => f(v, 4)).join(' ')}   (${better}${s.n < k ? `; n/a for ${k - s.n} of ${k} seeds` : ''})`);
  }
  lines.push(`params    ${per[0].params.toFixed(4)} M   flops ${per[0].flops.toFixed(2)} M   (evaluation network: the same for every seed)`);
  lines.push(`bad       ${bad.length ? bad.join('; ') : 'no'}`);
  lines.push(`time      ${((performance.now() - t0) / 1000).toFixed(1)} s`, '');
  process.stdout.write(lines.join('\n'));
}
