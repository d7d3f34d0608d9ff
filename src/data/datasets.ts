/** The datasets tegnas scores on: names, class counts, normalisation, and where their images come from. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TegnasError } from '../errors.js';
import { type ImageSet, readCifar10 } from './cifar.js';
import { shippedCifar10 } from './sample.js';

export type DatasetName = 'cifar10' | 'cifar100' | 'ImageNet16-120' | 'imagenet-1k';
export const DATASETS: readonly DatasetName[] = ['cifar10', 'cifar100', 'ImageNet16-120', 'imagenet-1k'];

export interface DatasetInfo {
  classes: number;
  /** Per-channel mean and std of pixel / 255, as the reference normalises. */
  mean: readonly number[];
  std: readonly number[];
  /** Side of the (square) images the networks see. */
  size: number;
  /** Zero padding of the reference's random-crop augmentation. */
  cropPadding: number;
}

export const DATASET_INFO: Record<DatasetName, DatasetInfo> = {
  cifar10: { classes: 10, mean: [125.3 / 255, 123.0 / 255, 113.9 / 255], std: [63.0 / 255, 62.1 / 255, 66.7 / 255], size: 32, cropPadding: 4 },
  cifar100: { classes: 100, mean: [129.3 / 255, 124.1 / 255, 112.4 / 255], std: [68.2 / 255, 65.4 / 255, 70.4 / 255], size: 32, cropPadding: 4 },
  'ImageNet16-120': { classes: 120, mean: [122.68 / 255, 116.66 / 255, 104.01 / 255], std: [63.22 / 255, 61.26 / 255, 65.09 / 255], size: 16, cropPadding: 2 },
  'imagenet-1k': { classes: 1000, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], size: 32, cropPadding: 0 },
};

export function isDatasetName(v: unknown): v is DatasetName {
  return typeof v === 'string' && (DATASETS as readonly string[]).includes(v);
}

export function datasetInfo(name: DatasetName): DatasetInfo {
  if (!isDatasetName(name)) throw new TegnasError('E_INPUT', `unknown dataset ${JSON.stringify(name)}; expected one of ${DATASETS.join(', ')}`);
  return DATASET_INFO[name];
}

export interface DatasetSplits {
  train: ImageSet;
  test: ImageSet;
  /** Where the images came from, for messages. */
  source: string;
}

function concat(sets: ImageSet[]): ImageSet {
  const count = sets.reduce((a, s) => a + s.count, 0);
  const first = sets[0];
  const per = first.channels * first.height * first.width;
  const pixels = new Uint8Array(count * per);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of sets) {
    pixels.set(s.pixels, at * per);
    labels.set(s.labels, at);
    at += s.count;
  }
  return { ...first, count, pixels, labels };
}

/** CIFAR-10 binary batches in a folder (data_batch_1..5.bin and test_batch.bin, or cifar-10-batches-bin/). */
function readCifar10Dir(dir: string): DatasetSplits {
  const base = existsSync(join(dir, 'cifar-10-batches-bin')) ? join(dir, 'cifar-10-batches-bin') : dir;
  if (!existsSync(base)) throw new TegnasError('E_DATA', `CIFAR-10 folder ${dir} does not exist`);
  const files = readdirSync(base);
  const train = files.filter((f) => /^data_batch_\d+\.bin$/.test(f)).sort();
  if (train.length === 0 || !files.includes('test_batch.bin'))
    throw new TegnasError('E_DATA', `${base}: expected the CIFAR-10 binary files data_batch_1.bin .. data_batch_5.bin and test_batch.bin`);
  return { train: concat(train.map((f) => readCifar10(join(base, f)))), test: readCifar10(join(base, 'test_batch.bin')), source: base };
}

/**
 * The train and test images of a dataset. Without `dataDir`, CIFAR-10 is the real sample shipped in the
 * package; other datasets need their official files.
 */
export function loadDataset(name: DatasetName, options: { dataDir?: string } = {}): DatasetSplits {
  datasetInfo(name);
  if (name === 'cifar10') {
    if (!options.dataDir) return { train: shippedCifar10('train'), test: shippedCifar10('test'), source: 'the CIFAR-10 sample shipped with tegnas' };
    return readCifar10Dir(options.dataDir);
  }
  const expected: Record<Exclude<DatasetName, 'cifar10'>, string> = {
    cifar100: 'the CIFAR-100 binary files train.bin and test.bin',
    'ImageNet16-120': 'the ImageNet16 pickles train_data_batch_1 .. train_data_batch_10 and val_data',
    'imagenet-1k': 'an ImageFolder tree train/<class>/*.JPEG and val/<class>/*.JPEG',
  };
  if (!options.dataDir) throw new TegnasError('E_DATA', `${name} is not shipped with tegnas: pass --data-dir with ${expected[name]}`);
  return loadOtherDataset(name, options.dataDir);
}

// Loaders of the datasets that are not shipped; filled in as each format's reader lands.
function loadOtherDataset(name: Exclude<DatasetName, 'cifar10'>, dir: string): DatasetSplits {
  throw new TegnasError('E_DATA', `reading ${name} from ${dir} is not supported yet`);
}
