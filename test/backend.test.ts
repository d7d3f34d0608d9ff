import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TegnasError } from '../src/errors.js';
import { NativeNet, backendInfo, resolveBackend } from '../src/native.js';
import { Scorer, indicatorPlans } from '../src/scoring/scorer.js';
import { Network } from '../src/network.js';

// Backend choice (cpu / cuda / auto) and, where a GPU works, the CUDA backend against the CPU engine.
// Without a usable GPU the GPU tests are skipped, and say why; the rest checks that the addon loads,
// explains why the GPU is not used, refuses `cuda` with that reason, and that `auto` is the CPU.

const root = fileURLToPath(new URL('../', import.meta.url));
const info = backendInfo();
const gpu = info.cudaAvailable;
const gpuTest = gpu ? test.serial : test.skip;
if (!gpu) console.log(`tegnas: GPU tests skipped: ${info.cudaReason}`);

test('backendInfo lists the backends and explains the GPU choice', (t) => {
  t.true(info.cpu);
  t.deepEqual(info.backends.slice(0, 1), ['cpu']);
  t.is(info.backends.includes('cuda'), info.cudaBuilt);
  t.is(typeof info.cudaAvailable, 'boolean');
  t.true(info.cudaReason.length > 10, info.cudaReason);
  t.is(info.auto, info.cudaAvailable ? 'cuda' : 'cpu');
  t.true(Number.isInteger(info.cudaDevices));
  if (info.cudaBuilt) {
    t.truthy(info.cuda, 'a CUDA build reports what it found');
    t.regex(info.cuda!.runtime, /^\d+\.\d+$/);
    t.truthy(info.cuda!.architectures);
  }
  if (!info.cudaAvailable && info.cudaBuilt) t.notRegex(info.cudaReason, /^the GPU is used/);
});

test('resolveBackend: cpu is always there, auto follows backendInfo, cuda without a GPU is a clear E_BACKEND', (t) => {
  t.is(resolveBackend('cpu'), 'cpu');
  t.is(resolveBackend('auto'), info.auto);
  t.is(resolveBackend(), info.auto);
  if (gpu) {
    t.is(resolveBackend('cuda'), 'cuda');
  } else {
    const e = t.throws(() => resolveBackend('cuda'), { instanceOf: TegnasError });
    t.is(e!.code, 'E_BACKEND');
    t.true(e!.message.includes(info.cudaReason), e!.message);
  }
  const bad = t.throws(() => resolveBackend('tpu' as never), { instanceOf: TegnasError });
  t.is(bad!.code, 'E_INPUT');
});

test('a Scorer asked for cuda without a GPU fails in its constructor, naming why; auto scores on the CPU', async (t) => {
  if (!gpu) {
    const e = t.throws(() => new Scorer({ space: 'nas-bench-201', repeat: 1, backend: 'cuda' }), { instanceOf: TegnasError });
    t.is(e!.code, 'E_BACKEND');
    t.regex(e!.message, /backend 'cuda' cannot be used: /);
  }
  t.throws(() => new Scorer({ space: 'nas-bench-201', repeat: 1, backend: 'gpu' as never }), { message: /backend must be one of auto, cpu, cuda/ });
  const s = new Scorer({ space: 'nas-bench-201', repeat: 1, mse: false, naswot: false });
  t.is(s.backend, info.auto);
  const c = new Scorer({ space: 'nas-bench-201', repeat: 1, mse: false, naswot: false, backend: 'cpu' });
  t.is(c.backend, 'cpu');
  const arch = '|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|';
  const [a, b] = [await s.score(arch), await c.score(arch)];
  if (!gpu) t.deepEqual(a.repeats, b.repeats, 'auto is the CPU here: identical scores');
});

test('the native methods take a backend name; an unusable one is refused before any work', (t) => {
  const { thin } = indicatorPlans('nas-bench-201', '|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|', 10);
  const net = new NativeNet(thin);
  const w = new Network(thin);
  w.init('kaiming-fanin', 3n);
  const params = Float64Array.from(w.params);
  const x = Float64Array.from({ length: 40 * 9 }, (_, i) => Math.sin(i * 0.7));
  const a = net.linearRegions(params, x, 20, 2);
  t.deepEqual(net.linearRegions(params, x, 20, 2, 'cpu'), a);
  t.deepEqual(net.linearRegions(params, x, 20, 2, 'auto'), a, 'auto on this machine (the GPU counts regions exactly too)');
  if (!gpu) t.throws(() => net.naswot(params, x.subarray(0, 20 * 9), 20, 'cuda'), { instanceOf: TegnasError, message: /cannot be used/ });
});

test('tegnas score --backend: cuda without a GPU is one line naming why; an unknown name is a usage error', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });
  const arch = '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|';
  const bad = run('score', '--arch', arch, '--backend', 'tpu');
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--backend must be one of auto, cpu, cuda/);
  if (!gpu) {
    const r = run('score', '--arch', arch, '--repeat', '1', '--backend', 'cuda');
    t.is(r.status, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.true(r.stderr.includes(info.cudaReason), r.stderr);
  }
  const b = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'backend'], { cwd: root, encoding: 'utf8' });
  t.is(b.status, 0);
  t.is(JSON.parse(b.stdout).auto, info.auto);
});

// ---- on a GPU ----

const ARCHS = [
  '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|',
  '|avg_pool_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|',
  '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|',
];

for (const space of ['nas-bench-201', 'darts'] as const) {
  gpuTest(`${space}: the CUDA backend's scores match the CPU engine's (float32 NTK, exact regions)`, async (t) => {
    const opts = { space, repeat: 2, cache: false } as const;
    const cpu = new Scorer({ ...opts, backend: 'cpu' });
    const cuda = new Scorer({ ...opts, backend: 'cuda' });
    const archs = space === 'darts' ? [undefined] : ARCHS;
    for (const arch of archs) {
      const text = arch ?? "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_3x3', 0), ('dil_conv_5x5', 2), ('avg_pool_3x3', 1), ('max_pool_3x3', 3), ('skip_connect', 2), ('sep_conv_3x3', 4)], normal_concat=[2, 3, 4, 5], reduce=[('skip_connect', 0), ('max_pool_3x3', 1), ('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_5x5', 2), ('skip_connect', 3), ('dil_conv_3x3', 0), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])";
      const [a, b] = [await cpu.score(text), await cuda.score(text)];
      a.repeats.forEach((ra, r) => {
        const rb = b.repeats[r];
        t.is(rb.condBad, ra.condBad, `repeat ${r} cond bad`);
        t.is(rb.mseBad, ra.mseBad, `repeat ${r} mse bad`);
        if (ra.cond !== null && rb.cond !== null) t.true(Math.abs(rb.cond - ra.cond) <= (1e-3 + 3e-5 * ra.cond) * ra.cond, `cond ${rb.cond} vs ${ra.cond}`);
        if (ra.mse !== null && rb.mse !== null) t.true(Math.abs(rb.mse - ra.mse) <= 1e-2 * ra.mse, `mse ${rb.mse} vs ${ra.mse}`);
        t.is(rb.regions, ra.regions, `repeat ${r} regions`);
        if (ra.naswot !== null && rb.naswot !== null) t.true(Math.abs(rb.naswot - ra.naswot) <= 1e-3 * Math.abs(ra.naswot));
      });
    }
  });
}

gpuTest('float64 on the GPU agrees with the CPU to 1e-6', async (t) => {
  const opts = { space: 'nas-bench-201', repeat: 1, cache: false, precision: 'float64' } as const;
  const [a, b] = [await new Scorer({ ...opts, backend: 'cpu' }).score(ARCHS[0]), await new Scorer({ ...opts, backend: 'cuda' }).score(ARCHS[0])];
  t.true(Math.abs(b.cond! - a.cond!) <= 1e-6 * a.cond!, `${b.cond} vs ${a.cond}`);
  t.true(Math.abs(b.mse! - a.mse!) <= 1e-6 * a.mse!, `${b.mse} vs ${a.mse}`);
  t.is(b.regions, a.regions);
});
