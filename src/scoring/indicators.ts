/** What a score is: the TEG indicators of one architecture, with the numbers' meanings in their types. */

/** NTK condition number, largest / smallest eigenvalue (lower is better: more trainable). */
export type NtkCondition = number;
/** NTK kernel-regression error on the validation batch (lower is better: generalises). */
export type RegressionMse = number;
/** Distinct ReLU activation patterns of the thin network (higher is better: more expressive). */
export type LinearRegions = number;
/** NASWOT: log |det| of the Hamming kernel of the NTK batch's activation patterns (higher is better). */
export type NaswotScore = number;

export type SpaceName = 'nas-bench-201' | 'darts';
export const SPACES: readonly SpaceName[] = ['nas-bench-201', 'darts'];

export interface RepeatScores {
  cond: NtkCondition | null;
  condBad: boolean;
  mse: RegressionMse | null;
  mseBad: boolean;
  regions: LinearRegions;
  naswot: NaswotScore | null;
  /** Why this repeat is bad, if it is. */
  reason?: string;
}

export interface TegScores {
  /** The architecture as given (arch string or DARTS genotype text). */
  arch: string;
  /** The cache key: architectures with the same key compute the same function. */
  key: string;
  /** Mean over the good repeats; null when no repeat gave a value. */
  cond: NtkCondition | null;
  mse: RegressionMse | null;
  /** Mean over repeats. */
  regions: LinearRegions;
  naswot: NaswotScore | null;
  /** Parameters of the evaluation network, in millions (NAS-Bench-201: C=16, N=5). */
  params: number;
  /** FLOPs of the evaluation network per image, in millions. */
  flops: number;
  /**
   * True when any repeat's NTK or regression failed (all-zero gradients, a singular kernel): the
   * reference marks those -1 and only calls a mean of -1 bad; tegnas flags the architecture whenever
   * any repeat is bad, and gives the reason.
   */
  bad: boolean;
  badReason?: string;
  repeats: RepeatScores[];
  /** Wall time in seconds of each part of this evaluation (0 for a cache hit). */
  seconds: { ntk: number; regions: number; naswot: number; total: number };
  cached: boolean;
}
