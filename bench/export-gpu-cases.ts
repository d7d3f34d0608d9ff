/**
 * Writes bench/gpu-cases.json: what the native GPU check (tegnas-gpu-check, bench/gpu-check.sh) needs
 * to run the scorer's computation without Node: for every architecture of the indicator fixtures
 * (test/fixtures/indicators-*.json, which include the 5 benchmark architectures of engine.bench.ts),
 * the NTK and thin-network plans the Scorer builds, the parameter indices of the NTK (`weights`) and
 * regression (`cells`) gradients, and the PyTorch oracle's values. Weights and inputs stay in the
 * fixture safetensors files, which the check reads by parameter name.
 *
 *   npx tsx bench/export-gpu-cases.ts [--out bench/gpu-cases.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeGpuCases } from './gpu-cases.js';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = values.out ?? 'bench/gpu-cases.json';
const cases = makeGpuCases() as { spaces: { space: string; cases: unknown[] }[] };
writeFileSync(out, `${JSON.stringify(cases)}\n`);
console.log(`${out}: ${cases.spaces.map((s) => `${s.space} ${s.cases.length} architectures`).join(', ')}`);
