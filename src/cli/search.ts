/** `tegnas search`: a full training-free search, answered at the end by the NAS-Bench-201 ground truth. */
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Nb201Dataset, NB201_DATASETS, nb201Table } from '../benchmarks/nb201.js';
import { DATASETS, type DatasetName } from '../data/datasets.js';
import { SPACES, type SpaceName } from '../scoring/indicators.js';
import { Scorer, type ScorerOptions } from '../scoring/scorer.js';
import { FileJournal } from '../search/journal.js';
import { runSearch } from '../search/run.js';
import { ALGOS, type AlgoName, MAX_SEARCH_BUDGET } from '../search/types.js';
import { INIT_NAMES, type InitName } from '../weights/init.js';
import { BACKEND_CHOICES, type BackendChoice, nativeVersion } from '../native.js';
import { UsageError, choiceFlag, intFlag } from './args.js';
import { progressPrinter } from './progress.js';

export const SEARCH_HELP = `tegnas search [options]
  A training-free architecture search guided by the TEG indicators.
  --space NAME        nas-bench-201 | darts (default nas-bench-201)
  --algo NAME         ${ALGOS.join(' | ')} (default evolution)
  --dataset NAME      ${DATASETS.join(' | ')} (default cifar10: the shipped images)
  --data-dir DIR      where the dataset's official files are
  --seed N            seed of the networks, batches and search (default 0)
  --steps N           evolution: 1000 mutations; reinforce: 500 steps; random: 1256 evaluations
  --population N      evolution population (default 256)
  --sample N          evolution tournament size (default 64)
  --lr X              REINFORCE learning rate (default 0.04, DARTS 0.07)
  --repeat N          networks per indicator (default 3)
  --batch-size N      NTK batch (default 64; pruning: 72 NAS-Bench-201, 14 DARTS)
  --init NAME         ${INIT_NAMES.join(' | ')} (default: the reference's for the algorithm)
  --threads N         engine threads (default: all cores)
  --backend NAME      auto | cpu | cuda: where the indicators are computed (default auto: the GPU
                      when the CUDA backend works here, see 'tegnas backend')
  --db FILE           a score database ('tegnas precompute'): stored classes are read, not scored;
                      others are scored and added. Its options must match this search's
  --db-exact          use a stored score only if it was computed for that very arch, not another
                      member of its class: the results are then those of a search without --db
  --out FILE.json     write the result and the history of every evaluation
  --journal FILE      write every evaluation to FILE as it is made (synced to disk), so that a stopped
                      or killed search can be resumed; default with --out X.json: X.journal.jsonl.
                      Removed once the --out file is written; without --out and --journal: no journal
  --resume FILE       continue the search journaled in FILE: its options are taken from the journal
                      (options given must equal them), journaled evaluations are replayed, not scored,
                      and the result is exactly that of a search never stopped (same best, history
                      and --out JSON apart from timings)`;

function floatFlag(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v.trim()) || !(n > min && n <= max))
    throw new UsageError(`--${name} must be a number in (${min}, ${max}], got '${v}'`);
  return n;
}

/** The flags that define a search (recorded in its journal; a resumed search must have the same). */
const SEARCH_FLAGS = {
  space: { type: 'string' },
  algo: { type: 'string' },
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  seed: { type: 'string' },
  steps: { type: 'string' },
  population: { type: 'string' },
  sample: { type: 'string' },
  lr: { type: 'string' },
  repeat: { type: 'string' },
  'batch-size': { type: 'string' },
  init: { type: 'string' },
  threads: { type: 'string' },
  backend: { type: 'string' },
  db: { type: 'string' },
  'db-exact': { type: 'boolean' },
} as const;
type SearchFlags = { [K in keyof typeof SEARCH_FLAGS]?: (typeof SEARCH_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** A search's options, every default filled in: what its journal records. */
interface SearchSettings {
  space: SpaceName;
  algo: AlgoName;
  dataset: DatasetName;
  dataDir: string | null;
  seed: number;
  steps: number;
  population: number;
  sample: number;
  lr: number;
  repeat: number;
  batchSize: number;
  init: InitName | null;
  threads: number;
  backend: BackendChoice;
  db: string | null;
  dbExact: boolean;
}

// Every flag is checked before any work starts.
function resolveSettings(values: SearchFlags): SearchSettings {
  const space = choiceFlag<SpaceName>('space', values.space, 'nas-bench-201', SPACES);
  const algo = choiceFlag<AlgoName>('algo', values.algo, 'evolution', ALGOS);
  const dataset = choiceFlag<DatasetName>('dataset', values.dataset, 'cifar10', DATASETS);
  const seed = intFlag('seed', values.seed, 0, 0);
  // Every evaluation stays in the history: a population beyond a million would exhaust the memory
  // before the first score (the DARTS space itself is unbounded for this purpose).
  const spaceSize = space === 'nas-bench-201' ? 15625 : MAX_SEARCH_BUDGET;
  const defaultSteps = { evolution: 1000, reinforce: 500, random: 1256, prune: 0 }[algo];
  const steps = intFlag('steps', values.steps, defaultSteps, algo === 'prune' ? 0 : 1, MAX_SEARCH_BUDGET);
  const population = intFlag('population', values.population, 256, 1, spaceSize);
  const sample = intFlag('sample', values.sample, Math.min(64, population), 1, population);
  const lr = floatFlag('lr', values.lr, space === 'darts' ? 0.07 : 0.04, 0, 100);
  const repeat = intFlag('repeat', values.repeat, 3, 1, 100);
  const batchSize = intFlag('batch-size', values['batch-size'], algo === 'prune' ? (space === 'darts' ? 14 : 72) : 64, 2, 4096);
  const init = values.init === undefined ? null : choiceFlag<InitName>('init', values.init, 'torch-default', INIT_NAMES);
  const threads = intFlag('threads', values.threads, availableParallelism(), 1, 1024);
  const backend = choiceFlag<BackendChoice>('backend', values.backend, 'auto', BACKEND_CHOICES);
  const dataDir = values['data-dir'];
  if (dataDir !== undefined && (!existsSync(dataDir) || !statSync(dataDir).isDirectory()))
    throw new UsageError(`--data-dir ${dataDir} is not a readable folder`);
  const db = values.db;
  if (db !== undefined) {
    if (!db.trim()) throw new UsageError('--db must be a file name');
    const folder = dirname(resolve(db));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`--db ${db}: the folder ${folder} does not exist`);
    if (existsSync(db) && !statSync(db).isFile()) throw new UsageError(`--db ${db} is not a file`);
  }
  if (values['db-exact'] && db === undefined) throw new UsageError('--db-exact needs --db FILE');
  return {
    space, algo, dataset, dataDir: dataDir === undefined ? null : resolve(dataDir), seed, steps, population, sample, lr, repeat, batchSize,
    init, threads, backend, db: db === undefined ? null : resolve(db), dbExact: values['db-exact'] ?? false,
  };
}

/** The flags that give `settings` (how a resumed search fills in the flags it was not given). */
function settingsFlags(o: SearchSettings): SearchFlags {
  return {
    space: o.space, algo: o.algo, dataset: o.dataset, ...(o.dataDir !== null ? { 'data-dir': o.dataDir } : {}), seed: String(o.seed),
    steps: String(o.steps), population: String(o.population), sample: String(o.sample), lr: String(o.lr), repeat: String(o.repeat),
    'batch-size': String(o.batchSize), ...(o.init !== null ? { init: o.init } : {}), threads: String(o.threads), backend: o.backend,
    ...(o.db !== null ? { db: o.db } : {}), ...(o.dbExact ? { 'db-exact': true } : {}),
  };
}

/** The journal beside an --out file: result.json -> result.journal.jsonl. */
export function defaultJournalPath(out: string): string {
  return `${out.replace(/\.json$/i, '')}.journal.jsonl`;
}

function checkNewFile(flag: string, file: string): void {
  if (!file.trim()) throw new UsageError(`--${flag} must be a file name`);
  const folder = dirname(resolve(file));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`--${flag} ${file}: the folder ${folder} does not exist`);
}

/** Writes a file whole or not at all (a kill mid-write leaves the old file, or none). */
function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export async function searchCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...SEARCH_FLAGS, out: { type: 'string' }, journal: { type: 'string' }, resume: { type: 'string' } },
    strict: true,
  });
  const given: SearchFlags = Object.fromEntries(Object.keys(SEARCH_FLAGS).filter((k) => k in values).map((k) => [k, values[k as keyof SearchFlags]]));
  if (values.out !== undefined) checkNewFile('out', values.out);
  if (values.journal !== undefined) checkNewFile('journal', values.journal);

  let settings: SearchSettings;
  let journal: FileJournal | undefined;
  let out = values.out;
  if (values.resume !== undefined) {
    if (values.journal !== undefined) throw new UsageError('--resume FILE continues the journal FILE: give --resume or --journal, not both');
    journal = FileJournal.open(values.resume);
    const recorded = journal.header.options as unknown as SearchSettings;
    try {
      // Flags not given are the journal's; flags given must agree with it.
      settings = resolveSettings({ ...settingsFlags(recorded), ...given });
      const differ = (Object.keys(recorded) as (keyof SearchSettings)[]).filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(recorded[k]));
      if (differ.length) {
        const show = (o: SearchSettings) => differ.map((k) => `${k} ${JSON.stringify(o[k])}`).join(', ');
        throw new UsageError(
          `--resume ${values.resume}: the journal is of a search with ${show(recorded)}, the command line asks for ${show(settings)}; a search resumes with its own options (leave them out)`,
        );
      }
    } catch (e) {
      journal.close();
      throw e;
    }
    const meta = journal.header.meta as { out?: string | null } | undefined;
    out ??= meta?.out ?? undefined;
  } else {
    settings = resolveSettings(given);
  }
  const { space, algo, dataset, seed, steps, population, sample, lr, repeat, batchSize, init, threads, backend } = settings;
  const dataDir = settings.dataDir ?? undefined, db = settings.db ?? undefined;
  const journalPath = values.resume ?? values.journal ?? (out !== undefined ? defaultJournalPath(out) : undefined);
  if (!journal && journalPath !== undefined && existsSync(journalPath))
    throw new UsageError(`the journal ${journalPath} of an unfinished search exists: continue it with 'tegnas search --resume ${journalPath}', or delete it`);

  const base: ScorerOptions = { space, dataset, dataDir, seed, repeat, batchSize, threads, backend };
  // The score database belongs to the TEG scorer (pruning's per-round scorers use other seeds and inits);
  // a database made with other options is refused here, before the search starts.
  const teg = new Scorer({ ...base, batchSize: algo === 'prune' ? 64 : batchSize, init: init ?? 'torch-default', db, dbExact: settings.dbExact });
  if (journal) {
    const torn = journal.droppedBytes ? ' (a torn last line dropped)' : '';
    process.stderr.write(`resuming ${journalPath}: ${journal.replay.size} evaluations journaled${torn}\n`);
  } else if (journalPath !== undefined) {
    journal = FileJournal.create(journalPath, {
      options: settings as unknown as Record<string, unknown>,
      meta: { out: out === undefined ? null : resolve(out), tegnas: nativeVersion() },
    });
    process.stderr.write(`journal ${journalPath} (if stopped, continue with: tegnas search --resume ${journalPath})\n`);
  }
  const progress = progressPrinter();
  const result = await runSearch(algo, teg, {
    seed,
    steps,
    population,
    sample,
    lr,
    journal,
    onProgress: progress.update,
    // TE-NAS pruning: kaiming-fanout NTK and kaiming-fanin thin networks, fresh each round, cond and regions only.
    pruneEvaluator: (round) =>
      new Scorer({ ...base, seed: seed * 1000 + round, init: init ?? 'kaiming-fanout', thinInit: init ?? 'kaiming-fanin', mse: false, naswot: false }),
  });
  progress.done();
  teg.close();

  const nb201 = space === 'nas-bench-201' ? nb201Table().byArch(result.best.arch) : undefined;
  const ranks = nb201 ? Object.fromEntries(NB201_DATASETS.map((d) => [d, nb201Table().rank(result.best.arch, d)])) : undefined;
  const s = result.best.scores;
  const f = (v: number | null, d = 5) => (v === null ? 'n/a' : v.toPrecision(d));
  const lines = [
    `${algo} on ${space} (${teg.batches.source}), seed ${seed}`,
    `best        ${result.best.arch}`,
    `indicators  cond ${f(s.cond)}  mse ${f(s.mse)}  regions ${s.regions.toFixed(1)}  naswot ${f(s.naswot)}  params ${s.params.toFixed(3)} M  flops ${s.flops.toFixed(1)} M${s.bad ? `  BAD: ${s.badReason}` : ''}`,
  ];
  if (nb201 && ranks) {
    lines.push(`NAS-Bench-201 index ${nb201.index}, test accuracy (rank among 15,625):`);
    for (const d of ['cifar10', 'cifar100', 'ImageNet16-120'] as Nb201Dataset[])
      lines.push(`  ${d.padEnd(15)} ${nb201.accuracy[d].toFixed(2)} %  (#${ranks[d]})`);
    lines.push(`  cifar10-valid   ${nb201.accuracy['cifar10-valid'].toFixed(2)} %  (x-valid, #${ranks['cifar10-valid']})`);
  }
  lines.push(`evaluations ${result.evaluations} (${result.unique} unique), ${result.seconds.toFixed(1)} s`);
  if (db !== undefined) lines.push(`score database ${db}: ${teg.dbHits} classes read from it, ${teg.evaluations} scored`);
  process.stdout.write(`${lines.join('\n')}\n`);

  if (out !== undefined) {
    const json = {
      algo,
      space,
      dataset,
      seed,
      options: { steps, population, sample, lr, repeat, batchSize, init: init ?? null },
      best: { arch: result.best.arch, scores: result.best.scores, ...(nb201 ? { nb201: { ...nb201, rank: ranks } } : {}) },
      evaluations: result.evaluations,
      unique: result.unique,
      seconds: result.seconds,
      history: result.history.map((e) => ({
        step: e.step,
        arch: e.arch,
        cond: e.scores.cond,
        mse: e.scores.mse,
        regions: e.scores.regions,
        naswot: e.scores.naswot,
        bad: e.scores.bad,
        ...(e.reward !== undefined ? { reward: e.reward } : {}),
        ...(space === 'nas-bench-201' && !e.arch.includes(',') ? { accuracy: nb201Table().byArch(e.arch).accuracy.cifar10 } : {}),
      })),
    };
    writeFileAtomic(out, `${JSON.stringify(json, null, 2)}\n`);
    // The result holds everything the journal held.
    journal?.remove();
  } else if (journal) {
    journal.close();
    process.stderr.write(`journal ${journalPath} kept (no --out)\n`);
  }
}
