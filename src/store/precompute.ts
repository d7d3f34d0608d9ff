/**
 * Precomputing a score database: every NAS-Bench-201 class scored once (its representative, lowest
 * official index first), each score committed as soon as it is computed, the classes already stored
 * skipped, so a killed run resumes where it stopped.
 */
import { nb201ClassRepresentatives } from '../benchmarks/nb201-classes.js';
import { TegnasError } from '../errors.js';
import type { Scorer } from '../scoring/scorer.js';

export interface PrecomputeProgress {
  /** Classes scored by this run, and how many it will score. */
  done: number;
  total: number;
  /** Classes in the database, of all classes in the space. */
  stored: number;
  classes: number;
  seconds: number;
  /** The architecture just scored. */
  arch: string;
}

export interface PrecomputeOptions {
  /** Score only the first `limit` classes not yet stored (default: all of them). */
  limit?: number;
  onProgress?: (p: PrecomputeProgress) => void;
  /** Architectures scored side by side (default: the scorer's thread count). */
  concurrency?: number;
  /** Stops between two architectures (everything scored so far is stored). */
  signal?: AbortSignal;
}

export interface PrecomputeResult {
  /** Classes scored by this run. */
  scored: number;
  seconds: number;
  /** Classes in the database now, of all classes in the space. */
  stored: number;
  classes: number;
  /** Scored classes per second in this run (NaN when it scored none). */
  rate: number;
}

/**
 * Scores the classes missing from `scorer`'s database (a Scorer built with `db`), in the order of
 * `nb201ClassRepresentatives()`.
 */
export async function precompute(scorer: Scorer, options: PrecomputeOptions = {}): Promise<PrecomputeResult> {
  const db = scorer.db;
  if (!db) throw new TegnasError('E_INPUT', 'precompute needs a Scorer with a score database (the db option)');
  if (scorer.space !== 'nas-bench-201')
    throw new TegnasError('E_INPUT', `only NAS-Bench-201 can be precomputed (its 15,625 architectures are enumerable), got ${scorer.space}`);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit)))
    throw new TegnasError('E_INPUT', `limit must be a non-negative integer, got ${JSON.stringify(options.limit)}`);
  const reps = nb201ClassRepresentatives();
  const stored = db.keys();
  const todo = reps.filter((r) => !stored.has(r.key)).slice(0, limit);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  let done = 0;
  // Architectures side by side, one per thread (each stored as soon as it is scored): on a few cores
  // this beats splitting one architecture's seed chunks over the threads.
  const lanes = Math.max(1, Math.min(options.concurrency ?? scorer.threads, todo.length));
  const inner = Math.max(1, Math.floor(scorer.threads / lanes));
  let next = 0;
  const lane = async () => {
    while (next < todo.length && !options.signal?.aborted) {
      const rep = todo[next++];
      const s = await scorer.score(rep.arch, { threads: inner });
      // The scorer stores what it scores; a class stored meanwhile (or a supernet) would not be.
      if (s.key !== rep.key || !db.has(rep.key)) throw new TegnasError('E_DB', `${rep.arch} was scored but not stored in ${db.file}`);
      stored.add(rep.key);
      done++;
      options.onProgress?.({ done, total: todo.length, stored: stored.size, classes: reps.length, seconds: seconds(), arch: rep.arch });
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  const t = seconds();
  return { scored: done, seconds: t, stored: stored.size, classes: reps.length, rate: done > 0 ? done / t : Number.NaN };
}
