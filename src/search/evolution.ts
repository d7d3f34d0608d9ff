/**
 * Regularised evolution (Real et al. 2019) with TEG rank-sums as fitness (spec section 5): a population
 * of random architectures; each step draws `sample` of them without replacement, takes the rank-sum
 * best as parent, scores a mutated child, appends it and removes the oldest. The result is the rank-sum
 * best of the final population.
 */
import { type Genotype, mutateGenotype, parseGenotype, randomGenotype } from '../spaces/darts.js';
import { mutateNb201, NB201_SIZE, randomNb201 } from '../spaces/nb201.js';
import { checkSearchInt, MAX_SEARCH_BUDGET, SearchLog, type Evaluation, type Evaluator, type SearchOptions, type SearchResult } from './types.js';

export interface EvolutionOptions extends SearchOptions {
  population?: number;
  sample?: number;
  steps?: number;
}

// Scored together, in slices so that progress keeps coming.
const INITIAL_BATCH = 16;

export async function evolution(evaluator: Evaluator, options: EvolutionOptions = {}): Promise<SearchResult> {
  const space = evaluator.space === 'darts' ? MAX_SEARCH_BUDGET : NB201_SIZE;
  const P = checkSearchInt('population', options.population ?? 256, 1, Math.min(space, MAX_SEARCH_BUDGET));
  const S = checkSearchInt('sample', options.sample ?? Math.min(64, P), 1, P);
  const steps = checkSearchInt('steps', options.steps ?? 1000, 0, MAX_SEARCH_BUDGET);
  const log = new SearchLog('evolution', evaluator, options, P + steps);
  const darts = evaluator.space === 'darts';
  const population: Evaluation[] = [];
  // The initial population is drawn first and scored together (all cores); the rng sequence is the same.
  const initial = Array.from({ length: P }, () => (darts ? randomGenotype(log.rng) : randomNb201(log.rng)));
  for (let i = 0; i < P; i += INITIAL_BATCH)
    await log.evaluateMany(initial.slice(i, i + INITIAL_BATCH), evaluator, (e) => {
      population.push(e);
      log.progress(log.history.length, population);
    });
  for (let i = 0; i < steps; i++) {
    const candidates = log.rng.sample(population, Math.min(S, population.length));
    const parent = candidates[log.bestOf(candidates)];
    const child = darts ? mutateGenotype(parseGenotype(parent.arch) as Genotype, log.rng) : mutateNb201(parent.arch, log.rng);
    population.push(await log.evaluate(child));
    population.shift();
    log.progress(log.history.length, population);
  }
  return log.result(population[log.bestOf(population)]);
}
