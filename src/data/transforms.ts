/**
 * The reference's image transforms, on raw uint8 images (count x C x H x W, planar) with a seeded
 * generator:
 * - normalisation per channel, (pixel / 255 - mean) / std, with each dataset's constants;
 * - the training augmentation of the NTK batch, as the reference (and NAS-Bench-201) trains:
 *   RandomHorizontalFlip, then RandomCrop(size, padding) with zero padding (4 pixels for the 32 x 32
 *   datasets, 2 for the 16 x 16 ImageNet16), then ToTensor + Normalize; padded pixels are raw 0, so
 *   they normalise to -mean / std;
 * - the linear-region inputs: RandomCrop(3) (no padding, no flip) of a training image, normalised,
 *   then one randomly chosen channel (the reference's RandChannel(1)), an input of 1 x 3 x 3.
 * The random draws follow the same steps (flip, then crop offsets; image order, then crop, then
 * channel) but come from {@link Rng}, not from PyTorch's generator.
 */
import { TegnasError } from '../errors.js';
import type { Rng } from '../weights/rng.js';
import { CIFAR100_MEAN, CIFAR100_STD, CIFAR10_MEAN, CIFAR10_STD, type ImageSet } from './cifar.js';
import type { DatasetName } from './datasets.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './image-folder.js';
import { IMAGENET16_MEAN, IMAGENET16_STD } from './imagenet16.js';

export { gaussianImages } from './synthetic.js';

/** Per-channel mean and std of pixel / 255. */
export interface Normalisation {
  mean: readonly number[];
  std: readonly number[];
}

/** The reference's normalisation constants (lib/datasets/get_dataset_with_transform.py). */
export const NORMALISATION: Readonly<Record<DatasetName, Normalisation>> = {
  cifar10: { mean: CIFAR10_MEAN, std: CIFAR10_STD },
  cifar100: { mean: CIFAR100_MEAN, std: CIFAR100_STD },
  'ImageNet16-120': { mean: IMAGENET16_MEAN, std: IMAGENET16_STD },
  'imagenet-1k': { mean: IMAGENET_MEAN, std: IMAGENET_STD },
};

/** The training augmentation: an optional horizontal flip, then a crop of the image's size from the zero-padded image. */
export interface Augmentation {
  flip: boolean;
  padding: number;
}

/**
 * The reference's training augmentation per dataset: flip + RandomCrop(32, padding=4) for CIFAR-10/100
 * and for ImageNet-1k (after its Resize((32, 32))), flip + RandomCrop(16, padding=2) for ImageNet16.
 */
export const AUGMENTATION: Readonly<Record<DatasetName, Augmentation>> = {
  cifar10: { flip: true, padding: 4 },
  cifar100: { flip: true, padding: 4 },
  'ImageNet16-120': { flip: true, padding: 2 },
  'imagenet-1k': { flip: true, padding: 4 },
};

function checkIndices(set: ImageSet, indices: readonly number[]): void {
  for (const i of indices)
    if (!Number.isInteger(i) || i < 0 || i >= set.count)
      throw new TegnasError('E_INPUT', `image index ${i} is out of range: the set has ${set.count} images`);
}

function checkNormalisation(set: ImageSet, mean: readonly number[], std: readonly number[]): void {
  if (mean.length < set.channels || std.length < set.channels)
    throw new TegnasError('E_INPUT', `normalisation needs ${set.channels} means and stds, got ${mean.length} and ${std.length}`);
  for (let c = 0; c < set.channels; c++)
    if (!Number.isFinite(mean[c]) || !(std[c] > 0) || !Number.isFinite(std[c]))
      throw new TegnasError('E_INPUT', `normalisation of channel ${c} needs a finite mean and a positive std, got ${mean[c]} and ${std[c]}`);
}

/** Where one augmented image reads its pixels: flipped or not, and the crop's top-left corner in the padded image. */
export interface AugmentDraw {
  flip: boolean;
  top: number;
  left: number;
}

/** One image's augmentation draws, in the reference's order: the flip (p = 0.5), then the crop's top and left. */
export function drawAugmentation(rng: Rng, augmentation: Augmentation): AugmentDraw {
  const p = augmentation.padding;
  if (!Number.isInteger(p) || p < 0) throw new TegnasError('E_INPUT', `augmentation padding must be a non-negative integer, got ${p}`);
  const flip = augmentation.flip ? rng.uniform() < 0.5 : false;
  // RandomCrop of the image's own size from the padded image: 2p + 1 positions per axis
  const top = rng.int(2 * p + 1);
  const left = rng.int(2 * p + 1);
  return { flip, top, left };
}

/**
 * Normalised float32 copies (count x C x H x W) of images `indices` of `set`. With `augment`, each image
 * is first flipped (if drawn) and cropped from the zero-padded image, drawing from `augment.rng` in
 * image order.
 */
export function normalisedBatch(
  set: ImageSet,
  indices: readonly number[],
  mean: readonly number[],
  std: readonly number[],
  augment?: { rng: Rng; padding: number; flip?: boolean },
): Float32Array {
  checkIndices(set, indices);
  checkNormalisation(set, mean, std);
  const { channels: C, height: H, width: W } = set;
  const plane = H * W;
  const out = new Float32Array(indices.length * C * plane);
  indices.forEach((idx, b) => {
    const d = augment ? drawAugmentation(augment.rng, { flip: augment.flip ?? true, padding: augment.padding }) : { flip: false, top: 0, left: 0 };
    const p = augment ? augment.padding : 0;
    for (let c = 0; c < C; c++) {
      const src = (idx * C + c) * plane;
      const dst = (b * C + c) * plane;
      const m = mean[c], s = std[c];
      const zero = (0 - m) / s;
      for (let i = 0; i < H; i++) {
        // output (i, j) = padded(flipped)[top + i][left + j]; padded[y][x] = flipped[y - p][x - p]
        const si = d.top + i - p;
        for (let j = 0; j < W; j++) {
          const fj = d.left + j - p;
          const sj = d.flip ? W - 1 - fj : fj;
          out[dst + i * W + j] = si < 0 || si >= H || fj < 0 || fj >= W ? zero : (set.pixels[src + si * W + sj] / 255 - m) / s;
        }
      }
    }
  });
  return out;
}

/** One linear-region input: a 3 x 3 window at (top, left) of channel `channel` of image `image`. */
export interface RegionCrop {
  image: number;
  channel: number;
  top: number;
  left: number;
}

/**
 * Where `count` region crops come from, for a training set of `images` images of C x H x W: images in a
 * random order without replacement (a fresh random order each time all have been used, as the
 * reference's shuffled loader), then per crop the window's top and left (RandomCrop(3)) and the channel
 * (RandChannel(1)).
 */
export function planRegionCrops(count: number, images: number, shape: readonly [number, number, number], rng: Rng): RegionCrop[] {
  const [C, H, W] = shape;
  if (!Number.isInteger(count) || count < 1) throw new TegnasError('E_INPUT', `region crop count must be a positive integer, got ${count}`);
  if (!Number.isInteger(images) || images < 1) throw new TegnasError('E_DATA', 'no training images to crop linear-region inputs from');
  if (H < 3 || W < 3) throw new TegnasError('E_DATA', `images of ${H}x${W} are too small for 3x3 region crops`);
  const plan: RegionCrop[] = [];
  let order: number[] = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at === order.length) {
      order = rng.shuffle(Array.from({ length: images }, (_, i) => i));
      at = 0;
    }
    const image = order[at++];
    const top = rng.int(H - 2);
    const left = rng.int(W - 2);
    const channel = rng.int(C);
    plan.push({ image, channel, top, left });
  }
  return plan;
}

/**
 * The crops of `plan` as normalised float32 inputs (plan.length x 1 x 3 x 3). `imageAt` maps a plan's
 * image number to an index of `set` (identity by default).
 */
export function cropRegions(
  set: ImageSet,
  plan: readonly RegionCrop[],
  mean: readonly number[],
  std: readonly number[],
  imageAt: (image: number) => number = (i) => i,
): Float32Array {
  checkNormalisation(set, mean, std);
  const { channels: C, height: H, width: W } = set;
  const out = new Float32Array(plan.length * 9);
  plan.forEach(({ image, channel, top, left }, k) => {
    const idx = imageAt(image);
    if (!Number.isInteger(idx) || idx < 0 || idx >= set.count || channel < 0 || channel >= C || top < 0 || top + 3 > H || left < 0 || left + 3 > W)
      throw new TegnasError('E_INPUT', `region crop ${k} (image ${idx}, channel ${channel}, at ${top},${left}) is outside the ${set.count} images of ${C}x${H}x${W}`);
    const src = (idx * C + channel) * H * W;
    const m = mean[channel], s = std[channel];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) out[k * 9 + i * 3 + j] = (set.pixels[src + (top + i) * W + left + j] / 255 - m) / s;
  });
  return out;
}

/**
 * `count` linear-region inputs of 1 x 3 x 3: random 3 x 3 windows of one random channel of normalised
 * training images, the images drawn without replacement while they last ({@link planRegionCrops}).
 */
export function regionCrops(set: ImageSet, count: number, mean: readonly number[], std: readonly number[], rng: Rng): Float32Array {
  return cropRegions(set, planRegionCrops(count, set.count, [set.channels, set.height, set.width], rng), mean, std);
}
