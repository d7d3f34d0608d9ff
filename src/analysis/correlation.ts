/**
 * Rank correlations between an indicator and the ground truth: Kendall's tau-b and Spearman's rho, both
 * with ties handled as the usual definitions (and scipy.stats.kendalltau / spearmanr) do.
 */
import { TegnasError } from '../errors.js';

function check(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length) throw new TegnasError('E_INPUT', `correlation of ${x.length} values with ${y.length}`);
  for (const v of [...x, ...y]) if (!Number.isFinite(v)) throw new TegnasError('E_INPUT', `correlation of a non-finite value (${v})`);
}

/** 1-based ranks in ascending order; tied values share the average of the ranks they span. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Pearson's correlation coefficient; null when either side is constant or there are fewer than 2 values. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  check(x, y);
  const n = x.length;
  if (n < 2) return null;
  const mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy))) : null;
}

/** Spearman's rho: Pearson's correlation of the average ranks; null when either side is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  check(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/**
 * Kendall's tau-b: (concordant - discordant) / sqrt((n0 - tiesX) (n0 - tiesY)) over the n0 = n(n-1)/2
 * pairs, tiesX (tiesY) counting the pairs tied in x (y), pairs tied in both counted in both. Null when
 * either side is constant. O(n^2) pairs: about a second for 15,625 values.
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  check(x, y);
  const n = x.length;
  let s = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i], yi = y[i];
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[j] - xi), dy = Math.sign(y[j] - yi);
      if (dx === 0) tx++;
      if (dy === 0) ty++;
      s += dx * dy;
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - tx) * (n0 - ty));
  return den > 0 ? Math.max(-1, Math.min(1, s / den)) : null;
}
