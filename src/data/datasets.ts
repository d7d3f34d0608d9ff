/**
 * The datasets tegnas scores on: names, class counts, normalisation, and where their images come from.
 *
 * | name             | classes | images   | --data-dir holds                                                          |
 * |------------------|---------|----------|---------------------------------------------------------------------------|
 * | `cifar10`        | 10      | 32 x 32  | data_batch_1..5.bin, test_batch.bin (or cifar-10-batches-bin/); optional |
 * | `cifar100`       | 100     | 32 x 32  | train.bin, test.bin (or cifar-100-binary/)                                |
 * | `ImageNet16-120` | 120     | 16 x 16  | train_data_batch_1..10, val_data (ImageNet16 pickles; labels 1..120 kept) |
 * | `imagenet-1k`    | 1000    | 32 x 32  | train/<class>/*.JPEG, val/<class>/*.JPEG (ImageFolder; JPEG or PNG)       |
 *
 * Without a data folder, `cifar10` is the real CIFAR-10 sample shipped in the package (the first 512
 * training and 256 test images). ImageNet-1k images are resized to 32 x 32 (bilinear, PIL's
 * Resize((32, 32))) for both splits, as the TEG-NAS reference's get_datasets does.
 */
import { existsSync } from 'node:fs';
import { TegnasError } from '../errors.js';
import { Rng } from '../weights/rng.js';
import { type ImageSet, readCifarDir } from './cifar.js';
import { type ImageFolderListing, listImageFolder, readImageFolder } from './image-folder.js';
import { readImageNet16 } from './imagenet16.js';
import { shippedCifar10 } from './sample.js';
import { AUGMENTATION, NORMALISATION } from './transforms.js';

export type DatasetName = 'cifar10' | 'cifar100' | 'ImageNet16-120' | 'imagenet-1k';
export const DATASETS: readonly DatasetName[] = ['cifar10', 'cifar100', 'ImageNet16-120', 'imagenet-1k'];

export interface DatasetInfo {
  classes: number;
  /** Per-channel mean and std of pixel / 255, as the reference normalises. */
  mean: readonly number[];
  std: readonly number[];
  /** Side of the (square) images the networks see. */
  size: number;
  /** Zero padding of the reference's random-crop augmentation (the crop is `size` x `size`). */
  cropPadding: number;
}

export const DATASET_INFO: Readonly<Record<DatasetName, DatasetInfo>> = {
  cifar10: { classes: 10, ...NORMALISATION.cifar10, size: 32, cropPadding: AUGMENTATION.cifar10.padding },
  cifar100: { classes: 100, ...NORMALISATION.cifar100, size: 32, cropPadding: AUGMENTATION.cifar100.padding },
  'ImageNet16-120': { classes: 120, ...NORMALISATION['ImageNet16-120'], size: 16, cropPadding: AUGMENTATION['ImageNet16-120'].padding },
  'imagenet-1k': { classes: 1000, ...NORMALISATION['imagenet-1k'], size: 32, cropPadding: AUGMENTATION['imagenet-1k'].padding },
};

/** What --data-dir must hold for each dataset, for messages. */
export const EXPECTED_FILES: Readonly<Record<DatasetName, string>> = {
  cifar10: 'the CIFAR-10 binary version: data_batch_1.bin .. data_batch_5.bin and test_batch.bin (or the folder cifar-10-batches-bin/ holding them)',
  cifar100: 'the CIFAR-100 binary version: train.bin and test.bin (or the folder cifar-100-binary/ holding them)',
  'ImageNet16-120':
    'the ImageNet16 (16x16 downsampled ImageNet) pickles: train_data_batch_1 .. train_data_batch_10 and val_data (or the folders Imagenet16_train/ and Imagenet16_val/ holding them)',
  'imagenet-1k': 'an ImageFolder tree: train/<class>/*.JPEG and val/<class>/*.JPEG (JPEG or PNG; classes are the sorted folder names)',
};

export function isDatasetName(v: unknown): v is DatasetName {
  return typeof v === 'string' && (DATASETS as readonly string[]).includes(v);
}

export function datasetInfo(name: DatasetName): DatasetInfo {
  if (!isDatasetName(name)) throw new TegnasError('E_INPUT', `unknown dataset ${JSON.stringify(name)}; expected one of ${DATASETS.join(', ')}`);
  return DATASET_INFO[name];
}

/** The number of classes of a dataset (10, 100, 120, 1000). */
export function datasetClasses(name: DatasetName): number {
  return datasetInfo(name).classes;
}

export interface DatasetSplits {
  train: ImageSet;
  test: ImageSet;
  /** Where the images came from, for messages. */
  source: string;
}

/**
 * One split of a dataset whose images are read on demand: `count` images of channels x height x width,
 * `read(indices)` returns those images (in that order) with their labels.
 */
export interface LazySplit {
  count: number;
  classes: number;
  channels: number;
  height: number;
  width: number;
  read(indices: readonly number[]): ImageSet;
}

export interface LazyDataset {
  name: DatasetName;
  train: LazySplit;
  test: LazySplit;
  source: string;
}

/** The images `indices` of `set`, in that order. */
export function subsetImages(set: ImageSet, indices: readonly number[]): ImageSet {
  const per = set.channels * set.height * set.width;
  const pixels = new Uint8Array(indices.length * per);
  const labels = set.labels instanceof Uint16Array ? new Uint16Array(indices.length) : new Uint8Array(indices.length);
  indices.forEach((i, k) => {
    if (!Number.isInteger(i) || i < 0 || i >= set.count)
      throw new TegnasError('E_INPUT', `image index ${i} is out of range: the set has ${set.count} images`);
    pixels.set(set.pixels.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = set.labels[i];
  });
  return { ...set, count: indices.length, pixels, labels };
}

function inMemory(set: ImageSet): LazySplit {
  const whole = (indices: readonly number[]) => indices.length === set.count && indices.every((v, i) => v === i);
  return {
    count: set.count,
    classes: set.classes,
    channels: set.channels,
    height: set.height,
    width: set.width,
    read: (indices) => (whole(indices) ? set : subsetImages(set, indices)),
  };
}

function imageFolderSplit(root: string, split: 'train' | 'val'): LazySplit {
  const listing: ImageFolderListing = listImageFolder(root, split);
  const classes = listing.classNames.length;
  if (classes > 1000)
    throw new TegnasError('E_DATA', `ImageFolder ${listing.dir} has ${classes} class folders, expected at most 1000 for imagenet-1k`);
  return {
    count: listing.samples.length,
    classes: 1000,
    channels: 3,
    height: 32,
    width: 32,
    read: (indices) => ({ ...readImageFolder(root, split, { indices, listing, transform: 'resize' }), classes: 1000 }),
  };
}

function checkDataDir(name: DatasetName, dataDir: unknown): string | undefined {
  if (dataDir === undefined) return undefined;
  if (typeof dataDir !== 'string' || dataDir === '') throw new TegnasError('E_INPUT', `dataDir must be a folder path, got ${JSON.stringify(dataDir)}`);
  if (!existsSync(dataDir)) throw new TegnasError('E_DATA', `${name}: the data folder ${dataDir} does not exist; expected ${EXPECTED_FILES[name]}`);
  return dataDir;
}

/**
 * A dataset whose images are read when asked for: CIFAR and ImageNet16 files are parsed at once (they
 * are one or a few files), an ImageNet-1k folder is only listed, and its images are decoded and resized
 * by `read`. Without `dataDir`, cifar10 is the shipped sample and the others are an E_DATA error that
 * says what --data-dir must hold.
 */
export function openDataset(name: DatasetName, options: { dataDir?: string } = {}): LazyDataset {
  datasetInfo(name);
  const dir = checkDataDir(name, options.dataDir);
  if (dir === undefined) {
    if (name === 'cifar10')
      return { name, train: inMemory(shippedCifar10('train')), test: inMemory(shippedCifar10('test')), source: 'the CIFAR-10 sample shipped with tegnas' };
    throw new TegnasError('E_DATA', `${name} is not shipped with tegnas: --data-dir is required, a folder with ${EXPECTED_FILES[name]}`);
  }
  switch (name) {
    case 'cifar10':
    case 'cifar100':
      return { name, train: inMemory(readCifarDir(dir, name, 'train')), test: inMemory(readCifarDir(dir, name, 'test')), source: dir };
    case 'ImageNet16-120':
      return { name, train: inMemory(readImageNet16(dir, 'train', 120)), test: inMemory(readImageNet16(dir, 'val', 120)), source: dir };
    case 'imagenet-1k':
      return { name, train: imageFolderSplit(dir, 'train'), test: imageFolderSplit(dir, 'val'), source: dir };
  }
}

/**
 * The train and test images of a dataset (for ImageNet16-120 the test split is val_data, for
 * imagenet-1k the val folder). Without `dataDir`, CIFAR-10 is the real sample shipped in the package;
 * other datasets need their official files (E_DATA saying which).
 *
 * `maxImages` keeps a seeded random sample (`seed`, default 0) of at most that many images of each
 * split. ImageNet-1k defaults to 1024 per split: decoding 1.28 M JPEGs whole is rarely what is wanted
 * (pass maxImages: Infinity for all).
 */
export function loadDataset(name: DatasetName, options: { dataDir?: string; maxImages?: number; seed?: number } = {}): DatasetSplits {
  const { maxImages, seed = 0 } = options;
  if (maxImages !== undefined && !(maxImages === Infinity || (Number.isInteger(maxImages) && maxImages >= 1)))
    throw new TegnasError('E_INPUT', `maxImages must be a positive integer (or Infinity), got ${JSON.stringify(maxImages)}`);
  if (!Number.isInteger(seed)) throw new TegnasError('E_INPUT', `seed must be an integer, got ${JSON.stringify(seed)}`);
  const data = openDataset(name, options);
  const max = maxImages ?? (name === 'imagenet-1k' ? 1024 : Infinity);
  const take = (split: LazySplit, label: string): ImageSet => {
    const all = Array.from({ length: split.count }, (_, i) => i);
    if (max >= split.count) return split.read(all);
    return split.read(new Rng(seed).fork(label).sample(all, max));
  };
  return { train: take(data.train, 'train'), test: take(data.test, 'val'), source: data.source };
}
