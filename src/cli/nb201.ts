/** `tegnas nb201`: the shipped NAS-Bench-201 ground truth. */
import { parseArgs } from 'node:util';
import { type Nb201Dataset, type Nb201Entry, NB201_DATASETS, nb201Table } from '../benchmarks/nb201.js';
import { UsageError, choiceFlag, intFlag } from './args.js';

export const NB201_HELP = `tegnas nb201 --arch TEXT | --index N | --top K [--dataset D] [--json]
  NAS-Bench-201 accuracies (200 epochs) from the table shipped with tegnas.
  --dataset D         ${NB201_DATASETS.join(' | ')} (default cifar10; ranks and --top use it)`;

export async function nb201Command(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { arch: { type: 'string' }, index: { type: 'string' }, top: { type: 'string' }, dataset: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const given = ['arch', 'index', 'top'].filter((k) => values[k as 'arch'] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --arch, --index, --top');
  const dataset = choiceFlag<Nb201Dataset>('dataset', values.dataset, 'cifar10', NB201_DATASETS);
  const table = nb201Table();
  let entries: Nb201Entry[];
  if (values.arch !== undefined) entries = [table.byArch(values.arch)];
  else if (values.index !== undefined) entries = [table.byIndex(intFlag('index', values.index, 0, 0, table.size - 1))];
  else entries = table.top(intFlag('top', values.top, 10, 1, table.size), dataset);
  const rows = entries.map((e) => ({ ...e, rank: table.rank(e.arch, dataset) }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows.length === 1 && values.top === undefined ? rows[0] : rows, null, 2)}\n`);
    return;
  }
  const cols: Nb201Dataset[] = ['cifar10', 'cifar100', 'ImageNet16-120', 'cifar10-valid'];
  process.stdout.write(`${'index'.padStart(5)}  ${cols.map((c) => c.padStart(14)).join(' ')}  rank(${dataset})  arch\n`);
  for (const r of rows)
    process.stdout.write(`${String(r.index).padStart(5)}  ${cols.map((c) => r.accuracy[c].toFixed(2).padStart(14)).join(' ')}  ${String(r.rank).padStart(6)}  ${r.arch}\n`);
}
