/** Random search: the baseline every search is compared with, over the same evaluation budget. */
import { randomGenotype } from '../spaces/darts.js';
import { randomNb201 } from '../spaces/nb201.js';
import { checkSearchInt, MAX_SEARCH_BUDGET, SearchLog, type Evaluator, type SearchOptions, type SearchResult } from './types.js';

export interface RandomSearchOptions extends SearchOptions {
  /** Architectures to evaluate (default 1256, regularised evolution's budget). */
  evaluations?: number;
}

const SLICE = 16;

export async function randomSearch(evaluator: Evaluator, options: RandomSearchOptions = {}): Promise<SearchResult> {
  const n = checkSearchInt('evaluations', options.evaluations ?? 1256, 1, MAX_SEARCH_BUDGET);
  const log = new SearchLog('random', evaluator, options, n);
  // Drawn in slices and scored together (all cores); the rng only draws architectures, so the sequence
  // is the one of one-by-one evaluation.
  for (let i = 0; i < n; i += SLICE) {
    const archs = Array.from({ length: Math.min(SLICE, n - i) }, () =>
      evaluator.space === 'darts' ? randomGenotype(log.rng) : randomNb201(log.rng));
    await log.evaluateMany(archs, evaluator, () => log.progress(log.history.length));
  }
  return log.result(log.history[log.bestOf(log.history)]);
}
