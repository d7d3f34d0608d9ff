/**
 * The content of bench/gpu-cases.json (see export-gpu-cases.ts): for every architecture of the indicator
 * fixtures, the plans and parameter groups the Scorer uses and the PyTorch oracle's values.
 */
import { readFileSync } from 'node:fs';
import { NativeNet } from '../src/native.js';
import { paramGroupIndices } from '../src/network.js';
import type { NetworkPlan, ParamSpec } from '../src/plan/types.js';
import type { SpaceName } from '../src/scoring/indicators.js';
import { indicatorPlans } from '../src/scoring/scorer.js';
import { BENCH_ARCHS } from './bench-archs.js';

interface OracleRepeat {
  cond: number | null;
  condBad: boolean;
  mse: number | null;
  mseBad: boolean;
  regions: number;
  naswot: number | null;
  kxxCond?: number | null;
}

const CLASSES = 10; // the Scorer's default dataset (cifar10), as test/indicators.test.ts uses these files
const benchNames = new Map(Object.entries(BENCH_ARCHS).map(([name, arch]) => [arch, name]));

const sameParams = (a: ParamSpec[], b: ParamSpec[]) =>
  a.length === b.length && a.every((p, i) => p.name === b[i].name && p.shape.join() === b[i].shape.join());
const strip = (p: NetworkPlan) => ({ input: p.input, nodes: p.nodes, output: p.output });
const paramList = (ps: ParamSpec[]) => ps.map((p) => ({ name: p.name, shape: p.shape }));

export function makeGpuCases(root = '.'): object {
  const spaces: { space: SpaceName; cases: { bench?: string }[]; [k: string]: unknown }[] = [];
  for (const [space, tag] of [['nas-bench-201', 'nb201'], ['darts', 'darts']] as [SpaceName, string][]) {
    const fixture = JSON.parse(readFileSync(`${root}/test/fixtures/indicators-${tag}.json`, 'utf8')) as {
      repeat: number;
      cases: { name: string; arch: string; repeats: OracleRepeat[] }[];
    };
    let ntkParams: ParamSpec[] | undefined;
    let thinParams: ParamSpec[] | undefined;
    const cases = fixture.cases.map((c) => {
      const plans = indicatorPlans(space, c.arch, CLASSES);
      ntkParams ??= plans.ntk.params;
      thinParams ??= plans.thin.params;
      if (!sameParams(ntkParams, plans.ntk.params) || !sameParams(thinParams, plans.thin.params))
        throw new Error(`${space} ${c.name}: the plan's parameter list differs from the other architectures'`);
      const used = new NativeNet(plans.ntk).info.usedParams;
      return {
        name: c.name,
        arch: c.arch,
        bench: benchNames.has(c.arch) && space === 'nas-bench-201' ? benchNames.get(c.arch) : undefined,
        ntk: strip(plans.ntk),
        thin: strip(plans.thin),
        weights: paramGroupIndices(plans.ntk, used, 'weights'),
        cells: paramGroupIndices(plans.ntk, used, 'cell-weights'),
        oracle: c.repeats.map((r) => ({
          cond: r.cond,
          condBad: r.condBad,
          mse: r.mse,
          mseBad: r.mseBad,
          regions: r.regions,
          naswot: r.naswot,
          kxxCond: r.kxxCond ?? null,
        })),
      };
    });
    spaces.push({
      space,
      inputs: `test/fixtures/indicators-${tag}.inputs.safetensors`,
      weights: `test/fixtures/indicators-${tag}.weights.safetensors`,
      repeat: fixture.repeat,
      classes: CLASSES,
      regionBatch: 1000,
      ntkParams: paramList(ntkParams!),
      thinParams: paramList(thinParams!),
      cases,
    });
  }
  const missing = Object.keys(BENCH_ARCHS).filter((n) => !spaces[0].cases.some((c) => c.bench === n));
  if (missing.length) throw new Error(`benchmark architectures missing from the NB201 fixture: ${missing.join(', ')}`);

  return { version: 1, generatedBy: 'bench/export-gpu-cases.ts', spaces };
}
