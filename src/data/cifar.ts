/**
 * CIFAR binary batches (the official "binary version" files).
 * - CIFAR-10: each record is one label byte (0..9) followed by a 32x32 image as 1024 R, 1024 G and
 *   1024 B bytes, row-major; train = data_batch_1..5.bin, test = test_batch.bin.
 * - CIFAR-100: each record is a coarse label byte (0..19), a fine label byte (0..99) and the same
 *   3072 image bytes; the fine label is used (100 classes); train = train.bin, test = test.bin.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TegnasError, showValue } from '../errors.js';

export const CIFAR10_MEAN = [125.3 / 255, 123.0 / 255, 113.9 / 255] as const;
export const CIFAR10_STD = [63.0 / 255, 62.1 / 255, 66.7 / 255] as const;
export const CIFAR100_MEAN = [129.3 / 255, 124.1 / 255, 112.4 / 255] as const;
export const CIFAR100_STD = [68.2 / 255, 65.4 / 255, 70.4 / 255] as const;

/**
 * Raw images: `pixels` is count x channels x height x width bytes (planar RGB, row-major), `labels` has
 * count class indices in 0..classes-1 (a Uint16Array when classes > 256, e.g. ImageNet-1k).
 */
export interface ImageSet {
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
  pixels: Uint8Array;
  labels: Uint8Array | Uint16Array;
}

export type CifarDataset = 'cifar10' | 'cifar100';

const IMAGE = 3 * 32 * 32;
const RECORD = 1 + IMAGE;

interface CifarFormat {
  name: string;
  labelBytes: number;
  classes: number;
}

const FORMATS: Record<CifarDataset, CifarFormat> = {
  cifar10: { name: 'CIFAR-10', labelBytes: 1, classes: 10 },
  cifar100: { name: 'CIFAR-100', labelBytes: 2, classes: 100 },
};

function parseCifar(bytes: Uint8Array, dataset: CifarDataset, source: string): ImageSet {
  const { name, labelBytes, classes } = FORMATS[dataset];
  const record = labelBytes + IMAGE;
  if (bytes.length === 0) throw new TegnasError('E_DATA', `${source}: empty ${name} file`);
  if (bytes.length % record !== 0)
    throw new TegnasError(
      'E_DATA',
      `${source}: ${bytes.length} bytes is not a whole number of ${name} records of ${record} bytes (truncated or not ${name} binary)`,
    );
  const count = bytes.length / record;
  const pixels = new Uint8Array(count * IMAGE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * record;
    if (labelBytes === 2) {
      const coarse = bytes[at];
      if (coarse > 19)
        throw new TegnasError('E_DATA', `${source}: record ${i} has coarse label ${coarse}, expected 0..19 (corrupt or not ${name}?)`);
    }
    const label = bytes[at + labelBytes - 1];
    if (label >= classes)
      throw new TegnasError('E_DATA', `${source}: record ${i} has label ${label}, expected 0..${classes - 1} (corrupt file?)`);
    labels[i] = label;
    pixels.set(bytes.subarray(at + labelBytes, at + record), i * IMAGE);
  }
  return { count, channels: 3, height: 32, width: 32, classes, pixels, labels };
}

export function parseCifar10(bytes: Uint8Array, source = '<buffer>'): ImageSet {
  return parseCifar(bytes, 'cifar10', source);
}

/** CIFAR-100 binary records (coarse byte, fine byte, 3072 image bytes); labels are the fine labels 0..99. */
export function parseCifar100(bytes: Uint8Array, source = '<buffer>'): ImageSet {
  return parseCifar(bytes, 'cifar100', source);
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TegnasError('E_DATA', `cannot read ${what} file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export function readCifar10(path: string): ImageSet {
  return parseCifar10(readBytes(path, 'CIFAR-10'), path);
}

export function readCifar100(path: string): ImageSet {
  return parseCifar100(readBytes(path, 'CIFAR-100'), path);
}

/** Images of several sets with the same geometry and class count, one after another. */
export function concatImageSets(sets: readonly ImageSet[]): ImageSet {
  if (sets.length === 0) throw new TegnasError('E_DATA', 'no image sets to concatenate');
  const first = sets[0];
  for (const s of sets)
    if (s.channels !== first.channels || s.height !== first.height || s.width !== first.width || s.classes !== first.classes)
      throw new TegnasError(
        'E_DATA',
        `cannot concatenate image sets of ${s.channels}x${s.height}x${s.width} (${s.classes} classes) and ${first.channels}x${first.height}x${first.width} (${first.classes} classes)`,
      );
  if (sets.length === 1) return first;
  const count = sets.reduce((n, s) => n + s.count, 0);
  const per = first.channels * first.height * first.width;
  const pixels = new Uint8Array(count * per);
  const labels = first.classes > 256 ? new Uint16Array(count) : new Uint8Array(count);
  let at = 0;
  for (const s of sets) {
    pixels.set(s.pixels.subarray(0, s.count * per), at * per);
    labels.set(s.labels.subarray(0, s.count), at);
    at += s.count;
  }
  return { ...first, count, pixels, labels };
}

const CIFAR_FILES: Record<CifarDataset, { sub: string; train: string[]; test: string[] }> = {
  cifar10: {
    sub: 'cifar-10-batches-bin',
    train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    test: ['test_batch.bin'],
  },
  cifar100: { sub: 'cifar-100-binary', train: ['train.bin'], test: ['test.bin'] },
};

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The official CIFAR binary files of one split, found in `dir` itself or in the folder the official
 * archive extracts to (`dir/cifar-10-batches-bin`, `dir/cifar-100-binary`); training batches are
 * concatenated in order (data_batch_1..5). Throws E_DATA naming the file that is missing, truncated or
 * holds a label out of range.
 */
export function readCifarDir(dir: string, dataset: CifarDataset, split: 'train' | 'test'): ImageSet {
  const spec = CIFAR_FILES[dataset];
  if (spec === undefined) throw new TegnasError('E_INPUT', `unknown CIFAR dataset '${String(dataset)}' (expected cifar10 or cifar100)`);
  if (split !== 'train' && split !== 'test')
    throw new TegnasError('E_INPUT', `unknown split '${String(split)}' (expected train or test)`);
  if (!existsSync(dir)) throw new TegnasError('E_DATA', `${FORMATS[dataset].name} folder ${dir} does not exist`);
  const names = spec[split];
  const candidates = [dir, join(dir, spec.sub)];
  // The folder that holds any of the split's files; then every file must be there.
  const home = candidates.find((d) => names.some((n) => isFile(join(d, n))));
  if (home === undefined)
    throw new TegnasError(
      'E_DATA',
      `${FORMATS[dataset].name} ${split} file ${names[0]} not found in ${candidates.join(' or ')} (expected the official binary version: ${names.join(', ')})`,
    );
  const sets = names.map((n) => {
    const path = join(home, n);
    if (!isFile(path)) throw new TegnasError('E_DATA', `${FORMATS[dataset].name} ${split} file ${path} is missing`);
    return parseCifar(readBytes(path, FORMATS[dataset].name), dataset, path);
  });
  return concatImageSets(sets);
}

/** {@link readCifarDir} by its short name: the official CIFAR files of one split found in `dir`. */
export const readCifar: (dir: string, dataset: CifarDataset, split: 'train' | 'test') => ImageSet = readCifarDir;

/** Images [start, start + count) as normalised float32 NCHW: (pixel / 255 - mean) / std per channel. */
export function normalise(set: ImageSet, mean: readonly number[], std: readonly number[], start = 0, count?: number): Float32Array {
  if (Number.isInteger(start) && count === undefined) count = set.count - start;
  if (!Number.isInteger(start) || !Number.isInteger(count) || count === undefined)
    throw new TegnasError('E_DATA', `start and count must be integers, got start ${showValue(start, 40)} and count ${showValue(count, 40)}`);
  if (start < 0 || count < 1 || start + count > set.count)
    throw new TegnasError('E_DATA', `asked for images ${start}..${start + count - 1} but the set has ${set.count} (expected 0 <= start, 1 <= count, start + count <= ${set.count})`);
  const plane = set.height * set.width;
  const per = set.channels * plane;
  const out = new Float32Array(count * per);
  for (let n = 0; n < count; n++)
    for (let c = 0; c < set.channels; c++) {
      const m = mean[c], s = std[c];
      const src = (start + n) * per + c * plane;
      const dst = n * per + c * plane;
      for (let i = 0; i < plane; i++) out[dst + i] = (set.pixels[src + i] / 255 - m) / s;
    }
  return out;
}
