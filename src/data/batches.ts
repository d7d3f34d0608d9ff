/**
 * The fixed batches of a search: every architecture is scored on the same NTK batch (training images,
 * augmented as the reference trains), validation batch (test images with their labels, not augmented)
 * and linear-region inputs (3 x 3 crops of one channel of normalised training images).
 *
 * Random streams (all from the seed, independent of each other): 'ntk' picks the training images
 * (without replacement) and its fork 'augment' draws their flips and crops; 'val' picks the test images;
 * 'regions' orders the training images and draws each crop's window and channel; 'synthetic' draws
 * Gaussian inputs and random labels.
 */
import { TegnasError } from '../errors.js';
import { Rng } from '../weights/rng.js';
import { readSafetensors, type StoredTensor } from '../weights/safetensors.js';
import { type DatasetName, DATASETS, datasetInfo, isDatasetName, openDataset } from './datasets.js';
import { gaussianImages } from './synthetic.js';
import { cropRegions, normalisedBatch, planRegionCrops } from './transforms.js';

export interface Batch {
  /** count x shape, normalised float32. */
  x: Float32Array;
  /** count labels (0 for inputs without labels). */
  y: Int32Array;
  count: number;
  shape: [number, number, number];
}

export interface IndicatorBatches {
  /** The dataset (for synthetic inputs: the dataset whose shape and classes they take; 'inputs-file' for {@link batchesFromInputsFile}). */
  dataset: DatasetName | 'inputs-file' | 'synthetic';
  classes: number;
  /** One NTK batch shared by all repeats (the reference's default), or one per repeat. */
  ntk: Batch[];
  /** The validation batches, as many as `ntk`. */
  val: Batch[];
  /** regionBatches x regionBatchSize inputs of 1 x 3 x 3, labels 0. */
  regions: Batch;
  /** Inputs per thin-network forward pass (BatchNorm statistics are per pass). */
  regionBatchSize: number;
  /** Where the images came from. */
  source: string;
}

export interface BatchOptions {
  /** Default cifar10 (the shipped sample when there is no dataDir). */
  dataset?: DatasetName;
  /** The folder with the dataset's official files. */
  dataDir?: string;
  /** Default 0. */
  seed?: number;
  /** NTK and validation batch size (default 64). */
  batchSize?: number;
  /** Networks per indicator (default 3); with batchPerRepeat, one NTK and validation batch each. */
  repeat?: number;
  /** A different NTK and validation batch per repeat (default false: the reference reuses one). */
  batchPerRepeat?: boolean;
  /** Forward passes for linear regions (default 3) of regionBatchSize inputs (default 1000). */
  regionBatches?: number;
  regionBatchSize?: number;
  /** The reference's training augmentation on NTK images (default true). */
  augment?: boolean;
  /** Gaussian N(0, 1) inputs of the dataset's shape instead of images (random labels). */
  synthetic?: boolean;
}

const OPTION_NAMES = ['dataset', 'dataDir', 'seed', 'batchSize', 'repeat', 'batchPerRepeat', 'regionBatches', 'regionBatchSize', 'augment', 'synthetic'];

/** A value as written in messages: numbers as numbers (NaN, Infinity), the rest as JSON. */
function show(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' || v === undefined ? String(v) : (JSON.stringify(v) ?? String(v));
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new TegnasError('E_INPUT', `${name} must be an integer between ${min} and ${max}, got ${show(v)}`);
  return v;
}

function checkBool(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new TegnasError('E_INPUT', `${name} must be true or false, got ${show(v)}`);
  return v;
}

function checkOptions(options: unknown, names: readonly string[], what: string): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new TegnasError('E_INPUT', `${what} options must be an object, got ${show(options)}`);
  for (const k of Object.keys(options))
    if (!names.includes(k) && (options as Record<string, unknown>)[k] !== undefined)
      throw new TegnasError('E_INPUT', `unknown ${what} option '${k}' (expected ${names.join(', ')})`);
  return options as Record<string, unknown>;
}

/**
 * The NTK, validation and linear-region batches of a search, reproducible from the seed. The NTK images
 * are distinct random training images, augmented (flip + zero pad + crop) unless `augment` is false; the
 * validation images are distinct random test images with their labels; the region inputs are
 * `regionBatches * regionBatchSize` random 3 x 3 crops of one random channel of normalised training
 * images (distinct images while they last). Bad options are E_INPUT errors, missing or bad data E_DATA.
 */
export function indicatorBatches(options: BatchOptions = {}): IndicatorBatches {
  const o = checkOptions(options, OPTION_NAMES, 'indicatorBatches');
  const dataset = o.dataset ?? 'cifar10';
  if (!isDatasetName(dataset)) throw new TegnasError('E_INPUT', `unknown dataset ${JSON.stringify(dataset)}; expected one of ${DATASETS.join(', ')}`);
  const info = datasetInfo(dataset);
  const seed = checkInt('seed', o.seed ?? 0, 0, Number.MAX_SAFE_INTEGER);
  const B = checkInt('batchSize', o.batchSize ?? 64, 2, 4096);
  const repeat = checkInt('repeat', o.repeat ?? 3, 1, 100);
  const nRegionBatches = checkInt('regionBatches', o.regionBatches ?? 3, 1, 1000);
  const regionBatchSize = checkInt('regionBatchSize', o.regionBatchSize ?? 1000, 2, 100_000);
  if (nRegionBatches * regionBatchSize > 1_000_000)
    throw new TegnasError('E_INPUT', `regionBatches x regionBatchSize must be at most 1000000 inputs, got ${nRegionBatches} x ${regionBatchSize}`);
  const perRepeat = checkBool('batchPerRepeat', o.batchPerRepeat, false);
  const augment = checkBool('augment', o.augment, true);
  const synthetic = checkBool('synthetic', o.synthetic, false);
  if (o.dataDir !== undefined && (typeof o.dataDir !== 'string' || o.dataDir === ''))
    throw new TegnasError('E_INPUT', `dataDir must be a folder path, got ${show(o.dataDir)}`);
  if (synthetic && o.dataDir !== undefined) throw new TegnasError('E_INPUT', 'synthetic inputs use no data: leave dataDir out');
  const dataDir = o.dataDir as string | undefined;
  const nb = perRepeat ? repeat : 1;
  const nRegions = nRegionBatches * regionBatchSize;
  const rng = new Rng(seed);
  const shape: [number, number, number] = [3, info.size, info.size];

  if (synthetic) {
    const g = rng.fork('synthetic');
    const make = (count: number, sh: [number, number, number], labelled: boolean): Batch => ({
      x: gaussianImages(count, sh, g),
      y: labelled ? Int32Array.from({ length: count }, () => g.int(info.classes)) : new Int32Array(count),
      count,
      shape: sh,
    });
    return {
      dataset: 'synthetic',
      classes: info.classes,
      ntk: Array.from({ length: nb }, () => make(B, shape, true)),
      val: Array.from({ length: nb }, () => make(B, shape, true)),
      regions: make(nRegions, [1, 3, 3], false),
      regionBatchSize,
      source: `Gaussian N(0, 1) inputs of shape [${shape.join(', ')}] (${dataset})`,
    };
  }

  const data = openDataset(dataset, { dataDir });
  const { train, test, source } = data;
  for (const [split, s] of [['training', train], ['test', test]] as const) {
    if (s.channels !== 3 || s.height !== info.size || s.width !== info.size)
      throw new TegnasError('E_DATA', `${source}: ${split} images are ${s.channels}x${s.height}x${s.width}, expected 3x${info.size}x${info.size} for ${dataset}`);
    if (s.count < B * nb)
      throw new TegnasError('E_DATA', `${source}: ${s.count} ${split} images, but ${nb > 1 ? `${nb} batches` : 'a batch'} of ${B} distinct images need ${B * nb}`);
  }

  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const ntkRng = rng.fork('ntk');
  const trainIdx = ntkRng.sample(all(train.count), B * nb);
  const testIdx = rng.fork('val').sample(all(test.count), B * nb);
  const plan = planRegionCrops(nRegions, train.count, shape, rng.fork('regions'));

  // Read each needed training image once (an ImageFolder decodes only these).
  const needed = [...new Set([...trainIdx, ...plan.map((p) => p.image)])].sort((a, b) => a - b);
  const slot = new Map(needed.map((i, k) => [i, k]));
  const trainSet = train.read(needed);
  const testSet = test.read(testIdx);
  const at = (i: number) => slot.get(i) as number;

  const aug = augment ? { rng: ntkRng.fork('augment'), padding: info.cropPadding, flip: true } : undefined;
  const ntk: Batch[] = [], val: Batch[] = [];
  for (let r = 0; r < nb; r++) {
    const ti = trainIdx.slice(r * B, (r + 1) * B).map(at);
    const vi = Array.from({ length: B }, (_, k) => r * B + k);
    ntk.push({ x: normalisedBatch(trainSet, ti, info.mean, info.std, aug), y: Int32Array.from(ti, (i) => trainSet.labels[i]), count: B, shape });
    val.push({ x: normalisedBatch(testSet, vi, info.mean, info.std), y: Int32Array.from(vi, (i) => testSet.labels[i]), count: B, shape });
  }
  for (const b of [...ntk, ...val])
    for (const y of b.y)
      if (y >= info.classes) throw new TegnasError('E_DATA', `${source}: label ${y} is outside 0..${info.classes - 1} for ${dataset}`);
  return {
    dataset,
    classes: info.classes,
    ntk,
    val,
    regions: { x: cropRegions(trainSet, plan, info.mean, info.std, at), y: new Int32Array(nRegions), count: nRegions, shape: [1, 3, 3] },
    regionBatchSize,
    source,
  };
}

// ---- batches from a file ----

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function floatTensor(t: StoredTensor | undefined, name: string, file: string, expected: string, check: (shape: readonly number[]) => boolean): Float32Array {
  if (!t) throw new TegnasError('E_DATA', `${file}: missing tensor '${name}' (expected ${expected} F32)`);
  if (t.dtype !== 'F32') throw new TegnasError('E_DATA', `${file}: '${name}' has dtype ${t.dtype}, expected F32`);
  if (!check(t.shape)) throw new TegnasError('E_DATA', `${file}: '${name}' has shape ${shapeText(t.shape)}, expected ${expected}`);
  const x = t.data as Float32Array;
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i])) throw new TegnasError('E_DATA', `${file}: '${name}' has a non-finite value (${x[i]}) at flat index ${i}`);
  return x;
}

function labelTensor(t: StoredTensor | undefined, name: string, file: string, count: number): Int32Array {
  if (!t) throw new TegnasError('E_DATA', `${file}: missing tensor '${name}' (expected [${count}] I64 or I32 labels)`);
  if (t.shape.length !== 1 || t.shape[0] !== count)
    throw new TegnasError('E_DATA', `${file}: '${name}' has shape ${shapeText(t.shape)}, expected [${count}] (one label per image)`);
  let out: Int32Array;
  if (t.dtype === 'I64') {
    const d = t.data as BigInt64Array;
    out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      if (d[i] < 0n || d[i] > 2147483647n) throw new TegnasError('E_DATA', `${file}: '${name}'[${i}] is ${d[i]}, not a class index`);
      out[i] = Number(d[i]);
    }
  } else if (t.dtype === 'I32' || t.dtype === 'U8') out = Int32Array.from(t.data as Int32Array | Uint8Array);
  else throw new TegnasError('E_DATA', `${file}: '${name}' has dtype ${t.dtype}, expected I64 or I32 labels`);
  for (let i = 0; i < count; i++) if (out[i] < 0) throw new TegnasError('E_DATA', `${file}: '${name}'[${i}] is ${out[i]}, not a class index`);
  return out;
}

/**
 * Batches from a safetensors file (for example the reference's own inputs, to compare scores):
 * `ntk.x` (B, 3, H, W) F32 and `ntk.y` (B) I64 or I32 labels, `val.x` (V, 3, H, W) F32 and `val.y` (V),
 * `regions.x` (K, 1, 3, 3) F32. One NTK and one validation batch shared by every repeat. `classes`
 * defaults to the largest label + 1; `regionBatchSize` to 1000 when it divides K, else K. Other tensors
 * are ignored. Every shape, dtype, label and value is checked (E_DATA naming the tensor).
 */
export function batchesFromInputsFile(path: string, options: { classes?: number; regionBatchSize?: number } = {}): IndicatorBatches {
  if (typeof path !== 'string' || path === '') throw new TegnasError('E_INPUT', `inputs file must be a path, got ${show(path)}`);
  const o = checkOptions(options, ['classes', 'regionBatchSize'], 'batchesFromInputsFile');
  if (o.classes !== undefined) checkInt('classes', o.classes, 1, 1_000_000);
  if (o.regionBatchSize !== undefined) checkInt('regionBatchSize', o.regionBatchSize, 2, 100_000);
  const { tensors } = readSafetensors(path);
  const nt = tensors.get('ntk.x');
  const images = (s: readonly number[]) => s.length === 4 && s[0] >= 2 && s[1] === 3 && s[2] >= 1 && s[3] >= 1;
  const nx = floatTensor(nt, 'ntk.x', path, '[B >= 2, 3, H, W]', images);
  const [B, C, H, W] = (nt as StoredTensor).shape;
  const vt = tensors.get('val.x');
  const vx = floatTensor(vt, 'val.x', path, `[V >= 1, ${C}, ${H}, ${W}] (the shape of ntk.x's images)`, (s) => s.length === 4 && s[0] >= 1 && s[1] === C && s[2] === H && s[3] === W);
  const V = (vt as StoredTensor).shape[0];
  const rt = tensors.get('regions.x');
  const rx = floatTensor(rt, 'regions.x', path, '[K >= 2, 1, 3, 3]', (s) => s.length === 4 && s[0] >= 2 && s[1] === 1 && s[2] === 3 && s[3] === 3);
  const K = (rt as StoredTensor).shape[0];
  const ny = labelTensor(tensors.get('ntk.y'), 'ntk.y', path, B);
  const vy = labelTensor(tensors.get('val.y'), 'val.y', path, V);
  let maxLabel = 0;
  for (const y of ny) maxLabel = Math.max(maxLabel, y);
  for (const y of vy) maxLabel = Math.max(maxLabel, y);
  const classes = (o.classes as number | undefined) ?? maxLabel + 1;
  if (maxLabel >= classes) throw new TegnasError('E_DATA', `${path}: label ${maxLabel} is outside 0..${classes - 1} (${classes} classes)`);
  const regionBatchSize = (o.regionBatchSize as number | undefined) ?? (K % 1000 === 0 ? 1000 : K);
  if (K % regionBatchSize !== 0)
    throw new TegnasError('E_DATA', `${path}: ${K} region inputs is not a whole number of batches of ${regionBatchSize}`);
  const shape: [number, number, number] = [C, H, W];
  return {
    dataset: 'inputs-file',
    classes,
    ntk: [{ x: nx, y: ny, count: B, shape }],
    val: [{ x: vx, y: vy, count: V, shape }],
    regions: { x: rx, y: new Int32Array(K), count: K, shape: [1, 3, 3] },
    regionBatchSize,
    source: path,
  };
}
