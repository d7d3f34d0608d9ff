/** `tegnas precompute`: every NAS-Bench-201 class scored into an SQLite database that searches can read. */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DATASETS, type DatasetName } from '../data/datasets.js';
import { SPACES, type SpaceName } from '../scoring/indicators.js';
import { Scorer } from '../scoring/scorer.js';
import { precompute } from '../store/precompute.js';
import { INIT_NAMES, type InitName } from '../weights/init.js';
import { BACKEND_CHOICES, type BackendChoice } from '../native.js';
import { UsageError, choiceFlag, intFlag } from './args.js';
import { formatDuration, progressBar } from './progress.js';

const NB201_CLASSES = 5425;

export const PRECOMPUTE_HELP = `tegnas precompute [options]
  Scores every NAS-Bench-201 architecture once per canonical class (5,425 classes, lowest official
  index first) into an SQLite database, each score saved as soon as it is computed: a stopped run
  resumes where it stopped. 'tegnas search --db FILE' then reads scores instead of computing them.
  --space NAME        nas-bench-201 (the only enumerable space)
  --dataset NAME      ${DATASETS.join(' | ')} (default cifar10: the shipped images)
  --data-dir DIR      where the dataset's official files are
  --out FILE          the database (default scores.sqlite; created, or resumed if it exists)
  --seed N            seed of the networks and batches (default 0)
  --repeat N          networks per indicator (default 3)
  --batch-size N      NTK batch (default 64)
  --init NAME         ${INIT_NAMES.join(' | ')} (default torch-default)
  --threads N         engine threads (default: all cores)
  --backend NAME      auto | cpu | cuda: where the indicators are computed (default auto: the GPU
                      when the CUDA backend works here, see 'tegnas backend')
  --limit N           score only the first N classes not yet in the database (a timed sample)`;

export async function precomputeCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      space: { type: 'string' },
      dataset: { type: 'string' },
      'data-dir': { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      repeat: { type: 'string' },
      'batch-size': { type: 'string' },
      init: { type: 'string' },
      threads: { type: 'string' },
      backend: { type: 'string' },
      limit: { type: 'string' },
    },
    strict: true,
  });
  // Every flag is checked before any work starts.
  const space = choiceFlag<SpaceName>('space', values.space, 'nas-bench-201', SPACES);
  if (space !== 'nas-bench-201')
    throw new UsageError(`--space ${space} cannot be precomputed: only nas-bench-201 (15,625 architectures) is enumerable`);
  const dataset = choiceFlag<DatasetName>('dataset', values.dataset, 'cifar10', DATASETS);
  const seed = intFlag('seed', values.seed, 0, 0);
  const repeat = intFlag('repeat', values.repeat, 3, 1, 100);
  const batchSize = intFlag('batch-size', values['batch-size'], 64, 2, 4096);
  const init = choiceFlag<InitName>('init', values.init, 'torch-default', INIT_NAMES);
  const threads = values.threads === undefined ? undefined : intFlag('threads', values.threads, 1, 1, 1024);
  const backend = choiceFlag<BackendChoice>('backend', values.backend, 'auto', BACKEND_CHOICES);
  const limit = values.limit === undefined ? undefined : intFlag('limit', values.limit, 1, 1, NB201_CLASSES);
  const dataDir = values['data-dir'];
  if (dataDir !== undefined && (!existsSync(dataDir) || !statSync(dataDir).isDirectory()))
    throw new UsageError(`--data-dir ${dataDir} is not a readable folder`);
  const out = values.out ?? 'scores.sqlite';
  if (!out.trim()) throw new UsageError('--out must be a file name');
  const folder = dirname(resolve(out));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`--out ${out}: the folder ${folder} does not exist`);
  if (existsSync(out) && !statSync(out).isFile()) throw new UsageError(`--out ${out} is not a file`);

  const scorer = new Scorer({ space, dataset, dataDir, seed, repeat, batchSize, init, threads, backend, db: out, cache: false });
  const db = scorer.db!;
  const before = db.count();
  process.stdout.write(
    `precompute ${space} (${scorer.batches.source}), seed ${seed}, repeat ${repeat} -> ${out}: ${before.toLocaleString('en-US')} of ${NB201_CLASSES.toLocaleString('en-US')} classes stored\n`,
  );
  const bar = progressBar();
  // Ctrl-C or a kill: every finished score is already on disk; release the database and say so.
  const stop = (signal: NodeJS.Signals) => {
    bar.done();
    const kept = db.isOpen ? db.count() : undefined;
    scorer.close();
    process.stderr.write(`tegnas: stopped by ${signal}; ${kept ?? 'the'} scores are kept in ${out}; run the same command to resume\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const r = await precompute(scorer, {
      limit,
      onProgress: (p) => {
        const rate = p.done / p.seconds;
        bar.update(
          'precompute',
          p.done,
          p.total,
          `${p.done}/${p.total} (${p.stored}/${p.classes} stored) ${rate.toFixed(2)} archs/s, ${formatDuration(p.seconds)}, ~${formatDuration((p.total - p.done) / rate)} left`,
        );
      },
    });
    bar.done();
    const n = (v: number) => v.toLocaleString('en-US');
    const lines: string[] = [];
    if (r.scored === 0) lines.push(`nothing to score: all ${n(r.classes)} classes are in ${out}`);
    else {
      lines.push(`scored ${n(r.scored)} architecture${r.scored === 1 ? '' : 's'} in ${r.seconds.toFixed(1)} s (${r.rate.toFixed(3)} archs/s, ${(1 / r.rate).toFixed(2)} s each)`);
      lines.push(
        r.stored < r.classes
          ? `${out} holds ${n(r.stored)} of ${n(r.classes)} classes; the other ${n(r.classes - r.stored)} would take about ${formatDuration((r.classes - r.stored) / r.rate)} at this rate`
          : `${out} holds all ${n(r.classes)} classes`,
      );
      lines.push(`projected time for the whole space (${n(r.classes)} classes) at this rate: ${formatDuration(r.classes / r.rate)} (${(r.classes / r.rate).toFixed(0)} s)`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    scorer.close();
  }
}
