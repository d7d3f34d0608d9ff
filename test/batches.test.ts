import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchesFromInputsFile, indicatorBatches } from '../src/data/batches.js';
import { CIFAR10_MEAN, CIFAR10_STD } from '../src/data/cifar.js';
import { shippedCifar10 } from '../src/data/sample.js';
import { TegnasError } from '../src/errors.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

test('the shipped sample is real CIFAR-10', (t) => {
  const train = shippedCifar10('train');
  t.is(train.count, 512);
  t.is(train.labels[0], 6);
  t.deepEqual(Array.from(train.pixels.subarray(0, 5)), [59, 43, 50, 68, 98]);
  const test_ = shippedCifar10('test');
  t.is(test_.labels[0], 3);
  t.deepEqual(Array.from(test_.pixels.subarray(0, 5)), [158, 159, 165, 166, 160]);
});

test('batches are deterministic per seed and differ across seeds', (t) => {
  const a = indicatorBatches({ seed: 4 }), b = indicatorBatches({ seed: 4 }), c = indicatorBatches({ seed: 5 });
  t.deepEqual(Array.from(a.ntk[0].x.subarray(0, 100)), Array.from(b.ntk[0].x.subarray(0, 100)));
  t.deepEqual(Array.from(a.regions.x.subarray(0, 100)), Array.from(b.regions.x.subarray(0, 100)));
  t.notDeepEqual(Array.from(a.ntk[0].x.subarray(0, 100)), Array.from(c.ntk[0].x.subarray(0, 100)));
  t.is(a.ntk.length, 1);
  t.is(a.ntk[0].count, 64);
  t.is(a.regions.count, 3000);
  t.is(a.classes, 10);
  t.is(indicatorBatches({ batchPerRepeat: true, repeat: 3 }).ntk.length, 3);
});

test('every region crop is a 3x3 window of one channel of a normalised training image', (t) => {
  const train = shippedCifar10('train');
  const b = indicatorBatches({ seed: 1, regionBatches: 1, regionBatchSize: 50 });
  for (let k = 0; k < 50; k++) {
    const crop = b.regions.x.subarray(k * 9, k * 9 + 9);
    let found = false;
    for (let n = 0; n < train.count && !found; n++)
      for (let c = 0; c < 3 && !found; c++)
        for (let i = 0; i < 30 && !found; i++)
          for (let j = 0; j < 30 && !found; j++) {
            let ok = true;
            for (let a = 0; a < 3 && ok; a++)
              for (let d = 0; d < 3 && ok; d++) {
                const v = (train.pixels[(n * 3 + c) * 1024 + (i + a) * 32 + j + d] / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c];
                ok = Math.abs(v - crop[a * 3 + d]) < 1e-5;
              }
            found = ok;
          }
    t.true(found, `crop ${k} is not a window of any image`);
  }
});

test('validation images are unaugmented test images with their labels', (t) => {
  const test_ = shippedCifar10('test');
  const b = indicatorBatches({ seed: 2 });
  const v = b.val[0];
  // Find each validation image among the test images by its first normalised pixels.
  for (let k = 0; k < 8; k++) {
    const first = v.x[k * 3072];
    const idx = Array.from({ length: test_.count }, (_, n) => n).find(
      (n) => Math.abs((test_.pixels[n * 3072] / 255 - CIFAR10_MEAN[0]) / CIFAR10_STD[0] - first) < 1e-6 &&
        Math.abs((test_.pixels[n * 3072 + 1000] / 255 - CIFAR10_MEAN[0]) / CIFAR10_STD[0] - v.x[k * 3072 + 1000]) < 1e-6,
    );
    t.not(idx, undefined);
    t.is(v.y[k], test_.labels[idx!]);
  }
});

test('bad options and bad inputs files are clear errors', (t) => {
  t.throws(() => indicatorBatches({ batchSize: 1 }), { instanceOf: TegnasError, message: /batchSize must be an integer between 2/ });
  t.throws(() => indicatorBatches({ dataset: 'mnist' as never }), { instanceOf: TegnasError, message: /unknown dataset "mnist"/ });
  t.throws(() => indicatorBatches({ dataset: 'cifar100' }), { instanceOf: TegnasError, message: /cifar100 is not shipped.*--data-dir/ });
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-'));
  writeFileSync(join(dir, 'data_batch_1.bin'), new Uint8Array(3073 * 2 + 5));
  writeFileSync(join(dir, 'test_batch.bin'), new Uint8Array(3073));
  t.throws(() => indicatorBatches({ dataDir: dir }), { instanceOf: TegnasError, message: /data_batch_1\.bin: .* not a whole number of CIFAR-10 records/ });
  const f = join(dir, 'inputs.safetensors');
  writeSafetensors(f, { 'ntk.x': { dtype: 'F32', shape: [4, 3, 8, 8], data: new Float32Array(768) } });
  t.throws(() => batchesFromInputsFile(f), { instanceOf: TegnasError, message: /missing tensor 'val\.x'/ });
});

test('CIFAR-100 batches come from the official binary files in --data-dir', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-'));
  const records = (n: number) => {
    const b = new Uint8Array(n * 3074);
    for (let i = 0; i < n; i++) {
      b[i * 3074] = i % 20;
      b[i * 3074 + 1] = (i * 7) % 100;
      for (let k = 2; k < 3074; k++) b[i * 3074 + k] = (i * 31 + k) % 256;
    }
    return b;
  };
  writeFileSync(join(dir, 'train.bin'), records(40));
  writeFileSync(join(dir, 'test.bin'), records(20));
  const b = indicatorBatches({ dataset: 'cifar100', dataDir: dir, batchSize: 8, regionBatchSize: 10, regionBatches: 2 });
  t.is(b.classes, 100);
  t.is(b.ntk[0].count, 8);
  const testLabels = new Set(Array.from({ length: 20 }, (_, i) => (i * 7) % 100));
  t.true(Array.from(b.val[0].y).every((y) => testLabels.has(y)), `fine labels of the test records: ${Array.from(b.val[0].y)}`);
  t.is(b.regions.count, 20);
});
