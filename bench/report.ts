/** Writes bench/README.md from bench/results/engine.json (run by `npm run bench` after the measurements). */
import { readFileSync, writeFileSync } from 'node:fs';

interface Score { total: number; cond: number; mse: number; regions: number; naswot?: number }
const r = JSON.parse(readFileSync('bench/results/engine.json', 'utf8')) as {
  date: string;
  cpu: string;
  threads: number;
  peak: { gflops: number; how: string };
  micro: Record<string, unknown>;
  scoreThreads1?: Record<string, Score>;
  scoreThreadsAll: Record<string, Score>;
  reference: Record<string, Score> | string;
  ratios: Record<string, number>;
  search?: Record<string, number>;
};
const f = (v: number | undefined, d = 2) => (v === undefined ? '' : v.toFixed(d));
const lines = [
  '# Benchmarks',
  '',
  `Measured by \`npm run bench\` on ${r.date.slice(0, 10)}: ${r.cpu}, ${r.threads} threads. Raw numbers: results/engine.json.`,
  '',
  '## TEG score per architecture (repeat 3, NTK batch 64, 3000 region inputs), seconds',
  '',
  '| architecture | tegnas 1 thread | tegnas all threads (cond / mse / regions / naswot) | PyTorch reference, 2 threads (cond / mse / regions) | speed-up |',
  '|---|---|---|---|---|',
  ...Object.entries(r.scoreThreadsAll).map(([name, s]) => {
    const one = r.scoreThreads1?.[name];
    const ref = typeof r.reference === 'object' ? r.reference[name] : undefined;
    return `| ${name} | ${f(one?.total)} | ${f(s.total)} (${f(s.cond)} / ${f(s.mse)} / ${f(s.regions, 3)} / ${f(s.naswot, 3)}) | ${ref ? `${f(ref.total)} (${f(ref.cond)} / ${f(ref.mse)} / ${f(ref.regions)})` : 'absent'} | ${r.ratios[name] ? `${r.ratios[name].toFixed(1)}x` : ''} |`;
  }),
  '',
  typeof r.reference === 'string' ? `PyTorch reference: ${r.reference}.` : 'The reference is bench/reference_timing.py: the TEG-NAS algorithm (one backward pass per sample) on the oracle networks, PyTorch on the CPU, float32.',
  '',
  '## Kernels',
  '',
  `CPU peak ${r.peak.gflops.toFixed(0)} GFLOP/s: ${r.peak.how}.`,
  '',
  '| kernel | throughput | fraction of peak |',
  '|---|---|---|',
  ...Object.entries(r.micro)
    .filter(([, v]) => typeof v === 'object')
    .flatMap(([k, v]) => {
      const m = v as { forwardGflops: number; perSampleBackwardGflops: number };
      return [
        `| ${k} forward (im2col + GEMM) | ${m.forwardGflops.toFixed(1)} GFLOP/s | ${((100 * m.forwardGflops) / r.peak.gflops).toFixed(1)} % |`,
        `| ${k} per-sample backward (seeds innermost) | ${m.perSampleBackwardGflops.toFixed(1)} GFLOP/s | ${((100 * m.perSampleBackwardGflops) / r.peak.gflops).toFixed(1)} % |`,
      ];
    }),
  `| 64 x 64 symmetric eigensolver (Jacobi, float64) | ${((r.micro.eigen64 as number) * 1e3).toFixed(2)} ms | |`,
  `| 64 x 64 solve, 10 right-hand sides (LU, float64) | ${((r.micro.solve64x10 as number) * 1e3).toFixed(3)} ms | |`,
  `| pattern hashing, 3,000 inputs | ${((r.micro.hash3000 as number) * 1e3).toFixed(2)} ms | |`,
  `| pattern hashing, 100,000 inputs | ${((r.micro.hash100000 as number) * 1e3).toFixed(2)} ms (linear in the inputs) | |`,
  '',
  ...(r.search
    ? ['## Search', '', `Evolution at reference size (256 + 1000): ${f(r.search.withCacheSeconds, 0)} s with the canonical-key cache, ${f(r.search.withoutCacheSeconds, 0)} s without; ${r.search.evaluations} evaluations, ${r.search.unique} unique.`, '']
    : ['## Search', '', 'Not measured in this run (`npx tsx bench/engine.bench.ts --search`).', '']),
];
writeFileSync('bench/README.md', `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
