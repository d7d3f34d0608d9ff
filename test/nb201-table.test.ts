import test from 'ava';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nb201Table } from '../src/benchmarks/nb201.js';
import { TegnasError } from '../src/errors.js';
import { nb201CanonicalKey } from '../src/spaces/nb201.js';

const shipped = fileURLToPath(new URL('../data/nb201/nb201-200ep.bin', import.meta.url));
const csv = '/work/shared/data/nb201/nb201-200ep.csv';

test('the known optima', (t) => {
  const tb = nb201Table();
  t.is(tb.size, 15625);
  t.is(tb.best('cifar10').index, 6111);
  t.is(tb.best('cifar10').accuracy.cifar10.toFixed(3), '94.373');
  t.is(tb.best('cifar100').index, 9930);
  t.is(tb.best('cifar100').accuracy.cifar100.toFixed(3), '73.513');
  t.is(tb.best('ImageNet16-120').index, 857);
  t.is(tb.best('ImageNet16-120').accuracy['ImageNet16-120'].toFixed(3), '47.311');
  t.is(tb.best('cifar10-valid').index, 6111);
  t.is(tb.rank(tb.byIndex(6111).arch, 'cifar10'), 1);
  t.deepEqual(tb.top(3, 'cifar100').map((e) => e.index)[0], 9930);
});

test('every row round-trips against the CSV, and index <-> arch both ways', (t) => {
  const tb = nb201Table();
  for (let i = 0; i < tb.size; i++) t.is(tb.indexOf(tb.byIndex(i).arch), i);
  if (!existsSync(csv)) {
    t.log(`${csv} is absent: CSV round trip skipped`);
    return;
  }
  const lines = readFileSync(csv, 'utf8').trim().split(/\r?\n/).slice(1);
  let mismatches = 0;
  for (const line of lines) {
    const f = line.split(',');
    const e = tb.byIndex(Number(f[0]));
    const vals = [e.accuracy['cifar10-valid'], e.accuracy['cifar10-valid-test'], e.accuracy.cifar10, e.accuracy.cifar100, e.accuracy['ImageNet16-120']];
    if (e.arch !== f[1] || vals.some((v, c) => v !== Number(f[2 + c]))) mismatches++;
  }
  t.is(mismatches, 0);
});

test('canonical keys group the table into 5,390 classes', (t) => {
  const tb = nb201Table();
  const key = nb201CanonicalKey(tb.byIndex(0).arch);
  t.true(tb.byCanonicalKey(key).some((e) => e.index === 0));
  const seen = new Set<string>();
  for (let i = 0; i < tb.size; i++) seen.add(nb201CanonicalKey(tb.byIndex(i).arch));
  t.is(seen.size, 5390);
});

test('a corrupt or truncated table is a clear error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-'));
  const flipped = join(dir, 'flipped.bin');
  copyFileSync(shipped, flipped);
  const b = readFileSync(flipped);
  b[1000] ^= 0xff;
  writeFileSync(flipped, b);
  t.throws(() => nb201Table(flipped), { instanceOf: TegnasError, message: /checksum mismatch/ });
  const cut = join(dir, 'cut.bin');
  writeFileSync(cut, readFileSync(shipped).subarray(0, 5000));
  t.throws(() => nb201Table(cut), { instanceOf: TegnasError, message: /5000 bytes, expected/ });
  t.throws(() => nb201Table().byArch('|none~0|'), { instanceOf: TegnasError });
  t.throws(() => nb201Table().byIndex(15625), { message: /0\.\.15624/ });
});
