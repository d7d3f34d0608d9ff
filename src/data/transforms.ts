/**
 * The reference's image transforms, on raw uint8 images (count x C x H x W) with a seeded generator:
 * normalisation, the training augmentation (random horizontal flip, zero padding and a random crop, as
 * NAS-Bench-201 trains), and the linear-region inputs (a random 3 x 3 crop of one random channel).
 */
import type { Rng } from '../weights/rng.js';
import type { ImageSet } from './cifar.js';

/** Normalised float32 copy of images `indices`, optionally augmented (flip + pad + crop). */
export function normalisedBatch(
  set: ImageSet,
  indices: readonly number[],
  mean: readonly number[],
  std: readonly number[],
  augment?: { rng: Rng; padding: number },
): Float32Array {
  const { channels: C, height: H, width: W } = set;
  const plane = H * W;
  const out = new Float32Array(indices.length * C * plane);
  indices.forEach((idx, b) => {
    let flip = false, dy = 0, dx = 0;
    if (augment) {
      flip = augment.rng.int(2) === 1;
      // Top-left corner of the crop in the padded image, minus the padding: the source offset.
      dy = augment.rng.int(2 * augment.padding + 1) - augment.padding;
      dx = augment.rng.int(2 * augment.padding + 1) - augment.padding;
    }
    for (let c = 0; c < C; c++) {
      const src = (idx * C + c) * plane;
      const dst = (b * C + c) * plane;
      const zero = (0 - mean[c]) / std[c];
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          // Crop of the padded image, then the flip (torchvision: RandomCrop then RandomHorizontalFlip).
          const jj = flip ? W - 1 - j : j;
          const si = i + dy, sj = jj + dx;
          out[dst + i * W + j] = si < 0 || si >= H || sj < 0 || sj >= W ? zero : (set.pixels[src + si * W + sj] / 255 - mean[c]) / std[c];
        }
    }
  });
  return out;
}

/** `count` inputs of shape 1 x 3 x 3: each a random 3 x 3 window of one random channel of a random normalised training image. */
export function regionCrops(set: ImageSet, count: number, mean: readonly number[], std: readonly number[], rng: Rng): Float32Array {
  const { channels: C, height: H, width: W } = set;
  const out = new Float32Array(count * 9);
  for (let k = 0; k < count; k++) {
    const idx = rng.int(set.count);
    const c = rng.int(C);
    const i0 = rng.int(H - 2), j0 = rng.int(W - 2);
    const src = (idx * C + c) * H * W;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) out[k * 9 + i * 3 + j] = (set.pixels[src + (i0 + i) * W + j0 + j] / 255 - mean[c]) / std[c];
  }
  return out;
}

/** Standard normal images of the given shape (synthetic data). */
export function gaussianImages(count: number, shape: readonly [number, number, number], rng: Rng): Float32Array {
  const out = new Float32Array(count * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}
