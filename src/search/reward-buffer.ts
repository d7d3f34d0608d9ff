/**
 * TEG-NAS's buffer reward for REINFORCE (spec section 4): each indicator's history is kept; the
 * change of its newest value against the previous one is divided by (max - min + 1e-6) over the last
 * `size` values; reward = -change(cond) + change(regions) - change(mse); the first reward is 0. A bad
 * architecture's cond and mse are the worst value in the buffer, and earlier bad entries are raised
 * (with their changes recomputed) when a larger value arrives, as the reference does.
 */
import type { TegScores } from '../scoring/indicators.js';

type Key = 'cond' | 'regions' | 'mse';
const SIGN: Record<Key, number> = { cond: -1, regions: 1, mse: -1 };

export class RewardBuffer {
  readonly values: Record<Key, number[]> = { cond: [], regions: [], mse: [] };
  readonly changes: Record<Key, number[]> = { cond: [], regions: [], mse: [] };
  readonly bad: boolean[] = [];

  constructor(readonly size = 10) {}

  #change(key: Key, i: number): number {
    if (i === 0) return 0;
    const v = this.values[key];
    const win = v.slice(Math.max(0, i + 1 - this.size), i + 1);
    return (v[i] - v[i - 1]) / (Math.max(...win) - Math.min(...win) + 1e-6);
  }

  /** Adds one evaluation and returns its reward. */
  push(s: Pick<TegScores, 'cond' | 'mse' | 'regions' | 'bad'>): number {
    const first = this.bad.length === 0;
    const entry: Record<Key, number> = { cond: s.cond ?? 0, regions: s.regions, mse: s.mse ?? 0 };
    if (!first) {
      for (const k of ['cond', 'mse'] as const) {
        const max = Math.max(...this.values[k]);
        if (s.bad || s[k] === null) entry[k] = max;
        else if (entry[k] > max) this.#raiseBad(k, entry[k]);
      }
    }
    this.bad.push(s.bad);
    for (const k of ['cond', 'regions', 'mse'] as const) {
      this.values[k].push(entry[k]);
      this.changes[k].push(this.#change(k, this.values[k].length - 1));
    }
    if (first) return 0;
    return (['cond', 'regions', 'mse'] as const).reduce((r, k) => r + SIGN[k] * this.changes[k][this.changes[k].length - 1], 0);
  }

  #raiseBad(key: Key, value: number): void {
    this.bad.forEach((isBad, i) => {
      if (!isBad) return;
      this.values[key][i] = value;
    });
    this.bad.forEach((isBad, i) => {
      if (!isBad) return;
      this.changes[key][i] = this.#change(key, i);
      if (i + 1 < this.bad.length) this.changes[key][i + 1] = this.#change(key, i + 1);
    });
  }
}
