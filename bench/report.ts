/** Writes bench/README.md from bench/results/engine.json (run by `npm run bench` after the measurements). */
import { readFileSync, writeFileSync } from 'node:fs';

interface Score { total: number; cond: number; mse: number; regions: number; naswot?: number }
const r = JSON.parse(readFileSync('bench/results/engine.json', 'utf8')) as {
  date: string;
  cpu: string;
  threads: number;
  peak: { gflops: number; how: string; nominal?: number };
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
  '| architecture | tegnas 1 thread | tegnas all threads (cond / + mse / regions) | PyTorch reference, 2 threads (cond / mse / regions) | speed-up |',
  '|---|---|---|---|---|',
  ...Object.entries(r.scoreThreadsAll).map(([name, s]) => {
    const one = r.scoreThreads1?.[name];
    const ref = typeof r.reference === 'object' ? r.reference[name] : undefined;
    return `| ${name} | ${f(one?.total)} | ${f(s.total)} (${f(s.cond)} / ${f(s.mse)} / ${f(s.regions, 3)}) | ${ref ? `${f(ref.total)} (${f(ref.cond)} / ${f(ref.mse)} / ${f(ref.regions)})` : 'absent'} | ${r.ratios[name] ? `${r.ratios[name].toFixed(1)}x` : ''} |`;
  }),
  '',
  typeof r.reference === 'string' ? `PyTorch reference: ${r.reference}.` : 'The reference is bench/reference_timing.py: the TEG-NAS algorithm (one backward pass per sample) on the oracle networks, PyTorch on the CPU, float32, measured in the same run (its three repeats summed; the faster of two runs per architecture, as its time moved by up to a third between runs on this host; both runs are in results/engine.json). tegnas: the median of five full scores (each repeat 3; cond, mse and regions, the reference\'s three indicators, without the NASWOT extra the scorer adds by default) taken in turns over the five architectures after a warm-up score of each.',
  '',
  'tegnas shares: cond is a run without the regression, + mse the time the regression adds to it (its validation pass runs beside the training pass when there are two threads), regions the thin network. The total also builds the networks and the evaluation-network cost.',
  '',
  '## Kernels',
  '',
  `CPU peak ${r.peak.gflops.toFixed(0)} GFLOP/s (float32, all threads): ${r.peak.how}.`,
  '',
  '| kernel | throughput | fraction of peak |',
  '|---|---|---|',
  ...Object.entries(r.micro)
    .filter(([, v]) => typeof v === 'object')
    .flatMap(([k, v]) => {
      if (k.startsWith('gemm ')) {
        // One thread (matmul, as a linear layer's forward runs), so against one core's measured peak.
        const g = (v as { gflops: number }).gflops, core = r.micro.corePeakGflops as number;
        const [m, n, kk] = k.slice(5).split('x');
        return [`| GEMM ${m} x ${n} x ${kk} (x W^T, 1 thread) | ${g.toFixed(1)} GFLOP/s | ${((100 * g) / core).toFixed(1)} % of one core (${core.toFixed(0)} GFLOP/s) |`];
      }
      const m = v as { forwardGflops: number; perSampleBackwardGflops: number };
      return [
        `| ${k} forward (direct) | ${m.forwardGflops.toFixed(1)} GFLOP/s | ${((100 * m.forwardGflops) / r.peak.gflops).toFixed(1)} % |`,
        `| ${k} per-sample backward (seeds innermost) | ${m.perSampleBackwardGflops.toFixed(1)} GFLOP/s | ${((100 * m.perSampleBackwardGflops) / r.peak.gflops).toFixed(1)} % |`,
      ];
    }),
  `| 64 x 64 symmetric eigensolver (Householder + QL, float64) | ${((r.micro.eigen64 as number) * 1e3).toFixed(2)} ms | |`,
  `| 64 x 64 solve, 10 right-hand sides (LU, float64) | ${((r.micro.solve64x10 as number) * 1e3).toFixed(3)} ms | |`,
  `| pattern hashing, 3,000 inputs | ${((r.micro.hash3000 as number) * 1e3).toFixed(2)} ms | |`,
  `| pattern hashing, 100,000 inputs | ${((r.micro.hash100000 as number) * 1e3).toFixed(2)} ms (linear in the inputs) | |`,
  '',
  ...(r.search
    ? [
        '## Search',
        '',
        `Evolution at reference size (\`tegnas search\`: population 256 + 1000 steps, repeat 3, all threads): ${f(r.search.withCacheSeconds, 0)} s with the canonical-key cache (${r.search.evaluations} evaluations, ${r.search.unique} unique, ${f(r.search.evaluations / r.search.withCacheSeconds)} evaluations/s); peak memory of the process ${f(r.search.peakRssMB, 0)} MB. Without the cache every evaluation is scored: about ${f(r.search.withoutCacheProjectedSeconds, 0)} s (the unique-evaluation rate times all evaluations).`,
        '',
        ...(r.search.precomputeRate
          ? [`\`tegnas precompute\` timed sample: ${f(r.search.precomputeRate)} architectures/s, so the whole space (5,425 classes) in about ${f(r.search.precomputeProjectedHours)} h.`, '']
          : []),
      ]
    : ['## Search', '', 'Not measured in this run (`npx tsx bench/engine.bench.ts --search`).', '']),
];
writeFileSync('bench/README.md', `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
