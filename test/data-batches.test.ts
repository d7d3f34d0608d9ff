/**
 * Datasets, transforms, synthetic inputs and the indicator batches (src/data/datasets.ts, transforms.ts,
 * synthetic.ts, batches.ts), on the shipped CIFAR-10 sample and on small files written here in each
 * dataset's real format.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { TegnasError } from '../src/errors.js';
import { batchesFromInputsFile, indicatorBatches } from '../src/data/batches.js';
import { CIFAR10_MEAN, CIFAR10_STD, type ImageSet, normalise } from '../src/data/cifar.js';
import { DATASETS, DATASET_INFO, datasetClasses, datasetInfo, loadDataset, openDataset, subsetImages } from '../src/data/datasets.js';
import { resizeBilinear } from '../src/data/image-folder.js';
import { gaussianImages } from '../src/data/synthetic.js';
import { AUGMENTATION, NORMALISATION, cropRegions, normalisedBatch, planRegionCrops, regionCrops } from '../src/data/transforms.js';
import { Rng } from '../src/weights/rng.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

// ---------------------------------------------------------------------------------------------------
// helpers

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tegnas-data-'));
}

function put(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

function fails(t: ExecutionContext, fn: () => unknown, code: string, message: RegExp): void {
  const e = t.throws(fn, { instanceOf: TegnasError, message });
  t.is((e as TegnasError | undefined)?.code, code, (e as Error | undefined)?.message);
}

/** A deterministic pixel pattern with every byte value. */
const pix = (image: number, k: number) => (image * 131 + k * 7 + ((k * k) >> 5)) & 255;

/** CIFAR binary records: (coarse label byte,) label byte, 3072 pixel bytes. */
function cifarRecords(labels: readonly number[], hundred = false, first = 0): Uint8Array {
  const rec = hundred ? 3074 : 3073;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((l, i) => {
    if (hundred) out[i * rec] = l % 20;
    out[i * rec + rec - 3073] = l;
    for (let k = 0; k < 3072; k++) out[i * rec + rec - 3072 + k] = pix(first + i, k);
  });
  return out;
}

/**
 * An ImageNet16 batch file as the official ones are: a Python 2 cPickle (protocol 2) of
 * {'data': uint8 array N x 768, 'labels': [1-based ints]}, the array's bytes as a BINSTRING (Python 2
 * str), labels APPENDed in chunks of 1000. (Checked once to load with Python 3's
 * pickle.loads(..., encoding='latin1') to the same dict.)
 */
function pickleImageNet16(data: Uint8Array, labels: readonly number[]): Uint8Array {
  const out: number[] = [];
  const push = (...b: number[]) => out.push(...b);
  const ascii = (s: string) => push(...Buffer.from(s, 'latin1'));
  const u32 = (v: number) => push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  const short = (s: string) => (push(0x55, s.length), ascii(s)); // SHORT_BINSTRING
  const int = (v: number) => (v >= 0 && v < 256 ? push(0x4b, v) : v >= 0 && v < 65536 ? push(0x4d, v & 255, v >> 8) : (push(0x4a), u32(v)));
  let memo = 0;
  const put = () => push(0x71, memo++); // BINPUT
  push(0x80, 2, 0x7d); // PROTO 2, EMPTY_DICT
  put();
  push(0x28); // MARK
  short('data');
  ascii('cnumpy.core.multiarray\n_reconstruct\n');
  put();
  ascii('cnumpy\nndarray\n');
  put();
  int(0);
  push(0x85); // TUPLE1
  short('b');
  push(0x87, 0x52); // TUPLE3, REDUCE
  put();
  push(0x28);
  int(1);
  int(labels.length);
  int(768);
  push(0x86); // TUPLE2: the shape
  ascii('cnumpy\ndtype\n');
  put();
  short('u1');
  int(0);
  int(1);
  push(0x87, 0x52);
  put();
  push(0x28);
  int(3);
  short('|');
  push(0x4e, 0x4e, 0x4e); // NONE x 3
  int(-1);
  int(-1);
  int(0);
  push(0x74, 0x62); // TUPLE, BUILD (the dtype's state)
  push(0x89, 0x54); // NEWFALSE (not Fortran), BINSTRING
  u32(data.length);
  for (const v of data) out.push(v);
  push(0x74, 0x62); // TUPLE, BUILD (the array's state)
  short('labels');
  push(0x5d); // EMPTY_LIST
  put();
  for (let i = 0; i < labels.length; i += 1000) {
    push(0x28);
    for (const l of labels.slice(i, i + 1000)) int(l);
    push(0x65); // APPENDS
  }
  push(0x75, 0x2e); // SETITEMS, STOP
  return new Uint8Array(out);
}

function in16Pixels(n: number, first: number): Uint8Array {
  const out = new Uint8Array(n * 768);
  for (let i = 0; i < n; i++) for (let k = 0; k < 768; k++) out[i * 768 + k] = pix(first + i, k);
  return out;
}

/** An RGB test image, interleaved. */
function pattern(w: number, h: number, seed: number): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x * 37 + y * 91 + c * 113 + x * y * seed) & 255;
  return { width: w, height: h, data };
}

function rgba(img: { width: number; height: number; data: Uint8Array }): Buffer {
  const n = img.width * img.height;
  const out = Buffer.alloc(4 * n, 255);
  for (let i = 0; i < n; i++) out.set(img.data.subarray(3 * i, 3 * i + 3), 4 * i);
  return out;
}

function pngFile(img: { width: number; height: number; data: Uint8Array }): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = rgba(img);
  return PNG.sync.write(png, { colorType: 2 });
}

function jpegFile(img: { width: number; height: number; data: Uint8Array }): Buffer {
  return Buffer.from(jpeg.encode({ width: img.width, height: img.height, data: rgba(img) }, 95).data);
}

function planar(img: { width: number; height: number; data: Uint8Array }): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[3 * i + c];
  return out;
}

function image(set: ImageSet, i: number): Uint8Array {
  const per = set.channels * set.height * set.width;
  return set.pixels.subarray(i * per, (i + 1) * per);
}

/** Index of the image of `set` whose normalised pixels equal `x` (within float32 rounding), or -1. */
function findImage(set: ImageSet, x: Float32Array, mean: readonly number[], std: readonly number[]): number {
  const all = normalise(set, mean, std);
  const per = set.channels * set.height * set.width;
  for (let n = 0; n < set.count; n++) {
    let ok = true;
    for (let k = 0; k < per && ok; k++) ok = Math.abs(all[n * per + k] - x[k]) < 1e-5;
    if (ok) return n;
  }
  return -1;
}

/** The (flip, top, left) of the padded-crop augmentation of `src` (C x H x W) that gives `x`, or undefined. */
function findAugmentation(src: Uint8Array, x: Float32Array, C: number, H: number, W: number, p: number, mean: readonly number[], std: readonly number[]) {
  for (const flip of [false, true])
    for (let top = 0; top <= 2 * p; top++)
      for (let left = 0; left <= 2 * p; left++) {
        let ok = true;
        for (let c = 0; c < C && ok; c++)
          for (let i = 0; i < H && ok; i++)
            for (let j = 0; j < W && ok; j++) {
              const si = top + i - p, fj = left + j - p;
              const raw = si < 0 || si >= H || fj < 0 || fj >= W ? 0 : src[c * H * W + si * W + (flip ? W - 1 - fj : fj)];
              ok = Math.abs((raw / 255 - mean[c]) / std[c] - x[c * H * W + i * W + j]) < 1e-5;
            }
        if (ok) return { flip, top, left };
      }
  return undefined;
}

/** True when every 3x3 crop of `regions` is a window of one channel of a normalised image of `set`. */
function cropsAreWindows(set: ImageSet, regions: Float32Array, count: number, mean: readonly number[], std: readonly number[]): number {
  const { channels: C, height: H, width: W } = set;
  const all = normalise(set, mean, std);
  let bad = 0;
  for (let k = 0; k < count; k++) {
    const crop = regions.subarray(k * 9, k * 9 + 9);
    let found = false;
    for (let n = 0; n < set.count && !found; n++)
      for (let c = 0; c < C && !found; c++)
        for (let i = 0; i + 3 <= H && !found; i++)
          for (let j = 0; j + 3 <= W && !found; j++) {
            let ok = true;
            for (let a = 0; a < 3 && ok; a++)
              for (let d = 0; d < 3 && ok; d++) ok = Math.abs(all[(n * C + c) * H * W + (i + a) * W + j + d] - crop[a * 3 + d]) < 1e-5;
            found = ok;
          }
    if (!found) bad++;
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------------
// datasets

test('dataset names, classes and the reference normalisation constants', (t) => {
  t.deepEqual([...DATASETS], ['cifar10', 'cifar100', 'ImageNet16-120', 'imagenet-1k']);
  t.deepEqual(DATASETS.map(datasetClasses), [10, 100, 120, 1000]);
  const close = (a: readonly number[], b: number[]) => t.true(a.every((v, i) => Math.abs(v - b[i]) < 1e-12), `${a} vs ${b}`);
  close(NORMALISATION.cifar10.mean, [125.3 / 255, 123.0 / 255, 113.9 / 255]);
  close(NORMALISATION.cifar10.std, [63.0 / 255, 62.1 / 255, 66.7 / 255]);
  close(NORMALISATION.cifar100.mean, [129.3 / 255, 124.1 / 255, 112.4 / 255]);
  close(NORMALISATION.cifar100.std, [68.2 / 255, 65.4 / 255, 70.4 / 255]);
  close(NORMALISATION['ImageNet16-120'].mean, [122.68 / 255, 116.66 / 255, 104.01 / 255]);
  close(NORMALISATION['ImageNet16-120'].std, [63.22 / 255, 61.26 / 255, 65.09 / 255]);
  close(NORMALISATION['imagenet-1k'].mean, [0.485, 0.456, 0.406]);
  close(NORMALISATION['imagenet-1k'].std, [0.229, 0.224, 0.225]);
  t.deepEqual(AUGMENTATION, {
    cifar10: { flip: true, padding: 4 },
    cifar100: { flip: true, padding: 4 },
    'ImageNet16-120': { flip: true, padding: 2 },
    'imagenet-1k': { flip: true, padding: 4 },
  });
  t.deepEqual(
    DATASETS.map((d) => [DATASET_INFO[d].size, DATASET_INFO[d].cropPadding]),
    [
      [32, 4],
      [32, 4],
      [16, 2],
      [32, 4],
    ],
  );
  t.is(datasetInfo('cifar100').mean, NORMALISATION.cifar100.mean);
  fails(t, () => datasetClasses('mnist' as never), 'E_INPUT', /unknown dataset "mnist"; expected one of cifar10, cifar100, ImageNet16-120, imagenet-1k/);
});

test('the shipped CIFAR-10 sample is the default cifar10 data', (t) => {
  const { train, test: testSet, source } = loadDataset('cifar10');
  t.like(train, { count: 512, channels: 3, height: 32, width: 32, classes: 10 });
  t.is(testSet.count, 256);
  t.is(train.labels[0], 6);
  t.deepEqual([...train.pixels.subarray(0, 5)], [59, 43, 50, 68, 98]);
  t.is(testSet.labels[0], 3);
  t.regex(source, /shipped/);
});

test('datasets other than cifar10 need --data-dir and say which files', (t) => {
  fails(t, () => loadDataset('cifar100'), 'E_DATA', /cifar100 is not shipped with tegnas: --data-dir is required.*train\.bin and test\.bin/);
  fails(t, () => loadDataset('ImageNet16-120'), 'E_DATA', /--data-dir is required.*train_data_batch_1 \.\. train_data_batch_10 and val_data/);
  fails(t, () => loadDataset('imagenet-1k'), 'E_DATA', /--data-dir is required.*train\/<class>\/\*\.JPEG and val\/<class>/);
  fails(t, () => loadDataset('cifar10', { dataDir: '/nonexistent/tegnas' }), 'E_DATA', /data folder \/nonexistent\/tegnas does not exist; expected the CIFAR-10 binary version/);
  fails(t, () => loadDataset('cifar10', { dataDir: 7 as never }), 'E_INPUT', /dataDir must be a folder path, got 7/);
  fails(t, () => loadDataset('cifar10', { maxImages: 0 }), 'E_INPUT', /maxImages must be a positive integer/);
  const empty = tmp();
  fails(t, () => loadDataset('cifar100', { dataDir: empty }), 'E_DATA', /CIFAR-100 train file train\.bin not found/);
});

test('loadDataset: CIFAR-10 and CIFAR-100 folders in the official binary format', (t) => {
  const root = tmp();
  const dir10 = join(root, 'cifar-10-batches-bin');
  for (let b = 1; b <= 5; b++) put(join(dir10, `data_batch_${b}.bin`), cifarRecords([b, (b + 3) % 10], false, 2 * (b - 1)));
  put(join(dir10, 'test_batch.bin'), cifarRecords([9, 8, 7], false, 100));
  const c10 = loadDataset('cifar10', { dataDir: root });
  t.like(c10.train, { count: 10, classes: 10 });
  t.deepEqual([...c10.train.labels], [1, 4, 2, 5, 3, 6, 4, 7, 5, 8]);
  t.deepEqual(image(c10.train, 7), Uint8Array.from({ length: 3072 }, (_, k) => pix(7, k)));
  t.deepEqual([...c10.test.labels], [9, 8, 7]);
  t.deepEqual(image(c10.test, 2), Uint8Array.from({ length: 3072 }, (_, k) => pix(102, k)));

  const dir100 = join(root, 'c100');
  put(join(dir100, 'cifar-100-binary', 'train.bin'), cifarRecords([99, 0, 57, 23], true));
  put(join(dir100, 'cifar-100-binary', 'test.bin'), cifarRecords([42, 77], true, 50));
  const c100 = loadDataset('cifar100', { dataDir: dir100 });
  t.like(c100.train, { count: 4, classes: 100 });
  t.deepEqual([...c100.train.labels], [99, 0, 57, 23]); // the fine labels
  t.deepEqual([...c100.test.labels], [42, 77]);
  t.deepEqual(image(c100.test, 1), Uint8Array.from({ length: 3072 }, (_, k) => pix(51, k)));
  // a truncated file is an E_DATA error naming it
  put(join(dir100, 'cifar-100-binary', 'test.bin'), cifarRecords([42, 77], true).subarray(0, 5000));
  fails(t, () => loadDataset('cifar100', { dataDir: dir100 }), 'E_DATA', /test\.bin: 5000 bytes is not a whole number of CIFAR-100 records/);
});

test('loadDataset: ImageNet16-120 from Python 2 pickles keeps labels 1..120 as 0..119', (t) => {
  const root = tmp();
  // batch b holds 3 images labelled 1 + b, 500 + b, 120 (the middle one is outside ImageNet16-120)
  for (let b = 1; b <= 10; b++) put(join(root, `train_data_batch_${b}`), pickleImageNet16(in16Pixels(3, 3 * b), [1 + b, 500 + b, 120]));
  put(join(root, 'val_data'), pickleImageNet16(in16Pixels(4, 1000), [121, 1, 1000, 60]));
  const { train, test: val } = loadDataset('ImageNet16-120', { dataDir: root });
  t.like(train, { count: 20, channels: 3, height: 16, width: 16, classes: 120 });
  t.deepEqual([...train.labels.subarray(0, 4)], [1, 119, 2, 119]);
  t.deepEqual(image(train, 0), Uint8Array.from({ length: 768 }, (_, k) => pix(3, k)));
  t.deepEqual(image(train, 3), Uint8Array.from({ length: 768 }, (_, k) => pix(8, k))); // batch 2, third image
  t.like(val, { count: 2 });
  t.deepEqual([...val.labels], [0, 59]);
  t.deepEqual(image(val, 1), Uint8Array.from({ length: 768 }, (_, k) => pix(1003, k)));
  // batches on 16 x 16 images
  const b = indicatorBatches({ dataset: 'ImageNet16-120', dataDir: root, batchSize: 2, regionBatches: 1, regionBatchSize: 30 });
  t.deepEqual(b.ntk[0].shape, [3, 16, 16]);
  t.is(b.classes, 120);
  t.is(b.ntk[0].x.length, 2 * 768);
  t.is(cropsAreWindows(train, b.regions.x, 30, NORMALISATION['ImageNet16-120'].mean, NORMALISATION['ImageNet16-120'].std), 0);
  for (let k = 0; k < 2; k++) {
    const x = b.ntk[0].x.subarray(k * 768, (k + 1) * 768);
    const found = Array.from({ length: train.count }, (_, n) => n).some(
      (n) => findAugmentation(image(train, n), x, 3, 16, 16, 2, NORMALISATION['ImageNet16-120'].mean, NORMALISATION['ImageNet16-120'].std) !== undefined,
    );
    t.true(found, `ntk image ${k} is a 2-pixel pad + 16 crop (+ flip) of a training image`);
  }
  // a corrupt file is named
  put(join(root, 'train_data_batch_4'), pickleImageNet16(in16Pixels(3, 0), [1, 2, 3]).subarray(0, 700));
  fails(t, () => loadDataset('ImageNet16-120', { dataDir: root }), 'E_DATA', /train_data_batch_4: truncated/);
});

test('loadDataset: imagenet-1k ImageFolder of PNG and JPEG files, Resize((32, 32)), classes = sorted folders', (t) => {
  const root = tmp();
  const imgs = { a: pattern(45, 37, 3), b: pattern(20, 24, 5), c: pattern(64, 48, 7), v: pattern(53, 47, 11) };
  put(join(root, 'train', 'n02', 'x.png'), pngFile(imgs.a));
  put(join(root, 'train', 'n01', 'y.png'), pngFile(imgs.b));
  put(join(root, 'train', 'n01', 'z.JPEG'), jpegFile(imgs.c));
  put(join(root, 'val', 'n01', 'v.png'), pngFile(imgs.v));
  put(join(root, 'val', 'n02', 'w.png'), pngFile(imgs.a));
  const { train, test: val } = loadDataset('imagenet-1k', { dataDir: root });
  t.like(train, { count: 3, channels: 3, height: 32, width: 32, classes: 1000 });
  t.deepEqual([...train.labels], [0, 0, 1]); // n01/y.png, n01/z.JPEG, n02/x.png
  t.deepEqual(image(train, 0), planar(resizeBilinear(imgs.b, 32, 32)));
  t.deepEqual(image(train, 2), planar(resizeBilinear(imgs.a, 32, 32)));
  // the JPEG is lossy: close to the resized pattern on average
  const want = planar(resizeBilinear(imgs.c, 32, 32));
  const err = image(train, 1).reduce((s, v, k) => s + Math.abs(v - want[k]), 0) / want.length;
  t.true(err < 12, `mean JPEG error ${err}`);
  // val: Resize((32, 32)) too, as the reference's get_datasets
  t.deepEqual([...val.labels], [0, 1]);
  t.deepEqual(image(val, 0), planar(resizeBilinear(imgs.v, 32, 32)));
  // batches decode only the images they use
  const b = indicatorBatches({ dataset: 'imagenet-1k', dataDir: root, batchSize: 2, regionBatches: 1, regionBatchSize: 4, augment: false });
  t.is(b.classes, 1000);
  for (let k = 0; k < 2; k++) {
    const n = findImage(val, b.val[0].x.subarray(k * 3072, (k + 1) * 3072), NORMALISATION['imagenet-1k'].mean, NORMALISATION['imagenet-1k'].std);
    t.true(n >= 0);
    t.is(b.val[0].y[k], val.labels[n]);
  }
  // an undecodable image is named
  put(join(root, 'train', 'n02', 'broken.jpg'), 'not a jpeg at all');
  fails(t, () => loadDataset('imagenet-1k', { dataDir: root }), 'E_DATA', /cannot decode image .*broken\.jpg/);
  // an empty split
  const bare = tmp();
  mkdirSync(join(bare, 'train'), { recursive: true });
  fails(t, () => loadDataset('imagenet-1k', { dataDir: bare }), 'E_DATA', /train has no class folders/);
});

test('loadDataset: maxImages keeps a seeded sample of each split', (t) => {
  const a = loadDataset('cifar10', { maxImages: 10, seed: 3 });
  const b = loadDataset('cifar10', { maxImages: 10, seed: 3 });
  const full = loadDataset('cifar10');
  t.is(a.train.count, 10);
  t.is(a.test.count, 10);
  t.deepEqual(a.train.pixels, b.train.pixels);
  for (let k = 0; k < 10; k++) {
    const n = findImage(full.train, normalise(a.train, CIFAR10_MEAN, CIFAR10_STD, k, 1), CIFAR10_MEAN, CIFAR10_STD);
    t.true(n >= 0);
    t.is(a.train.labels[k], full.train.labels[n]);
  }
  const lazy = openDataset('cifar10');
  t.is(lazy.train.count, 512);
  t.deepEqual(lazy.train.read([5, 1]), subsetImages(full.train, [5, 1]));
});

// ---------------------------------------------------------------------------------------------------
// transforms and synthetic inputs

test('normalisedBatch without augmentation is the per-channel normalisation', (t) => {
  const { train } = loadDataset('cifar10');
  const x = normalisedBatch(train, [3, 0], CIFAR10_MEAN, CIFAR10_STD);
  t.deepEqual(x.subarray(0, 3072), normalise(train, CIFAR10_MEAN, CIFAR10_STD, 3, 1));
  t.deepEqual(x.subarray(3072), normalise(train, CIFAR10_MEAN, CIFAR10_STD, 0, 1));
  t.true(Math.abs(x[3072] - (59 / 255 - CIFAR10_MEAN[0]) / CIFAR10_STD[0]) < 1e-6);
  fails(t, () => normalisedBatch(train, [512], CIFAR10_MEAN, CIFAR10_STD), 'E_INPUT', /image index 512 is out of range: the set has 512 images/);
});

test('augmentation: flip then zero pad + crop, every offset and both flips drawn', (t) => {
  const { train } = loadDataset('cifar10');
  const idx = Array.from({ length: 400 }, () => 7);
  const x = normalisedBatch(train, idx, CIFAR10_MEAN, CIFAR10_STD, { rng: new Rng(11), padding: 4 });
  const seen = new Set<string>();
  let flips = 0;
  for (let k = 0; k < idx.length; k++) {
    const a = findAugmentation(image(train, 7), x.subarray(k * 3072, (k + 1) * 3072), 3, 32, 32, 4, CIFAR10_MEAN, CIFAR10_STD);
    if (a === undefined) {
      t.fail(`augmented image ${k} is no flip/pad/crop of its source`);
      return;
    }
    seen.add(`${a.top},${a.left}`);
    if (a.flip) flips++;
  }
  t.is(seen.size, 81, 'all 9 x 9 crop positions');
  t.true(flips > 150 && flips < 250, `${flips} flips of 400`);
  // padded pixels are raw 0 normalised: the corner of a crop at (0, 0) of the padded image
  const again = normalisedBatch(train, idx, CIFAR10_MEAN, CIFAR10_STD, { rng: new Rng(11), padding: 4 });
  t.deepEqual(again, x, 'same generator, same images');
  const zero = (0 - CIFAR10_MEAN[0]) / CIFAR10_STD[0];
  const k0 = Array.from({ length: 400 }, (_, k) => k).find((k) => {
    const a = findAugmentation(image(train, 7), x.subarray(k * 3072, (k + 1) * 3072), 3, 32, 32, 4, CIFAR10_MEAN, CIFAR10_STD);
    return a?.top === 0 && a.left === 0;
  });
  t.not(k0, undefined);
  t.true(Math.abs(x[k0! * 3072] - zero) < 1e-6);
});

test('region crops: 3x3 windows of one channel of normalised images, images without replacement', (t) => {
  const { train } = loadDataset('cifar10');
  const small = subsetImages(train, [0, 1, 2, 3, 4]);
  const plan = planRegionCrops(12, 5, [3, 32, 32], new Rng(5));
  t.is(plan.length, 12);
  t.deepEqual(new Set(plan.slice(0, 5).map((p) => p.image)).size, 5, 'the first 5 crops use the 5 images once each');
  t.deepEqual(new Set(plan.slice(5, 10).map((p) => p.image)).size, 5, 'then a fresh order');
  for (const p of plan) t.true(p.channel >= 0 && p.channel < 3 && p.top >= 0 && p.top <= 29 && p.left >= 0 && p.left <= 29);
  const x = cropRegions(small, plan, CIFAR10_MEAN, CIFAR10_STD);
  plan.forEach((p, k) => {
    const n = normalise(small, CIFAR10_MEAN, CIFAR10_STD, p.image, 1);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) t.is(x[k * 9 + i * 3 + j], n[p.channel * 1024 + (p.top + i) * 32 + p.left + j]);
  });
  const r = regionCrops(small, 40, CIFAR10_MEAN, CIFAR10_STD, new Rng(9));
  t.is(cropsAreWindows(small, r, 40, CIFAR10_MEAN, CIFAR10_STD), 0);
  // channels and positions vary
  const many = planRegionCrops(3000, 512, [3, 32, 32], new Rng(1));
  t.is(new Set(many.map((p) => p.channel)).size, 3);
  t.is(new Set(many.map((p) => p.top)).size, 30);
  t.is(new Set(many.slice(0, 512).map((p) => p.image)).size, 512);
});

test('synthetic: seeded Gaussian N(0, 1) images of any shape', (t) => {
  const a = gaussianImages(50, [3, 8, 8], 4);
  t.is(a.length, 50 * 192);
  t.deepEqual(a, gaussianImages(50, [3, 8, 8], new Rng(4)));
  t.notDeepEqual(a, gaussianImages(50, [3, 8, 8], 5));
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
  t.true(Math.abs(mean) < 0.05 && Math.abs(sd - 1) < 0.05, `mean ${mean}, sd ${sd}`);
  t.is(gaussianImages(2, [1, 3, 3, 2], 0).length, 36);
  fails(t, () => gaussianImages(0, [3, 8, 8], 0), 'E_INPUT', /count must be a positive integer, got 0/);
  fails(t, () => gaussianImages(2, [3, -8, 8], 0), 'E_INPUT', /shape must be a non-empty list of positive integers.*got \[3,-8,8\]/);
  const b = indicatorBatches({ synthetic: true, dataset: 'cifar100', seed: 2, batchSize: 8, regionBatches: 2, regionBatchSize: 10 });
  t.is(b.dataset, 'synthetic');
  t.is(b.classes, 100);
  t.deepEqual(b.ntk[0].shape, [3, 32, 32]);
  t.is(b.ntk[0].x.length, 8 * 3072);
  t.true([...b.ntk[0].y, ...b.val[0].y].every((y) => y >= 0 && y < 100));
  t.is(b.regions.count, 20);
  t.deepEqual(b.regions.y, new Int32Array(20));
  t.deepEqual(b, indicatorBatches({ synthetic: true, dataset: 'cifar100', seed: 2, batchSize: 8, regionBatches: 2, regionBatchSize: 10 }));
  t.deepEqual(indicatorBatches({ synthetic: true, dataset: 'ImageNet16-120', batchSize: 4, regionBatchSize: 10 }).val[0].shape, [3, 16, 16]);
});

// ---------------------------------------------------------------------------------------------------
// indicator batches

test('indicatorBatches: the defaults, deterministic for a seed', (t) => {
  const a = indicatorBatches({ seed: 7 });
  t.is(a.dataset, 'cifar10');
  t.is(a.classes, 10);
  t.is(a.ntk.length, 1);
  t.is(a.val.length, 1);
  t.like(a.ntk[0], { count: 64, shape: [3, 32, 32] });
  t.is(a.ntk[0].x.length, 64 * 3072);
  t.like(a.regions, { count: 3000, shape: [1, 3, 3] });
  t.is(a.regions.x.length, 27000);
  t.deepEqual(a.regions.y, new Int32Array(3000));
  t.is(a.regionBatchSize, 1000);
  t.deepEqual(a, indicatorBatches({ seed: 7 }));
  const b = indicatorBatches({ seed: 8 });
  t.notDeepEqual(a.ntk[0].x, b.ntk[0].x);
  t.notDeepEqual(a.val[0].y, b.val[0].y);
  t.notDeepEqual(a.regions.x, b.regions.x);
  for (const v of [...a.ntk[0].x, ...a.val[0].x, ...a.regions.x]) if (!Number.isFinite(v)) t.fail('non-finite input');
});

test('indicatorBatches: NTK images are distinct augmented training images, val images unaugmented test images with labels', (t) => {
  const { train, test: testSet } = loadDataset('cifar10');
  const b = indicatorBatches({ seed: 3, batchSize: 16, regionBatches: 1, regionBatchSize: 2 });
  const used = new Set<number>();
  for (let k = 0; k < 16; k++) {
    const x = b.ntk[0].x.subarray(k * 3072, (k + 1) * 3072);
    const n = Array.from({ length: train.count }, (_, i) => i).find(
      (i) => train.labels[i] === b.ntk[0].y[k] && findAugmentation(image(train, i), x, 3, 32, 32, 4, CIFAR10_MEAN, CIFAR10_STD) !== undefined,
    );
    t.not(n, undefined, `ntk image ${k}`);
    used.add(n!);
  }
  t.is(used.size, 16);
  const plain = indicatorBatches({ seed: 3, batchSize: 16, regionBatches: 1, regionBatchSize: 2, augment: false });
  const vUsed = new Set<number>();
  for (let k = 0; k < 16; k++) {
    const n = findImage(train, plain.ntk[0].x.subarray(k * 3072, (k + 1) * 3072), CIFAR10_MEAN, CIFAR10_STD);
    t.true(n >= 0, 'without augmentation the NTK images are training images as they are');
    t.is(plain.ntk[0].y[k], train.labels[n]);
    const v = findImage(testSet, b.val[0].x.subarray(k * 3072, (k + 1) * 3072), CIFAR10_MEAN, CIFAR10_STD);
    t.true(v >= 0, `val image ${k} is a test image`);
    t.is(b.val[0].y[k], testSet.labels[v]);
    vUsed.add(v);
  }
  t.is(vUsed.size, 16);
  t.deepEqual(plain.val, b.val, 'augmentation does not touch the validation batch');
  t.deepEqual(plain.regions, b.regions, 'nor the region crops');
});

test('indicatorBatches: region crops come from real training pixels', (t) => {
  const { train } = loadDataset('cifar10');
  const b = indicatorBatches({ seed: 1, regionBatches: 2, regionBatchSize: 25 });
  t.is(b.regions.count, 50);
  t.is(cropsAreWindows(train, b.regions.x, 50, CIFAR10_MEAN, CIFAR10_STD), 0);
  // a crop from noise is found nowhere (the check can fail)
  const noise = gaussianImages(1, [1, 3, 3], 1);
  t.is(cropsAreWindows(train, noise, 1, CIFAR10_MEAN, CIFAR10_STD), 1);
});

test('indicatorBatches: batchPerRepeat gives one distinct batch per repeat', (t) => {
  const b = indicatorBatches({ seed: 4, batchPerRepeat: true, repeat: 3, batchSize: 8, regionBatchSize: 10 });
  t.is(b.ntk.length, 3);
  t.is(b.val.length, 3);
  t.notDeepEqual(b.ntk[0].x, b.ntk[1].x);
  t.notDeepEqual(b.val[1].x, b.val[2].x);
  t.is(b.regions.count, 30);
  t.is(indicatorBatches({ seed: 4, repeat: 3, batchSize: 8, regionBatchSize: 10 }).ntk.length, 1);
  fails(t, () => indicatorBatches({ batchPerRepeat: true, repeat: 5, batchSize: 64 }), 'E_DATA', /256 test images, but 5 batches of 64 distinct images need 320/);
});

test('indicatorBatches: every option is checked', (t) => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ batchSize: 1 }, /batchSize must be an integer between 2 and 4096, got 1/],
    [{ batchSize: 2.5 }, /batchSize must be an integer between 2 and 4096, got 2\.5/],
    [{ batchSize: '64' }, /batchSize must be an integer between 2 and 4096, got "64"/],
    [{ repeat: 0 }, /repeat must be an integer between 1 and 100, got 0/],
    [{ seed: -1 }, /seed must be an integer between 0 and \d+, got -1/],
    [{ seed: NaN }, /seed must be an integer .*got NaN/],
    [{ repeat: Infinity }, /repeat must be an integer between 1 and 100, got Infinity/],
    [{ regionBatches: 0 }, /regionBatches must be an integer between 1 and 1000, got 0/],
    [{ regionBatchSize: 1 }, /regionBatchSize must be an integer between 2 and 100000, got 1/],
    [{ regionBatches: 1000, regionBatchSize: 100000 }, /at most 1000000 inputs, got 1000 x 100000/],
    [{ batchPerRepeat: 'yes' }, /batchPerRepeat must be true or false, got "yes"/],
    [{ augment: 1 }, /augment must be true or false, got 1/],
    [{ synthetic: 'no' }, /synthetic must be true or false, got "no"/],
    [{ dataset: 'mnist' }, /unknown dataset "mnist"; expected one of cifar10, cifar100, ImageNet16-120, imagenet-1k/],
    [{ dataDir: '' }, /dataDir must be a folder path, got ""/],
    [{ synthetic: true, dataDir: '/tmp' }, /synthetic inputs use no data: leave dataDir out/],
    [{ batchsize: 64 }, /unknown indicatorBatches option 'batchsize' \(expected dataset, dataDir, seed, batchSize/],
  ];
  for (const [opts, message] of bad) fails(t, () => indicatorBatches(opts as never), 'E_INPUT', message);
  fails(t, () => indicatorBatches('cifar10' as never), 'E_INPUT', /indicatorBatches options must be an object/);
  fails(t, () => indicatorBatches({ batchSize: 300 }), 'E_DATA', /256 test images, but a batch of 300 distinct images need 300/);
  fails(t, () => indicatorBatches({ dataset: 'cifar100' }), 'E_DATA', /cifar100 is not shipped with tegnas: --data-dir is required/);
  // undefined values are the defaults
  t.is(indicatorBatches({ seed: undefined, batchSize: 4, regionBatchSize: 4, regionBatches: 1 }).ntk[0].count, 4);
});

// ---------------------------------------------------------------------------------------------------
// batchesFromInputsFile

function inputsFile(tensors: Record<string, { dtype: 'F32' | 'I64' | 'I32' | 'U8' | 'F64'; shape: number[]; data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array }>): string {
  const f = join(tmp(), 'inputs.safetensors');
  writeSafetensors(f, tensors);
  return f;
}

const good = () => ({
  'ntk.x': { dtype: 'F32' as const, shape: [4, 3, 8, 8], data: Float32Array.from({ length: 768 }, (_, i) => Math.sin(i)) },
  'ntk.y': { dtype: 'I64' as const, shape: [4], data: BigInt64Array.from([0n, 3n, 1n, 2n]) },
  'val.x': { dtype: 'F32' as const, shape: [2, 3, 8, 8], data: Float32Array.from({ length: 384 }, (_, i) => Math.cos(i)) },
  'val.y': { dtype: 'I32' as const, shape: [2], data: Int32Array.from([5, 1]) },
  'regions.x': { dtype: 'F32' as const, shape: [2000, 1, 3, 3], data: new Float32Array(18000).fill(0.5) },
});

test('batchesFromInputsFile: reads the tensors, classes = largest label + 1 unless given', (t) => {
  const b = batchesFromInputsFile(inputsFile(good()));
  t.is(b.dataset, 'inputs-file');
  t.is(b.classes, 6);
  t.like(b.ntk[0], { count: 4, shape: [3, 8, 8] });
  t.deepEqual(b.ntk[0].y, Int32Array.from([0, 3, 1, 2]));
  t.deepEqual(b.val[0].y, Int32Array.from([5, 1]));
  t.is(b.ntk[0].x[1], Math.fround(Math.sin(1)));
  t.like(b.regions, { count: 2000, shape: [1, 3, 3] });
  t.is(b.regionBatchSize, 1000);
  t.is(batchesFromInputsFile(inputsFile(good()), { classes: 10 }).classes, 10);
  t.is(batchesFromInputsFile(inputsFile(good()), { regionBatchSize: 500 }).regionBatchSize, 500);
});

test('batchesFromInputsFile: shapes, dtypes, labels and values are checked', (t) => {
  const variant = (change: (g: ReturnType<typeof good>) => void) => {
    const g = good();
    change(g);
    return inputsFile(g as never);
  };
  const cases: [(g: Record<string, unknown>) => void, RegExp][] = [
    [(g) => delete g['val.x'], /missing tensor 'val\.x'/],
    [(g) => delete g['ntk.y'], /missing tensor 'ntk\.y' \(expected \[4\] I64 or I32 labels\)/],
    [(g) => (g['ntk.x'] = { dtype: 'F64', shape: [4, 3, 8, 8], data: new Float64Array(768) }), /'ntk\.x' has dtype F64, expected F32/],
    [(g) => (g['ntk.x'] = { dtype: 'F32', shape: [4, 1, 8, 8], data: new Float32Array(256) }), /'ntk\.x' has shape \[4, 1, 8, 8\], expected \[B >= 2, 3, H, W\]/],
    [(g) => (g['val.x'] = { dtype: 'F32', shape: [2, 3, 4, 4], data: new Float32Array(96) }), /'val\.x' has shape \[2, 3, 4, 4\], expected \[V >= 1, 3, 8, 8\]/],
    [(g) => (g['regions.x'] = { dtype: 'F32', shape: [10, 3, 3], data: new Float32Array(90) }), /'regions\.x' has shape \[10, 3, 3\], expected \[K >= 2, 1, 3, 3\]/],
    [(g) => ((g['val.x'] as { data: Float32Array }).data[7] = NaN), /'val\.x' has a non-finite value \(NaN\) at flat index 7/],
    [(g) => ((g['regions.x'] as { data: Float32Array }).data[0] = Infinity), /'regions\.x' has a non-finite value \(Infinity\)/],
    [(g) => (g['ntk.y'] = { dtype: 'I64', shape: [3], data: new BigInt64Array(3) }), /'ntk\.y' has shape \[3\], expected \[4\] \(one label per image\)/],
    [(g) => (g['val.y'] = { dtype: 'I32', shape: [2], data: Int32Array.from([1, -2]) }), /'val\.y'\[1\] is -2, not a class index/],
    [(g) => (g['ntk.y'] = { dtype: 'I64', shape: [4], data: BigInt64Array.from([0n, 1n, 2n ** 40n, 0n]) }), /'ntk\.y'\[2\] is 1099511627776, not a class index/],
    [(g) => (g['val.y'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) }), /'val\.y' has dtype F32, expected I64 or I32 labels/],
  ];
  for (const [change, message] of cases) fails(t, () => batchesFromInputsFile(variant(change as never)), 'E_DATA', message);
  fails(t, () => batchesFromInputsFile(inputsFile(good()), { classes: 4 }), 'E_DATA', /label 5 is outside 0\.\.3 \(4 classes\)/);
  fails(t, () => batchesFromInputsFile(inputsFile(good()), { regionBatchSize: 300 }), 'E_DATA', /2000 region inputs is not a whole number of batches of 300/);
  fails(t, () => batchesFromInputsFile(inputsFile(good()), { classes: 0 }), 'E_INPUT', /classes must be an integer between 1 and 1000000, got 0/);
  fails(t, () => batchesFromInputsFile(inputsFile(good()), { clases: 3 } as never), 'E_INPUT', /unknown batchesFromInputsFile option 'clases'/);
  fails(t, () => batchesFromInputsFile(''), 'E_INPUT', /inputs file must be a path/);
});

test('readCifar is readCifarDir', async (t) => {
  const { readCifar, readCifarDir } = await import('../src/data/cifar.js');
  t.is(readCifar, readCifarDir);
  const dir = tmp();
  put(join(dir, 'test_batch.bin'), cifarRecords([4]));
  t.deepEqual([...readCifar(dir, 'cifar10', 'test').labels], [4]);
});
