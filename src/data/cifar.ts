/**
 * CIFAR-10 binary batches (the official format): each record is one label byte followed by a
 * 32x32 image as 1024 R, 1024 G and 1024 B bytes, row-major.
 */
import { readFileSync } from 'node:fs';
import { TegnasError } from '../errors.js';

export const CIFAR10_MEAN = [125.3 / 255, 123.0 / 255, 113.9 / 255] as const;
export const CIFAR10_STD = [63.0 / 255, 62.1 / 255, 66.7 / 255] as const;

/** Raw images: `pixels` is count x 3 x 32 x 32 bytes, `labels` count bytes. */
export interface ImageSet {
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

const RECORD = 1 + 3 * 32 * 32;

export function parseCifar10(bytes: Uint8Array, source = '<buffer>'): ImageSet {
  if (bytes.length === 0) throw new TegnasError('E_DATA', `${source}: empty CIFAR-10 file`);
  if (bytes.length % RECORD !== 0)
    throw new TegnasError(
      'E_DATA',
      `${source}: ${bytes.length} bytes is not a whole number of CIFAR-10 records of ${RECORD} bytes (truncated or not CIFAR-10 binary)`,
    );
  const count = bytes.length / RECORD;
  const pixels = new Uint8Array(count * (RECORD - 1));
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = bytes[i * RECORD];
    if (label > 9) throw new TegnasError('E_DATA', `${source}: record ${i} has label ${label}, expected 0..9 (corrupt file?)`);
    labels[i] = label;
    pixels.set(bytes.subarray(i * RECORD + 1, (i + 1) * RECORD), i * (RECORD - 1));
  }
  return { count, channels: 3, height: 32, width: 32, classes: 10, pixels, labels };
}

export function readCifar10(path: string): ImageSet {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TegnasError('E_DATA', `cannot read CIFAR-10 file ${path}: ${(e as Error).message}`);
  }
  return parseCifar10(bytes, path);
}

/** Images [start, start + count) as normalised float32 NCHW: (pixel / 255 - mean) / std per channel. */
export function normalise(set: ImageSet, mean: readonly number[], std: readonly number[], start = 0, count = set.count - start): Float32Array {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > set.count)
    throw new TegnasError('E_DATA', `asked for images ${start}..${start + count - 1} but the set has ${set.count}`);
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
