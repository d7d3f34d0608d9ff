/** Mean and spread of a few values (an indicator over seeds). */

export interface Summary {
  /** Values that were numbers (finite); the others (null: a bad network) are left out. */
  n: number;
  mean: number | null;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value, null for none. */
  std: number | null;
  /** std / |mean|: the relative spread (null when the mean is 0 or missing). */
  cv: number | null;
  min: number | null;
  max: number | null;
}

export function summarise(values: readonly (number | null)[]): Summary {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const n = xs.length;
  if (!n) return { n, mean: null, std: null, cv: null, min: null, max: null };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, std, cv: mean !== 0 ? std / Math.abs(mean) : null, min: Math.min(...xs), max: Math.max(...xs) };
}
