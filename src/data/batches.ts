/**
 * The fixed batches of a search: every architecture is scored on the same NTK batch (training images,
 * augmented), validation batch (test images with labels) and linear-region crops.
 */
import { TegnasError } from '../errors.js';
import { Rng } from '../weights/rng.js';
import { readSafetensors, type StoredTensor } from '../weights/safetensors.js';
import { type DatasetName, datasetInfo, loadDataset } from './datasets.js';
import { gaussianImages, normalisedBatch, regionCrops } from './transforms.js';

export interface Batch {
  /** count x shape, normalised float32. */
  x: Float32Array;
  /** count labels (0 for inputs without labels). */
  y: Int32Array;
  count: number;
  shape: [number, number, number];
}

export interface IndicatorBatches {
  dataset: DatasetName | 'inputs-file' | 'synthetic';
  classes: number;
  /** One NTK batch per repeat, or one shared by all repeats (the reference's default). */
  ntk: Batch[];
  val: Batch[];
  /** regionBatches x regionBatchSize inputs of 1 x 3 x 3. */
  regions: Batch;
  /** Inputs per thin-network forward pass (BatchNorm statistics are per pass). */
  regionBatchSize: number;
  /** Where the images came from. */
  source: string;
}

export interface BatchOptions {
  dataset?: DatasetName;
  dataDir?: string;
  seed?: number;
  /** NTK and validation batch size (default 64). */
  batchSize?: number;
  repeat?: number;
  /** A different NTK and validation batch per repeat (default false). */
  batchPerRepeat?: boolean;
  /** Forward passes for linear regions (default 3) of regionBatchSize inputs (default 1000). */
  regionBatches?: number;
  regionBatchSize?: number;
  /** The reference's training augmentation on NTK images (default true). */
  augment?: boolean;
  /** Gaussian noise images instead of a dataset. */
  synthetic?: boolean;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new TegnasError('E_INPUT', `${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  return v;
}

export function indicatorBatches(options: BatchOptions = {}): IndicatorBatches {
  const dataset = options.dataset ?? 'cifar10';
  const info = datasetInfo(dataset);
  const seed = checkInt('seed', options.seed ?? 0, 0, Number.MAX_SAFE_INTEGER);
  const B = checkInt('batchSize', options.batchSize ?? 64, 2, 4096);
  const repeat = checkInt('repeat', options.repeat ?? 3, 1, 100);
  const nRegionBatches = checkInt('regionBatches', options.regionBatches ?? 3, 1, 1000);
  const regionBatchSize = checkInt('regionBatchSize', options.regionBatchSize ?? 1000, 2, 100000);
  const perRepeat = options.batchPerRepeat ?? false;
  const nb = perRepeat ? repeat : 1;
  const rng = new Rng(seed);
  const shape: [number, number, number] = [3, info.size, info.size];

  if (options.synthetic) {
    const g = rng.fork('synthetic');
    const mk = (count: number, sh: [number, number, number], labels: boolean): Batch => ({
      x: gaussianImages(count, sh, g),
      y: Int32Array.from({ length: count }, () => (labels ? g.int(info.classes) : 0)),
      count,
      shape: sh,
    });
    return {
      dataset: 'synthetic',
      classes: info.classes,
      ntk: Array.from({ length: nb }, () => mk(B, shape, true)),
      val: Array.from({ length: nb }, () => mk(B, shape, true)),
      regions: mk(nRegionBatches * regionBatchSize, [1, 3, 3], false),
      regionBatchSize,
      source: 'Gaussian noise',
    };
  }

  const { train, test, source } = loadDataset(dataset, { dataDir: options.dataDir, seed, maxImages: Math.max(1024, 2 * B * nb) });
  if (train.height !== info.size || train.width !== info.size)
    throw new TegnasError('E_DATA', `${source}: images are ${train.height}x${train.width}, expected ${info.size}x${info.size} for ${dataset}`);
  if (train.count < B * nb) throw new TegnasError('E_DATA', `${source}: ${train.count} training images, need ${B * nb}`);
  if (test.count < B * nb) throw new TegnasError('E_DATA', `${source}: ${test.count} test images, need ${B * nb}`);
  const pick = (r: Rng, n: number, k: number) => r.sample(Array.from({ length: n }, (_, i) => i), k);
  const ntkRng = rng.fork('ntk'), valRng = rng.fork('val');
  const trainIdx = pick(ntkRng, train.count, B * nb);
  const testIdx = pick(valRng, test.count, B * nb);
  const augment = (options.augment ?? true) ? { rng: ntkRng.fork('augment'), padding: info.cropPadding } : undefined;
  const labels = (set: typeof train, idx: number[]) => Int32Array.from(idx, (i) => set.labels[i]);
  const ntk: Batch[] = [], val: Batch[] = [];
  for (let r = 0; r < nb; r++) {
    const ti = trainIdx.slice(r * B, (r + 1) * B), vi = testIdx.slice(r * B, (r + 1) * B);
    ntk.push({ x: normalisedBatch(train, ti, info.mean, info.std, augment), y: labels(train, ti), count: B, shape });
    val.push({ x: normalisedBatch(test, vi, info.mean, info.std), y: labels(test, vi), count: B, shape });
  }
  const nRegions = nRegionBatches * regionBatchSize;
  return {
    dataset,
    classes: info.classes,
    ntk,
    val,
    regions: { x: regionCrops(train, nRegions, info.mean, info.std, rng.fork('regions')), y: new Int32Array(nRegions), count: nRegions, shape: [1, 3, 3] },
    regionBatchSize,
    source,
  };
}

function floatTensor(t: StoredTensor | undefined, name: string, file: string, rank: number): StoredTensor {
  if (!t) throw new TegnasError('E_DATA', `${file}: missing tensor '${name}'`);
  if (t.dtype !== 'F32') throw new TegnasError('E_DATA', `${file}: '${name}' has dtype ${t.dtype}, expected F32`);
  if (t.shape.length !== rank) throw new TegnasError('E_DATA', `${file}: '${name}' has shape [${t.shape.join(', ')}], expected ${rank} dimensions`);
  const x = t.data as Float32Array;
  const bad = x.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new TegnasError('E_DATA', `${file}: '${name}' has a non-finite value at index ${bad}`);
  return t;
}

function labelTensor(t: StoredTensor | undefined, name: string, file: string, count: number): Int32Array {
  if (!t) throw new TegnasError('E_DATA', `${file}: missing tensor '${name}'`);
  if (t.shape.length !== 1 || t.shape[0] !== count)
    throw new TegnasError('E_DATA', `${file}: '${name}' has shape [${t.shape.join(', ')}], expected [${count}]`);
  if (t.dtype === 'I64') return Int32Array.from(t.data as BigInt64Array, (v) => Number(v));
  if (t.dtype === 'I32' || t.dtype === 'U8') return Int32Array.from(t.data as Int32Array);
  throw new TegnasError('E_DATA', `${file}: '${name}' has dtype ${t.dtype}, expected I64, I32 or U8 labels`);
}

/**
 * Batches from a safetensors file: `ntk.x` (B,3,H,W) F32, `ntk.y` (B) labels, `val.x`, `val.y`,
 * `regions.x` (K,1,3,3) F32. One NTK and one validation batch shared by every repeat.
 */
export function batchesFromInputsFile(path: string, options: { classes?: number; regionBatchSize?: number } = {}): IndicatorBatches {
  const { tensors } = readSafetensors(path);
  const nx = floatTensor(tensors.get('ntk.x'), 'ntk.x', path, 4);
  const vx = floatTensor(tensors.get('val.x'), 'val.x', path, 4);
  const rx = floatTensor(tensors.get('regions.x'), 'regions.x', path, 4);
  const [B, C, H, W] = nx.shape;
  if (C !== 3) throw new TegnasError('E_DATA', `${path}: 'ntk.x' must have 3 channels, got ${C}`);
  if (vx.shape[1] !== C || vx.shape[2] !== H || vx.shape[3] !== W)
    throw new TegnasError('E_DATA', `${path}: 'val.x' has shape [${vx.shape.join(', ')}], expected [*, ${C}, ${H}, ${W}]`);
  if (rx.shape[1] !== 1 || rx.shape[2] !== 3 || rx.shape[3] !== 3)
    throw new TegnasError('E_DATA', `${path}: 'regions.x' has shape [${rx.shape.join(', ')}], expected [K, 1, 3, 3]`);
  const ny = labelTensor(tensors.get('ntk.y'), 'ntk.y', path, B);
  const vy = labelTensor(tensors.get('val.y'), 'val.y', path, vx.shape[0]);
  const maxLabel = Math.max(...ny, ...vy);
  const classes = options.classes ?? maxLabel + 1;
  if (Math.min(...ny, ...vy) < 0 || maxLabel >= classes) throw new TegnasError('E_DATA', `${path}: labels must lie in 0..${classes - 1}`);
  const K = rx.shape[0];
  const regionBatchSize = options.regionBatchSize ?? (K % 1000 === 0 ? 1000 : K);
  if (K % regionBatchSize !== 0) throw new TegnasError('E_DATA', `${path}: ${K} region inputs is not a multiple of ${regionBatchSize}`);
  const shape: [number, number, number] = [C, H, W];
  return {
    dataset: 'inputs-file',
    classes,
    ntk: [{ x: nx.data as Float32Array, y: ny, count: B, shape }],
    val: [{ x: vx.data as Float32Array, y: vy, count: vx.shape[0], shape }],
    regions: { x: rx.data as Float32Array, y: new Int32Array(K), count: K, shape: [1, 3, 3] },
    regionBatchSize,
    source: path,
  };
}
