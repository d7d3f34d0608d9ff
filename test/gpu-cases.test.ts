import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeGpuCases } from '../bench/gpu-cases.js';

// bench/gpu-cases.json feeds the native GPU check on machines without Node: it must be what the
// Scorer builds today (regenerate with `npx tsx bench/export-gpu-cases.ts` after changing a builder).
test('bench/gpu-cases.json matches the plans the Scorer builds', (t) => {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const stored = readFileSync(`${root}bench/gpu-cases.json`, 'utf8');
  t.is(stored, `${JSON.stringify(makeGpuCases(root))}\n`, 'stale: run npx tsx bench/export-gpu-cases.ts');
});
