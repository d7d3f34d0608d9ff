/** `tegnas score`: the TEG indicators of one architecture, on the shipped data by default. */
import { parseArgs } from 'node:util';
import { DATASETS, type DatasetName } from '../data/datasets.js';
import { SPACES, type SpaceName } from '../scoring/indicators.js';
import { Scorer } from '../scoring/scorer.js';
import { INIT_NAMES, type InitName } from '../weights/init.js';
import { BACKEND_CHOICES, type BackendChoice } from '../native.js';
import { UsageError, choiceFlag, intFlag } from './args.js';

export const SCORE_HELP = `tegnas score --arch TEXT [options]
  The TEG indicators of one architecture: NTK condition number, NTK regression MSE, linear regions,
  NASWOT, parameters and FLOPs of the evaluation network.
  --space NAME        nas-bench-201 | darts (default nas-bench-201)
  --arch TEXT         an arch string (|op~0|+|op~0|op~1|+|op~0|op~1|op~2|) or a DARTS Genotype(...) text
  --dataset NAME      ${DATASETS.join(' | ')} (default cifar10: the shipped images)
  --data-dir DIR      where the dataset's official files are
  --seed N            seed of the networks and batches (default 0)
  --repeat N          networks per indicator (default 3)
  --init NAME         ${INIT_NAMES.join(' | ')} (default torch-default)
  --weights FILE      safetensors with ntk.<r>.<name> and thin.<r>.<name> for r = 0..repeat-1
  --inputs FILE       safetensors with ntk.x, ntk.y, val.x, val.y, regions.x
  --threads N         engine threads (default: all cores)
  --backend NAME      auto | cpu | cuda: where the indicators are computed (default auto: the GPU
                      when the CUDA backend works here, see 'tegnas backend')
  --json              print one JSON object`;

export async function scoreCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      space: { type: 'string' },
      arch: { type: 'string' },
      dataset: { type: 'string' },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      repeat: { type: 'string' },
      init: { type: 'string' },
      weights: { type: 'string' },
      inputs: { type: 'string' },
      threads: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.arch) throw new UsageError('--arch is required (an arch string or a DARTS genotype text)');
  const space = choiceFlag<SpaceName>('space', values.space, 'nas-bench-201', SPACES);
  const dataset = choiceFlag<DatasetName>('dataset', values.dataset, 'cifar10', DATASETS);
  const scorer = new Scorer({
    space,
    dataset,
    dataDir: values['data-dir'],
    seed: intFlag('seed', values.seed, 0, 0),
    repeat: intFlag('repeat', values.repeat, 3, 1, 100),
    init: choiceFlag<InitName>('init', values.init, 'torch-default', INIT_NAMES),
    weights: values.weights,
    inputs: values.inputs,
    threads: values.threads === undefined ? undefined : intFlag('threads', values.threads, 1, 1, 1024),
    backend: choiceFlag<BackendChoice>('backend', values.backend, 'auto', BACKEND_CHOICES),
  });
  const s = await scorer.score(values.arch);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ space, dataset: values.inputs ? `inputs ${values.inputs}` : dataset, ...s }, null, 2)}\n`);
    return;
  }
  const f = (v: number | null, d = 4) => (v === null ? 'n/a' : v.toPrecision(d));
  process.stdout.write(
    [
      `arch      ${s.arch}`,
      `cond      ${f(s.cond, 6)}   (NTK condition number, lower is better)`,
      `mse       ${f(s.mse, 6)}   (NTK regression error, lower is better)`,
      `regions   ${s.regions.toFixed(1)}   (linear regions, higher is better)`,
      `naswot    ${f(s.naswot, 6)}`,
      `params    ${s.params.toFixed(4)} M   flops ${s.flops.toFixed(2)} M   (evaluation network)`,
      `bad       ${s.bad ? `yes: ${s.badReason}` : 'no'}`,
      `repeats   ${s.repeats.map((r) => `[cond ${f(r.cond)}, mse ${f(r.mse)}, regions ${r.regions}]`).join(' ')}`,
      `time      ${s.seconds.total.toFixed(2)} s on the ${scorer.backend === 'cuda' ? 'GPU' : 'CPU'} (ntk ${s.seconds.ntk.toFixed(2)}, regions ${s.seconds.regions.toFixed(3)}, naswot ${s.seconds.naswot.toFixed(3)})`,
      '',
    ].join('\n'),
  );
}
