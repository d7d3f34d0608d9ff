/** Random search: the baseline every search is compared with, over the same evaluation budget. */
import { randomGenotype } from '../spaces/darts.js';
import { randomNb201 } from '../spaces/nb201.js';
import { SearchLog, type Evaluator, type SearchOptions, type SearchResult } from './types.js';

export interface RandomSearchOptions extends SearchOptions {
  /** Architectures to evaluate (default 1256, regularised evolution's budget). */
  evaluations?: number;
}

export async function randomSearch(evaluator: Evaluator, options: RandomSearchOptions = {}): Promise<SearchResult> {
  const n = options.evaluations ?? 1256;
  const log = new SearchLog('random', evaluator, options, n);
  for (let i = 0; i < n; i++) {
    await log.evaluate(evaluator.space === 'darts' ? randomGenotype(log.rng) : randomNb201(log.rng));
    log.progress(i + 1);
  }
  return log.result(log.history[log.bestOf(log.history)]);
}
