/** One entry point for every algorithm, with each algorithm's reference defaults. */
import { evolution } from './evolution.js';
import { prune } from './prune.js';
import { randomSearch } from './random.js';
import { reinforce } from './reinforce.js';
import type { AlgoName, Evaluator, SearchOptions, SearchResult } from './types.js';

export interface RunOptions extends SearchOptions {
  /** Evolution: mutations; REINFORCE: steps; random: evaluations. */
  steps?: number;
  population?: number;
  sample?: number;
  lr?: number;
  /** Pruning's evaluator for each round (fresh initialisations); default: the TEG evaluator. */
  pruneEvaluator?: (round: number) => Evaluator;
}

export function runSearch(algo: AlgoName, evaluator: Evaluator, o: RunOptions = {}): Promise<SearchResult> {
  switch (algo) {
    case 'evolution':
      return evolution(evaluator, { ...o, steps: o.steps, population: o.population, sample: o.sample });
    case 'reinforce':
      return reinforce(evaluator, { ...o, steps: o.steps, lr: o.lr });
    case 'random':
      return randomSearch(evaluator, { ...o, evaluations: o.steps });
    case 'prune':
      return prune(o.pruneEvaluator?.(0) ?? evaluator, { ...o, evaluatorForRound: o.pruneEvaluator, finalEvaluator: evaluator });
  }
}
