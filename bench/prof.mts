// Ad-hoc profiling driver: scores one NB201 architecture `runs` times (for perf record).
import { Scorer } from '../src/scoring/scorer.js';
const arch = process.argv[2];
const threads = Number(process.argv[3] ?? 1);
const runs = Number(process.argv[4] ?? 1);
const s = new Scorer({ space: 'nas-bench-201', seed: 0, threads, cache: false });
await s.score(arch);
const t = performance.now();
const c0 = process.cpuUsage();
let r;
for (let i = 0; i < runs; i++) r = await s.score(arch);
const cu = process.cpuUsage(c0);
console.log(`wall ${((performance.now() - t) / 1000 / runs).toFixed(3)} s, cpu ${((cu.user + cu.system) / 1e6 / runs).toFixed(3)} s`, JSON.stringify(r!.seconds));
