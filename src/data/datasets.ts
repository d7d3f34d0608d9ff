/** The datasets tegnas scores on: names, class counts, normalisation, and where their images come from. */
import { existsSync } from 'node:fs';
import { TegnasError } from '../errors.js';
import { type ImageSet, readCifarDir } from './cifar.js';
import { listImageFolder, readImageFolder } from './image-folder.js';
import { readImageNet16 } from './imagenet16.js';
import { Rng } from '../weights/rng.js';
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

/**
 * The train and test images of a dataset. Without `dataDir`, CIFAR-10 is the real sample shipped in the
 * package; other datasets need their official files.
 */
export function loadDataset(name: DatasetName, options: { dataDir?: string; maxImages?: number; seed?: number } = {}): DatasetSplits {
  datasetInfo(name);
  if (name === 'cifar10' && !options.dataDir)
    return { train: shippedCifar10('train'), test: shippedCifar10('test'), source: 'the CIFAR-10 sample shipped with tegnas' };
  const expected: Record<DatasetName, string> = {
    cifar10: 'the CIFAR-10 binary files data_batch_1.bin .. data_batch_5.bin and test_batch.bin',
    cifar100: 'the CIFAR-100 binary files train.bin and test.bin',
    'ImageNet16-120': 'the ImageNet16 pickles train_data_batch_1 .. train_data_batch_10 and val_data',
    'imagenet-1k': 'an ImageFolder tree train/<class>/*.JPEG and val/<class>/*.JPEG',
  };
  if (!options.dataDir) throw new TegnasError('E_DATA', `${name} is not shipped with tegnas: pass --data-dir with ${expected[name]}`);
  const dir = options.dataDir;
  if (!existsSync(dir)) throw new TegnasError('E_DATA', `${name}: the folder ${dir} does not exist; expected ${expected[name]}`);
  switch (name) {
    case 'cifar10':
    case 'cifar100':
      return { train: readCifarDir(dir, name, 'train'), test: readCifarDir(dir, name, 'test'), source: dir };
    case 'ImageNet16-120':
      return { train: readImageNet16(dir, 'train', 120), test: readImageNet16(dir, 'val', 120), source: dir };
    case 'imagenet-1k': {
      // Decoding 1.28 M JPEGs to draw one batch would be absurd: decode a seeded sample of each split.
      const max = options.maxImages ?? 1024;
      const pick = (split: 'train' | 'val') => {
        const listing = listImageFolder(dir, split);
        const all = Array.from({ length: listing.samples.length }, (_, i) => i);
        const indices = new Rng(options.seed ?? 0).fork(split).sample(all, Math.min(max, all.length));
        return readImageFolder(dir, split, { indices, listing });
      };
      return { train: pick('train'), test: pick('val'), source: dir };
    }
  }
}
