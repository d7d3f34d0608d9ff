/**
 * ImageNet16 (the 16x16 "Downsampled ImageNet" of Chrabaszcz et al., as used by NAS-Bench-201 and
 * TE-NAS): pickled dicts with 'data' (uint8, N x 768 = 3 planes of 16 x 16) and 'labels' (1-based class
 * numbers 1..1000), in train_data_batch_1..10 and val_data. ImageNet16-120/-150/-200 keep the images
 * whose label is 1..classes and number the classes 0..classes-1, as the reference does.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TegnasError } from '../errors.js';
import type { ImageSet } from './cifar.js';
import { NdArray, dictGet, parsePickle, toIntegers } from './pickle.js';

export const IMAGENET16_MEAN = [122.68 / 255, 116.66 / 255, 104.01 / 255] as const;
export const IMAGENET16_STD = [63.22 / 255, 61.26 / 255, 65.09 / 255] as const;

export const IMAGENET16_TRAIN_FILES = Array.from({ length: 10 }, (_, i) => `train_data_batch_${i + 1}`);
export const IMAGENET16_VAL_FILES = ['val_data'];

const PLANE = 16 * 16;
const IMAGE = 3 * PLANE;

/**
 * One ImageNet16 batch file's images whose label is in 1..classes, labels remapped to 0..classes-1.
 * `source` names the data in errors.
 */
export function parseImageNet16Batch(bytes: Uint8Array, classes = 1000, source = '<ImageNet16 batch>'): ImageSet {
  checkClasses(classes);
  const entry = parsePickle(bytes, source);
  const data = dictGet(entry, 'data', source);
  if (!(data instanceof NdArray) || data.dtype !== 'uint8')
    throw new TegnasError('E_DATA', `${source}: 'data' is not a uint8 numpy array`);
  const n = data.shape.length === 0 ? 0 : data.shape[0];
  if (data.size !== n * IMAGE)
    throw new TegnasError('E_DATA', `${source}: 'data' has shape (${data.shape.join(', ')}), expected (N, 768) images of 3 x 16 x 16`);
  const labels = toIntegers(dictGet(entry, 'labels', source), "'labels'", source);
  if (labels.length !== n)
    throw new TegnasError('E_DATA', `${source}: ${labels.length} labels for ${n} images`);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l < 1 || l > 1000) throw new TegnasError('E_DATA', `${source}: image ${i} has label ${l}, expected 1..1000 (corrupt file?)`);
    if (l <= classes) kept++;
  }
  const pixels = new Uint8Array(kept * IMAGE);
  const out = classes > 256 ? new Uint16Array(kept) : new Uint8Array(kept);
  const src = data.data as Uint8Array;
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] > classes) continue;
    pixels.set(src.subarray(i * IMAGE, (i + 1) * IMAGE), k * IMAGE);
    out[k++] = labels[i] - 1;
  }
  return { count: kept, channels: 3, height: 16, width: 16, classes, pixels, labels: out };
}

function checkClasses(classes: number): void {
  if (!Number.isInteger(classes) || classes < 1 || classes > 1000)
    throw new TegnasError('E_INPUT', `ImageNet16 classes must be an integer in 1..1000, got ${classes}`);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The ImageNet16 images of a split from the official batch files in `dir` (or in the folders the
 * official archives extract to, `dir/Imagenet16_train` and `dir/Imagenet16_val`): 'train' reads
 * train_data_batch_1..10 in order, 'val' (also accepted as 'test', the split NAS-Bench-201 tests on)
 * reads val_data. Only images labelled 1..classes are kept, relabelled 0..classes-1 (120 gives
 * ImageNet16-120: 151,700 train and 6,000 val images; 1000 keeps all).
 */
export function readImageNet16(dir: string, split: 'train' | 'val' | 'test', classes = 120): ImageSet {
  checkClasses(classes);
  if (split !== 'train' && split !== 'val' && split !== 'test')
    throw new TegnasError('E_INPUT', `unknown ImageNet16 split '${String(split)}' (expected train, val or test)`);
  const names = split === 'train' ? IMAGENET16_TRAIN_FILES : IMAGENET16_VAL_FILES;
  const candidates = [dir, join(dir, split === 'train' ? 'Imagenet16_train' : 'Imagenet16_val')];
  const home = candidates.find((d) => names.some((f) => isFile(join(d, f))));
  if (home === undefined)
    throw new TegnasError('E_DATA', `ImageNet16 ${split} file ${names[0]} not found in ${candidates.join(' or ')} (expected ${names.join(', ')})`);
  const parts: ImageSet[] = [];
  for (const f of names) {
    const path = join(home, f);
    if (!isFile(path)) throw new TegnasError('E_DATA', `ImageNet16 ${split} file ${path} is missing`);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new TegnasError('E_DATA', `cannot read ImageNet16 ${split} file ${path}: ${(e as Error).message}`, { cause: e });
    }
    parts.push(parseImageNet16Batch(bytes, classes, path));
  }
  const count = parts.reduce((a, p) => a + p.count, 0);
  const pixels = new Uint8Array(count * IMAGE);
  const labels = classes > 256 ? new Uint16Array(count) : new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * IMAGE);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { count, channels: 3, height: 16, width: 16, classes, pixels, labels };
}
