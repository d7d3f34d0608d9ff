/** What every search takes and returns, and the bookkeeping they share. */
import type { TegScores } from '../scoring/indicators.js';
import type { Architecture } from '../scoring/scorer.js';
import { Rng } from '../weights/rng.js';
import { type Indicator, TEG_INDICATORS, WorstSeen, bestIndex } from './ranking.js';

export type AlgoName = 'reinforce' | 'evolution' | 'prune' | 'random';
export const ALGOS: readonly AlgoName[] = ['evolution', 'reinforce', 'prune', 'random'];

/** Anything that scores architectures: a Scorer, a precomputed table, another tool's backend. */
export interface Evaluator {
  readonly space: 'nas-bench-201' | 'darts';
  score(arch: Architecture): Promise<TegScores>;
  /** Several at once (optional): results in input order, equal to score() one by one. */
  scoreMany?(archs: readonly Architecture[]): Promise<TegScores[]>;
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
  /** Called with every evaluation as it happens (e.g. to journal it). */
  onEvaluation?: (e: Evaluation) => void;
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
    if (this.options.signal?.aborted) throw this.options.signal.reason ?? new Error('search aborted');
    return this.record(await evaluator.score(arch), extra);
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
    if (this.options.signal?.aborted) throw this.options.signal.reason ?? new Error('search aborted');
    if (!evaluator.scoreMany || archs.length < 2) {
      const out: Evaluation[] = [];
      for (const a of archs) {
        const e = await this.evaluate(a, {}, evaluator);
        each?.(e);
        out.push(e);
      }
      return out;
    }
    const all = await evaluator.scoreMany(archs);
    return all.map((scores) => {
      const e = this.record(scores);
      each?.(e);
      return e;
    });
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
