/** What every search takes and returns, and the bookkeeping they share. */
import type { TegScores } from '../scoring/indicators.js';
import type { Architecture } from '../scoring/scorer.js';
import { TegnasError } from '../errors.js';
import { Rng } from '../weights/rng.js';
import { type Indicator, TEG_INDICATORS, WorstSeen, bestIndex } from './ranking.js';

export type AlgoName = 'reinforce' | 'evolution' | 'prune' | 'random';
export const ALGOS: readonly AlgoName[] = ['evolution', 'reinforce', 'prune', 'random'];

/** Anything that scores architectures: a Scorer, a precomputed table, another tool's backend. */
export interface Evaluator {
  readonly space: 'nas-bench-201' | 'darts';
  score(arch: Architecture): Promise<TegScores>;
  /**
   * Several at once (optional): results in input order, equal to score() one by one; `each` (if given)
   * receives each result as soon as it is ready, with its index in `archs`.
   */
  scoreMany?(archs: readonly Architecture[], options?: { each?: (index: number, scores: TegScores) => void }): Promise<TegScores[]>;
  /**
   * Optional: takes scores computed by this same evaluator in an earlier run (replayed from a journal)
   * into its cache, so that what follows is what would have followed in that run (Scorer does this).
   */
  remember?(scores: TegScores): void;
}

/** One evaluation of a search as a journal keeps it. */
export interface JournalEntry {
  /** 0-based position in the search (Evaluation.step). */
  step: number;
  /** What the search asked for: the arch as given (a string, or the JSON of an op-set selection). */
  request: string;
  scores: TegScores;
}

/**
 * Where a search writes each evaluation as it happens, and from which a resumed search replays them.
 * A search re-runs its deterministic algorithm from the seed and takes the score of every step found
 * in `replay` instead of scoring it (checking that the step asks for the same architecture), so it
 * ends exactly as an uninterrupted run would; every step it scores is given to `append`.
 */
export interface Journal {
  /** Entries of an earlier run of the same search, by step (possibly with gaps). */
  readonly replay: ReadonlyMap<number, JournalEntry>;
  append(entry: JournalEntry): void;
}

/** A journal in memory (tests; another tool's storage). */
export class MemoryJournal implements Journal {
  readonly replay: Map<number, JournalEntry>;
  readonly entries: JournalEntry[] = [];

  constructor(replay: Iterable<JournalEntry> = []) {
    this.replay = new Map([...replay].map((e) => [e.step, e]));
  }

  append(entry: JournalEntry): void {
    this.entries.push(entry);
  }
}

/** The text a journal records for a requested architecture. */
export function requestText(arch: Architecture): string {
  return typeof arch === 'string' ? arch : JSON.stringify(arch);
}

export interface Evaluation {
  /** 0-based position in the search. */
  step: number;
  arch: string;
  scores: TegScores;
  /** REINFORCE's reward for this step. */
  reward?: number;
}

export interface SearchProgress {
  algo: AlgoName;
  /** Steps done and planned (their meaning is the algorithm's: evaluations, or pruning rounds). */
  done: number;
  total: number;
  evaluations: number;
  unique: number;
  best?: { arch: string; scores: TegScores };
  seconds: number;
}

export interface SearchOptions {
  seed?: number;
  /** Called after every evaluation (and pruning round). */
  onProgress?: (p: SearchProgress) => void;
  /** Called with every evaluation as it is recorded, in step order (replayed ones included). */
  onEvaluation?: (e: Evaluation) => void;
  /** Journal every scored evaluation there, and replay its earlier entries (resume). */
  journal?: Journal;
  signal?: AbortSignal;
}

export interface SearchResult {
  algo: AlgoName;
  space: 'nas-bench-201' | 'darts';
  seed: number;
  best: { arch: string; scores: TegScores };
  /** Evaluations requested by the algorithm, and distinct canonical keys among them. */
  evaluations: number;
  unique: number;
  seconds: number;
  history: Evaluation[];
}

/** The largest population, evaluation or step budget a search accepts (every evaluation is kept in memory). */
export const MAX_SEARCH_BUDGET = 1_000_000;

/**
 * Checks a search option before any work starts: an integer in [min, max], else a TegnasError
 * (E_INPUT) naming the option, the range and what came.
 */
export function checkSearchInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new TegnasError('E_INPUT', `${name} must be an integer between ${min} and ${max}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  return v;
}

/** The state a search accumulates: every evaluation, the worst cond and mse seen, unique keys. */
export class SearchLog {
  readonly history: Evaluation[] = [];
  readonly worst = new WorstSeen();
  readonly keys = new Set<string>();
  readonly rng: Rng;
  readonly seed: number;
  readonly #t0 = performance.now();
  #best = -1;

  constructor(
    readonly algo: AlgoName,
    readonly evaluator: Evaluator,
    readonly options: SearchOptions,
    readonly total: number,
    readonly indicators: readonly Indicator[] = TEG_INDICATORS,
  ) {
    this.seed = options.seed ?? 0;
    this.rng = new Rng(this.seed).fork(`search:${algo}`);
  }

  get seconds(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  async evaluate(arch: Architecture, extra: Partial<Evaluation> = {}, evaluator: Evaluator = this.evaluator): Promise<Evaluation> {
    const [scores] = await this.#scores([arch], evaluator, false);
    return this.record(scores, extra);
  }

  record(scores: TegScores, extra: Partial<Evaluation> = {}): Evaluation {
    this.worst.observe(scores);
    this.keys.add(scores.key);
    const e: Evaluation = { step: this.history.length, arch: scores.arch, scores, ...extra };
    this.history.push(e);
    this.options.onEvaluation?.(e);
    return e;
  }

  /**
   * Evaluates architectures whose choice does not depend on each other's scores: scored together
   * (evaluator.scoreMany, all cores) and recorded in order, so the history equals one-by-one evaluation.
   * `each` runs after each is recorded (progress).
   */
  async evaluateMany(archs: readonly Architecture[], evaluator: Evaluator = this.evaluator, each?: (e: Evaluation) => void): Promise<Evaluation[]> {
    const all = await this.#scores(archs, evaluator, true);
    return all.map((scores) => {
      const e = this.record(scores);
      each?.(e);
      return e;
    });
  }

  /**
   * The scores of the next `archs.length` steps: from the journal's replay where it has them, else
   * scored (together when `many` and the evaluator can) and journaled as each is ready.
   */
  async #scores(archs: readonly Architecture[], evaluator: Evaluator, many: boolean): Promise<TegScores[]> {
    if (this.options.signal?.aborted) throw this.options.signal.reason ?? new Error('search aborted');
    const journal = this.options.journal;
    const first = this.history.length;
    const out: TegScores[] = new Array(archs.length);
    const requests = archs.map(requestText);
    const live: number[] = [];
    requests.forEach((request, i) => {
      const entry = journal?.replay.get(first + i);
      if (!entry) return void live.push(i);
      if (entry.request !== request)
        throw new TegnasError(
          'E_JOURNAL',
          `the journal does not belong to this search: step ${first + i} evaluated ${entry.request}, this search asks for ${request} (other options, or another tegnas version)`,
        );
      out[i] = entry.scores;
      evaluator.remember?.(entry.scores);
    });
    const done = (i: number, scores: TegScores) => {
      out[i] = scores;
      journal?.append({ step: first + i, request: requests[i], scores });
    };
    if (many && evaluator.scoreMany && live.length >= 2) {
      const all = await evaluator.scoreMany(live.map((i) => archs[i]), { each: (k, scores) => done(live[k], scores) });
      // An evaluator that ignores `each`: journal at the end.
      live.forEach((i, k) => out[i] === undefined && done(i, all[k]));
    } else {
      for (const i of live) done(i, await evaluator.score(archs[i]));
    }
    return out;
  }

  /** Index in `entries` of the rank-sum best. */
  bestOf(entries: readonly Evaluation[]): number {
    return bestIndex(entries.map((e) => e.scores), this.worst, this.indicators);
  }

  progress(done: number, bestEntries: readonly Evaluation[] = this.history): void {
    if (!this.options.onProgress) return;
    const b = bestEntries.length ? bestEntries[this.bestOf(bestEntries)] : undefined;
    this.options.onProgress({
      algo: this.algo,
      done,
      total: this.total,
      evaluations: this.history.length,
      unique: this.keys.size,
      ...(b ? { best: { arch: b.arch, scores: b.scores } } : {}),
      seconds: this.seconds,
    });
  }

  result(best: Evaluation): SearchResult {
    this.#best = this.history.indexOf(best);
    return {
      algo: this.algo,
      space: this.evaluator.space,
      seed: this.seed,
      best: { arch: best.arch, scores: best.scores },
      evaluations: this.history.length,
      unique: this.keys.size,
      seconds: this.seconds,
      history: this.history,
    };
  }
}
