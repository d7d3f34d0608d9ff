/**
 * The PyTorch-oracle fixture cases that test/oracle.test.ts checks (and the native check executable,
 * through scripts/export-check-fixtures.ts), and those it also runs in float64, where the engine must
 * match the float64 oracle to float32 storage precision.
 */
export const ORACLE_CASES = [
  'nb201-c3n1-k10--all-none',
  'nb201-c3n1-k10--all-skip',
  'nb201-c3n1-k10--all-conv3x3',
  'nb201-c3n1-k10--pool-mixed',
  'nb201-c3n1-k10--best-known',
  'nb201-c3n1-k10--mixed',
  'nb201-c3n1-k100--mixed',
  'nb201-c3n1-k10--supernet',
  'darts-c1n1d2-k10--every-op',
  'darts-c1n1d2-k10--darts-v2',
  'darts-c1n1d2-k10--supernet',
];
export const ORACLE_FLOAT64 = new Set(['nb201-c3n1-k10--pool-mixed', 'darts-c1n1d2-k10--every-op', 'nb201-c3n1-k10--supernet']);
