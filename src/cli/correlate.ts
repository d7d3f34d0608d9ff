/** `tegnas correlate`: how well each indicator ranks a sample of NAS-Bench-201 against its accuracy. */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CORRELATE_INDICATORS, type CorrelationReport, INDICATOR_INFO, NB201_CLASSES, type ScoredArch, correlate, sampleNb201Classes } from '../analysis/correlate.js';
import { scatterSvg } from '../analysis/scatter-svg.js';
import type { Nb201Dataset } from '../benchmarks/nb201.js';
import { SPACES, type SpaceName } from '../scoring/indicators.js';
import { type Architecture, Scorer } from '../scoring/scorer.js';
import { ScoreDb } from '../store/score-db.js';
import { Rng } from '../weights/rng.js';
import { INIT_NAMES, type InitName } from '../weights/init.js';
import { UsageError, choiceFlag, intFlag } from './args.js';
import { formatDuration, progressBar } from './progress.js';

const CORRELATE_DATASETS = ['cifar10', 'cifar100', 'ImageNet16-120'] as const;
type CorrelateDataset = (typeof CORRELATE_DATASETS)[number];

export const CORRELATE_HELP = `tegnas correlate [options]
  How well each indicator ranks architectures: scores a seeded sample of NAS-Bench-201 architectures
  (distinct canonical classes) and prints the Kendall tau-b and Spearman rho (ties averaged) of cond,
  mse, regions, naswot, params, flops and the TEG rank-sum (the searches' ranking: ranks of cond,
  regions and mse summed) against their NAS-Bench-201 test accuracy. A good indicator correlates with
  the sign of its direction: negative for cond, mse and the rank-sum (lower is better), positive for
  the others. Bad architectures (the NTK or the regression failed) are ranked as a search ranks them:
  their cond and mse are the worst (largest) among the sample, so they tie last on those, which their
  rank-sum counts; a missing NASWOT takes the lowest in the sample. The plot marks them with red crosses.
  --space NAME        nas-bench-201 (the space with a ground-truth table)
  --dataset NAME      ${CORRELATE_DATASETS.join(' | ')} (default cifar10): whose test accuracy (200 epochs)
                      to correlate with, and whose images to score on when --data-dir holds them;
                      without --data-dir the indicators are scored on the CIFAR-10 sample shipped with tegnas
  --data-dir DIR      where the dataset's official files are
  --samples N         architectures (default 100, at most ${NB201_CLASSES}: every class); about 2-4 s each on 2 cores
  --seed N            seed of the sample, the networks and the batches (default 0)
  --repeat N          networks per indicator (default 3)
  --batch-size N      NTK batch (default 64)
  --init NAME         ${INIT_NAMES.join(' | ')} (default torch-default)
  --threads N         engine threads (default: all cores)
  --plot FILE.svg     one scatter plot per indicator against the accuracy, tau and rho in each title
  --json              print one JSON object (the correlations and every architecture's values)
  --db FILE           correlate the scores of a database ('tegnas precompute') instead of scoring:
                      every row, or a seeded sample of --samples rows; scoring flags are then ignored`;

/**
 * The rows of a sample scored by a Scorer, in order, several at a time (all cores). The seam for other
 * sources of scores: correlate() takes any async iterable of { arch, scores }.
 */
export async function* scoredSample(archs: readonly string[], scorer: Scorer, slice = 8): AsyncGenerator<ScoredArch> {
  for (let i = 0; i < archs.length; i += slice) {
    const part = archs.slice(i, i + slice);
    const scores = await scorer.scoreMany(part as Architecture[]);
    for (let k = 0; k < part.length; k++) yield { arch: part[k], scores: scores[k] };
  }
}

const fmt = (v: number | null, d = 3) => (v === null ? 'n/a' : (v >= 0 ? ' ' : '') + v.toFixed(d));

export function correlationTable(r: CorrelationReport): string {
  const lines = [`${'indicator'.padEnd(10)} ${'better'.padEnd(7)} ${'Kendall tau-b'.padStart(13)} ${'Spearman rho'.padStart(13)}   bad -> worst`];
  for (const c of r.correlations)
    lines.push(`${c.indicator.padEnd(10)} ${c.better.padEnd(7)} ${fmt(c.tau).padStart(13)} ${fmt(c.rho).padStart(13)}   ${c.replaced || ''}`);
  return lines.join('\n');
}

/** What the figure says about how it was made. */
export interface PlotSetup {
  samples: number;
  seed: number;
  repeat: number;
  batchSize: number;
  init: string;
  /** Where the indicators' images came from (Scorer.batches.source). */
  scoredOn: string;
}

export function correlationPlot(r: CorrelationReport, o: PlotSetup): string {
  const accLabel = `${r.dataset} test accuracy (%)`;
  const bad = r.rows.filter((x) => x.bad).length;
  return scatterSvg({
    title: `How well do the indicators rank NAS-Bench-201? ${o.samples} architectures against ${r.dataset} test accuracy`,
    subtitle:
      `tegnas correlate --samples ${o.samples} --seed ${o.seed}: distinct canonical classes; indicators on ${o.scoredOn}, ` +
      `${o.repeat} network${o.repeat > 1 ? 's' : ''} each, NTK batch ${o.batchSize}, ${o.init}. \u03c4 = Kendall tau-b, \u03c1 = Spearman rho.`,
    columns: 4,
    legend: {
      point: 'one architecture (one NAS-Bench-201 class)',
      ...(bad ? { flagged: 'bad (NTK or regression failed): cond, mse and rank-sum at the worst value; accuracy below the axis: on its edge' } : {}),
    },
    panels: CORRELATE_INDICATORS.map((ind) => {
      const c = r.correlations.find((x) => x.indicator === ind)!;
      const info = INDICATOR_INFO[ind];
      const t = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3).replace('-', '\u2212'));
      return {
        title: `${ind}: \u03c4 = ${t(c.tau)}, \u03c1 = ${t(c.rho)}`,
        subtitle: `${info.label}: ${info.better} is better`,
        xLabel: ind === 'rank-sum' ? 'rank-sum (sum of 3 ranks; 0 = best)' : info.label,
        yLabel: accLabel,
        xScale: ind === 'cond' || ind === 'mse' || ind === 'params' || ind === 'flops' ? 'auto' : 'linear',
        points: r.rows.map((row) => ({ x: row.values[ind], y: row.accuracy, flagged: row.bad })),
        yRange: 'unflagged' as const,
      };
    }),
  });
}

export async function correlateCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      space: { type: 'string' },
      dataset: { type: 'string' },
      'data-dir': { type: 'string' },
      samples: { type: 'string' },
      seed: { type: 'string' },
      repeat: { type: 'string' },
      'batch-size': { type: 'string' },
      init: { type: 'string' },
      threads: { type: 'string' },
      plot: { type: 'string' },
      json: { type: 'boolean' },
      db: { type: 'string' },
    },
    strict: true,
  });
  // Every flag is checked before any work starts.
  const space = choiceFlag<SpaceName>('space', values.space, 'nas-bench-201', SPACES);
  if (space !== 'nas-bench-201') throw new UsageError(`--space ${space}: only nas-bench-201 has a ground-truth accuracy table to correlate with`);
  const dataset = choiceFlag<CorrelateDataset>('dataset', values.dataset, 'cifar10', CORRELATE_DATASETS);
  const samples = intFlag('samples', values.samples, 100, 2, NB201_CLASSES);
  const seed = intFlag('seed', values.seed, 0, 0);
  const repeat = intFlag('repeat', values.repeat, 3, 1, 100);
  const batchSize = intFlag('batch-size', values['batch-size'], 64, 2, 4096);
  const init = choiceFlag<InitName>('init', values.init, 'torch-default', INIT_NAMES);
  const threads = values.threads === undefined ? undefined : intFlag('threads', values.threads, 1, 1, 1024);
  const dataDir = values['data-dir'];
  if (dataDir !== undefined && (!existsSync(dataDir) || !statSync(dataDir).isDirectory()))
    throw new UsageError(`--data-dir ${dataDir} is not a readable folder`);
  if (values.plot !== undefined) {
    if (!values.plot.trim()) throw new UsageError('--plot must be a file name');
    const folder = dirname(resolve(values.plot));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`--plot ${values.plot}: the folder ${folder} does not exist`);
  }

  if (values.db !== undefined && !existsSync(values.db)) throw new UsageError(`--db ${values.db}: no such file`);
  const t0 = performance.now();
  if (values.db !== undefined) {
    // Every stored class (or a seeded sample of them): no scoring.
    const db = ScoreDb.open(values.db);
    let rows: ScoredArch[];
    try {
      rows = db.all().map((scores) => ({ arch: scores.arch, scores }));
    } finally {
      db.close();
    }
    if (values.samples !== undefined && samples < rows.length) {
      const rng = new Rng(seed).fork('correlate:db');
      rows = rng.sample(rows, samples);
    }
    const m = db.meta;
    const report = await correlate(rows, { dataset: dataset as Nb201Dataset });
    const where = `${values.db} (scored on ${m.dataset}, seed ${m.seed}, repeat ${m.repeat})`;
    if (values.plot !== undefined)
      writeFileSync(values.plot, correlationPlot(report, { samples: rows.length, seed: m.seed, repeat: m.repeat, batchSize: m.batchSize, init: m.init, scoredOn: where }));
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ space, dataset, scoredOn: where, samples: rows.length, correlations: report.correlations, rows: report.rows }, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [`${rows.length} NAS-Bench-201 classes from ${where} against ${dataset} test accuracy`, '', correlationTable(report), '',
        'A good indicator has the sign of its direction: negative when lower is better, positive when higher is.',
        ...(values.plot !== undefined ? [`plot: ${values.plot}`] : []), ''].join('\n'),
    );
    return;
  }
  // Without a data folder, the shipped CIFAR-10 sample (whatever accuracy column is asked for).
  const scorer = new Scorer({ space, dataset: dataDir === undefined ? 'cifar10' : dataset, dataDir, seed, repeat, batchSize, init, threads });
  const archs = sampleNb201Classes(samples, seed);
  const bar = progressBar();
  const report = await correlate(scoredSample(archs, scorer), {
    dataset: dataset as Nb201Dataset,
    onRow: (_row, n) => {
      const s = (performance.now() - t0) / 1000;
      bar.update('correlate', n, samples, `${n}/${samples} architectures scored, ${formatDuration(s)}, ~${formatDuration((s / n) * (samples - n))} left`);
    },
  });
  bar.done();
  const seconds = (performance.now() - t0) / 1000;

  const where = scorer.batches.source;
  if (values.plot !== undefined) writeFileSync(values.plot, correlationPlot(report, { samples, seed, repeat, batchSize, init, scoredOn: where }));
  if (values.json) {
    const json = { space, dataset, scoredOn: where, samples, seed, repeat, batchSize, init, seconds, correlations: report.correlations, rows: report.rows };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return;
  }
  const bad = report.rows.filter((r) => r.bad).length;
  process.stdout.write(
    [
      `${samples} NAS-Bench-201 architectures (distinct classes, seed ${seed}) against ${dataset} test accuracy`,
      `indicators on ${where}, ${repeat} network${repeat > 1 ? 's' : ''} each, NTK batch ${batchSize}; ${bad} bad; ${formatDuration(seconds)}`,
      '',
      correlationTable(report),
      '',
      'A good indicator has the sign of its direction: negative when lower is better, positive when higher is.',
      ...(values.plot !== undefined ? [`plot: ${values.plot}`] : []),
      '',
    ].join('\n'),
  );
}
