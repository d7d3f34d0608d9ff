/**
 * `tegnas ntk`: the per-sample-gradient NTK of one NAS-Bench-201 architecture on the shipped CIFAR-10
 * images, with the reference NTK network (C=3, N=1, train-mode BN). A smoke command for the engine.
 */
import { parseArgs } from 'node:util';
import { CIFAR10_MEAN, CIFAR10_STD, normalise } from '../data/cifar.js';
import { shippedCifar10 } from '../data/sample.js';
import { Network, type ParamGroup } from '../network.js';
import { INIT_NAMES, type InitName } from '../weights/init.js';
import { UsageError, choiceFlag, intFlag } from './args.js';

export const NTK_HELP = `tegnas ntk [options]
  Per-sample gradients and the NTK (G G^T) of a NAS-Bench-201 architecture on the shipped CIFAR-10 images.
  --arch TEXT         arch string (default: the best-known TE-NAS architecture)
  --batch N           images (default 64, at most 512)
  --classes N         classifier outputs (default 10)
  --group NAME        weights | cell-weights (default weights)
  --init NAME         ${INIT_NAMES.join(' | ')} (default torch-default)
  --seed N            initialisation seed (default 0)
  --weights FILE      load the network's weights from a safetensors file instead
  --threads N         engine threads (default: all cores)
  --json              print JSON`;

export const DEFAULT_ARCH = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|';

export async function ntkCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string' },
      batch: { type: 'string' },
      classes: { type: 'string' },
      group: { type: 'string' },
      init: { type: 'string' },
      seed: { type: 'string' },
      weights: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const arch = values.arch ?? DEFAULT_ARCH;
  const batch = intFlag('batch', values.batch, 64, 1, 512);
  const classes = intFlag('classes', values.classes, 10, 1, 100000);
  const group = choiceFlag<ParamGroup>('group', values.group, 'weights', ['weights', 'cell-weights']);
  const init = choiceFlag<InitName>('init', values.init, 'torch-default', INIT_NAMES);
  const seed = intFlag('seed', values.seed, 0, 0);
  const threads = values.threads === undefined ? undefined : intFlag('threads', values.threads, 1, 1, 1024);
  if (!arch.trim()) throw new UsageError('--arch must not be empty');

  const net = Network.nb201(arch, { C: 3, N: 1, classes });
  if (values.weights) net.loadWeights(values.weights);
  else net.init(init, seed);
  const x = normalise(shippedCifar10('train'), CIFAR10_MEAN, CIFAR10_STD, 0, batch);
  const t0 = performance.now();
  const r = await net.perSampleGradientsAsync(x, batch, group, threads);
  const seconds = (performance.now() - t0) / 1000;
  const P = r.columns.reduce((a, c) => a + c.numel, 0);
  // NTK = G G^T in float64.
  const K = new Float64Array(batch * batch);
  for (let i = 0; i < batch; i++)
    for (let j = 0; j <= i; j++) {
      let acc = 0;
      const gi = i * P, gj = j * P;
      for (let p = 0; p < P; p++) acc += r.grads[gi + p] * r.grads[gj + p];
      K[i * batch + j] = K[j * batch + i] = acc;
    }
  let trace = 0, minDiag = Infinity, maxDiag = -Infinity, fro = 0;
  for (let i = 0; i < batch; i++) {
    const d = K[i * batch + i];
    trace += d;
    minDiag = Math.min(minDiag, d);
    maxDiag = Math.max(maxDiag, d);
  }
  for (const v of K) fro += v * v;
  const out = {
    arch,
    batch,
    classes,
    group,
    init: values.weights ? `weights from ${values.weights}` : init,
    seed,
    parameters: P,
    ntk: { trace, minDiag, maxDiag, frobenius: Math.sqrt(fro), firstRow: Array.from(K.subarray(0, Math.min(batch, 8))) },
    seconds,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [
      `arch        ${arch}`,
      `network     NAS-Bench-201 NTK network (C=3, N=1, ${classes} classes), BatchNorm in training mode, ${out.init}`,
      `data        first ${batch} shipped CIFAR-10 training images, normalised`,
      `gradients   ${batch} x ${P} (${group}), one batched backward, ${seconds.toFixed(3)} s`,
      `NTK         ${batch} x ${batch}: trace ${trace.toPrecision(6)}, diagonal ${minDiag.toPrecision(4)} .. ${maxDiag.toPrecision(4)}, ` +
        `Frobenius ${Math.sqrt(fro).toPrecision(6)}`,
      `NTK[0, :8]  ${out.ntk.firstRow.map((v) => v.toPrecision(4)).join(' ')}`,
      '',
    ].join('\n'),
  );
}
