/**
 * Exports what the native check executable (native/check/, `tegnas-check`) needs besides the committed
 * fixtures: the network plan of every fixture case, written by the same TypeScript builders the package
 * uses, and a manifest tying cases to plans, weights and inputs. The executable reads the safetensors and
 * indicator JSON fixtures itself.
 *
 *   npx tsx scripts/export-check-fixtures.ts [--out test/fixtures/check]
 *
 * Deterministic: the same sources give byte-identical files. test/check-fixtures.test.ts fails when the
 * committed files are out of date (a builder changed): rerun this script then.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildDartsNetwork, type DartsSupernetSelection } from '../src/plan/darts-network.js';
import { buildTinyNetwork } from '../src/plan/tiny-network.js';
import type { NetworkPlan } from '../src/plan/types.js';
import { indicatorPlans } from '../src/scoring/scorer.js';
import { NB201_EDGES, type Nb201Op } from '../src/spaces/nb201.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { BENCH_ARCHS } from '../bench/bench-archs.js';
import { ORACLE_CASES, ORACLE_FLOAT64 } from '../test/oracle/cases.js';

const fixtures = fileURLToPath(new URL('../test/fixtures/', import.meta.url));



/** The oracle fixture network of a case (as test/oracle.test.ts builds it). */
function oraclePlan(config: string, meta: Record<string, string>): NetworkPlan {
  const classes = Number(/-k(\d+)$/.exec(config)![1]);
  if (config.startsWith('nb201-c3n1')) {
    if (meta.mode === 'single') return buildTinyNetwork(meta.arch, { C: 3, N: 1, classes });
    const ops = JSON.parse(meta.ops) as Record<string, Nb201Op[]>;
    return buildTinyNetwork(NB201_EDGES.map(([to, from]) => ops[`${to}<-${from}`]), { C: 3, N: 1, classes });
  }
  const sel = meta.mode === 'single' ? meta.arch : (JSON.parse(meta.ops) as DartsSupernetSelection);
  return buildDartsNetwork(sel, { C: 1, N: 1, depth: 2, classes });
}

export function exportCheckFixtures(): Map<string, string> {
  const files = new Map<string, string>();
  const planFile = (plan: NetworkPlan): string => {
    // The plan as the engine reads it: version, input, params (name, shape), nodes, output.
    const text = JSON.stringify({ version: plan.version, input: plan.input, params: plan.params.map((p) => ({ name: p.name, shape: p.shape })), nodes: plan.nodes, output: plan.output });
    const name = `plans/${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`;
    files.set(name, `${text}\n`);
    return name;
  };

  const oracle = ORACLE_CASES.map((name) => {
    const { metadata } = readSafetensors(join(fixtures, `${name}.safetensors`));
    const config = name.split('--')[0];
    return { name, plan: planFile(oraclePlan(config, metadata)), weights: `${config}.weights.safetensors`, expected: `${name}.safetensors`, inputs: 'inputs.safetensors', float64: ORACLE_FLOAT64.has(name) };
  });

  const indicators: unknown[] = [];
  for (const [space, tag] of [['nas-bench-201', 'nb201'], ['darts', 'darts']] as const) {
    const json = JSON.parse(readFileSync(join(fixtures, `indicators-${tag}.json`), 'utf8')) as { cases: { name: string; arch: string }[] };
    json.cases.forEach((c, i) => {
      const { ntk, thin } = indicatorPlans(space, c.arch, 10);
      const bench = Object.entries(BENCH_ARCHS).find(([, a]) => a === c.arch)?.[0];
      indicators.push({
        space,
        name: c.name,
        file: `indicators-${tag}.json`,
        case: i,
        weights: `indicators-${tag}.weights.safetensors`,
        inputs: `indicators-${tag}.inputs.safetensors`,
        classes: 10,
        regionBatch: 1000,
        ntkPlan: planFile(ntk),
        thinPlan: planFile(thin),
        // As test/indicators.test.ts: float64 for every case, float32 for every other one.
        float32: i % 2 === 0,
        ...(bench ? { bench } : {}),
      });
    });
  }
  const missing = Object.keys(BENCH_ARCHS).filter((b) => !indicators.some((c) => (c as { bench?: string }).bench === b));
  if (missing.length) throw new Error(`benchmark architectures without an indicator fixture case: ${missing.join(', ')}`);

  const manifest = {
    about: 'Cases of the native check executable (tegnas-check); written by scripts/export-check-fixtures.ts. Paths are relative to test/fixtures/ (plans/ to test/fixtures/check/).',
    oracle,
    indicators,
  };
  files.set('manifest.json', `${JSON.stringify(manifest, null, 1)}\n`);
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = values.out ?? join(fixtures, 'check');
  const files = exportCheckFixtures();
  rmSync(join(out, 'plans'), { recursive: true, force: true });
  mkdirSync(join(out, 'plans'), { recursive: true });
  let bytes = 0;
  for (const [name, text] of files) {
    writeFileSync(join(out, name), text);
    bytes += Buffer.byteLength(text);
  }
  console.log(`wrote ${files.size} files (${readdirSync(join(out, 'plans')).length} plans), ${(bytes / 1024).toFixed(0)} KiB, to ${out}`);
}
