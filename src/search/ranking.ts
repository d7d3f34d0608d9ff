/**
 * Rank-sum of TEG scores (spec section 4): sort the candidates by each indicator (cond ascending, mse
 * ascending, regions descending); a candidate's rank in a list is the position of the first equal value,
 * so ties share the better rank; the best candidate has the smallest sum of ranks (first on ties).
 * Bad candidates take the worst (largest) cond and mse seen so far in the search, and follow it when it grows.
 */
import type { TegScores } from '../scoring/indicators.js';

export type Indicator = 'cond' | 'mse' | 'regions';
export const TEG_INDICATORS: readonly Indicator[] = ['cond', 'regions', 'mse'];

/** The largest cond and mse a search has seen: what bad candidates are worth. */
export class WorstSeen {
  cond = 0;
  mse = 0;

  observe(s: Pick<TegScores, 'cond' | 'mse'>): void {
    if (s.cond !== null && s.cond > this.cond) this.cond = s.cond;
    if (s.mse !== null && s.mse > this.mse) this.mse = s.mse;
  }

  value(s: Pick<TegScores, 'cond' | 'mse' | 'regions' | 'bad'>, ind: Indicator): number {
    if (ind === 'regions') return s.regions;
    const v = s[ind];
    return s.bad || v === null ? this[ind] : v;
  }
}

/** Rank of each value: index of its first occurrence in the sorted list (better first). */
export function ranks(values: readonly number[], higherIsBetter: boolean): number[] {
  const sorted = [...values].sort((a, b) => (higherIsBetter ? b - a : a - b));
  const first = new Map<number, number>();
  sorted.forEach((v, i) => {
    if (!first.has(v)) first.set(v, i);
  });
  return values.map((v) => first.get(v)!);
}

export function rankSums(entries: readonly Pick<TegScores, 'cond' | 'mse' | 'regions' | 'bad'>[], worst: WorstSeen, indicators: readonly Indicator[] = TEG_INDICATORS): number[] {
  const sums = entries.map(() => 0);
  for (const ind of indicators) {
    const r = ranks(entries.map((e) => worst.value(e, ind)), ind === 'regions');
    r.forEach((v, i) => (sums[i] += v));
  }
  return sums;
}

/** Index of the rank-sum best entry (the first on ties). */
export function bestIndex(entries: readonly Pick<TegScores, 'cond' | 'mse' | 'regions' | 'bad'>[], worst: WorstSeen, indicators: readonly Indicator[] = TEG_INDICATORS): number {
  const sums = rankSums(entries, worst, indicators);
  let best = 0;
  for (let i = 1; i < sums.length; i++) if (sums[i] < sums[best]) best = i;
  return best;
}
