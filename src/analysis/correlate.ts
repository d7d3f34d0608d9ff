/**
 * How well the indicators rank architectures: rows of (architecture, scores) from any source, each
 * indicator's Kendall tau-b and Spearman rho against the NAS-Bench-201 accuracy.
 *
 * Bad architectures (a failed NTK or regression: cond / mse null) are treated as a search ranks them
 * (src/search/ranking.ts): their cond and mse are the worst (largest) value among the rows, so they tie
 * at the bottom of those indicators; a missing NASWOT likewise takes the lowest NASWOT among the rows.
 * The rank-sum is the search's own: ranks of cond (ascending), regions (descending) and mse (ascending),
 * ties sharing the better rank, summed; lower is better.
 */
import { type Nb201Dataset, nb201Table } from '../benchmarks/nb201.js';
import { TegnasError } from '../errors.js';
import type { TegScores } from '../scoring/indicators.js';
import { WorstSeen, rankSums } from '../search/ranking.js';
import { NB201_SIZE, formatNb201, nb201CanonicalKey, nb201FromCode } from '../spaces/nb201.js';
import { Rng } from '../weights/rng.js';
import { kendallTauB, spearman } from './correlation.js';

/** One scored architecture. */
export interface ScoredArch {
  arch: string;
  scores: TegScores;
}

/**
 * Where the rows come from: the Scorer scoring a sample (tegnas correlate), or any other producer of
 * scores (a score database), as an async iterable.
 */
export type ScoreSource = AsyncIterable<ScoredArch> | Iterable<ScoredArch>;

export const CORRELATE_INDICATORS = ['cond', 'mse', 'regions', 'naswot', 'params', 'flops', 'rank-sum'] as const;
export type CorrelateIndicator = (typeof CORRELATE_INDICATORS)[number];

export const INDICATOR_INFO: Readonly<Record<CorrelateIndicator, { better: 'lower' | 'higher'; label: string }>> = {
  cond: { better: 'lower', label: 'NTK condition number' },
  mse: { better: 'lower', label: 'NTK regression MSE' },
  regions: { better: 'higher', label: 'linear regions' },
  naswot: { better: 'higher', label: 'NASWOT' },
  params: { better: 'higher', label: 'parameters (M)' },
  flops: { better: 'higher', label: 'FLOPs (M)' },
  'rank-sum': { better: 'lower', label: 'TEG rank-sum (cond + regions + mse)' },
};

export interface CorrelationRow {
  arch: string;
  /** Official NAS-Bench-201 index. */
  index: number;
  accuracy: number;
  bad: boolean;
  /** The values correlated (bad cond / mse replaced by the worst among the rows). */
  values: Record<CorrelateIndicator, number>;
}

export interface IndicatorCorrelation {
  indicator: CorrelateIndicator;
  better: 'lower' | 'higher';
  /** Kendall tau-b and Spearman rho with the accuracy (null if the indicator is constant). */
  tau: number | null;
  rho: number | null;
  /** Rows whose value was replaced by the worst (bad architectures, missing NASWOT). */
  replaced: number;
}

export interface CorrelationReport {
  dataset: Nb201Dataset;
  rows: CorrelationRow[];
  correlations: IndicatorCorrelation[];
}

/** Reads every row of `source` (calling `onRow` after each) and correlates the indicators with accuracy. */
export async function correlate(source: ScoreSource, options: { dataset: Nb201Dataset; onRow?: (row: ScoredArch, count: number) => void }): Promise<CorrelationReport> {
  const table = nb201Table();
  const scored: ScoredArch[] = [];
  for await (const row of source) {
    scored.push(row);
    options.onRow?.(row, scored.length);
  }
  if (scored.length < 2) throw new TegnasError('E_INPUT', `correlating needs at least 2 architectures, got ${scored.length}`);
  const worst = new WorstSeen();
  for (const r of scored) worst.observe(r.scores);
  const naswots = scored.map((r) => r.scores.naswot).filter((v): v is number => v !== null && Number.isFinite(v));
  const lowestNaswot = naswots.length ? Math.min(...naswots) : 0;
  const sums = rankSums(scored.map((r) => r.scores), worst);
  const replaced: Record<CorrelateIndicator, number> = { cond: 0, mse: 0, regions: 0, naswot: 0, params: 0, flops: 0, 'rank-sum': 0 };
  const rows: CorrelationRow[] = scored.map((r, i) => {
    const s = r.scores;
    const entry = table.byArch(r.arch);
    if (s.bad || s.cond === null) replaced.cond++;
    if (s.bad || s.mse === null) replaced.mse++;
    const naswotMissing = s.naswot === null || !Number.isFinite(s.naswot);
    if (naswotMissing) replaced.naswot++;
    return {
      arch: r.arch,
      index: entry.index,
      accuracy: entry.accuracy[options.dataset],
      bad: s.bad,
      values: {
        cond: worst.value(s, 'cond'),
        mse: worst.value(s, 'mse'),
        regions: s.regions,
        naswot: naswotMissing ? lowestNaswot : (s.naswot as number),
        params: s.params,
        flops: s.flops,
        'rank-sum': sums[i],
      },
    };
  });
  const acc = rows.map((r) => r.accuracy);
  const correlations = CORRELATE_INDICATORS.map((indicator) => {
    const v = rows.map((r) => r.values[indicator]);
    return { indicator, better: INDICATOR_INFO[indicator].better, tau: kendallTauB(v, acc), rho: spearman(v, acc), replaced: replaced[indicator] };
  });
  return { dataset: options.dataset, rows, correlations };
}

/** Number of canonical classes of NAS-Bench-201. */
export const NB201_CLASSES = 5425;

/**
 * `n` NAS-Bench-201 architectures of distinct canonical classes (nb201CanonicalKey), drawn uniformly
 * over the 15,625 architectures without replacement, keeping the first of each class; seeded.
 */
export function sampleNb201Classes(n: number, seed: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > NB201_CLASSES)
    throw new TegnasError('E_INPUT', `the sample size must be an integer in 1..${NB201_CLASSES} (the NAS-Bench-201 classes), got ${JSON.stringify(n)}`);
  const codes = new Rng(seed).fork('correlate:sample').shuffle(Array.from({ length: NB201_SIZE }, (_, i) => i));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of codes) {
    const ops = nb201FromCode(c);
    const key = nb201CanonicalKey(ops);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(formatNb201(ops));
    if (out.length === n) break;
  }
  return out;
}
