import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NB201_DATASETS, type Nb201Dataset, nb201Index, nb201Table } from '../src/benchmarks/nb201.js';
import { TegnasError } from '../src/errors.js';
import { allNb201, formatNb201, nb201CanonicalKey } from '../src/spaces/nb201.js';

const shipped = fileURLToPath(new URL('../data/nb201/nb201-200ep.bin', import.meta.url));
const csv = '/work/shared/data/nb201/nb201-200ep.csv';

test('the known optima, with rank 1', (t) => {
  const tb = nb201Table();
  t.is(tb.size, 15625);
  const optima: [Nb201Dataset, number, string][] = [
    ['cifar10', 6111, '94.373'],
    ['cifar100', 9930, '73.513'],
    ['ImageNet16-120', 857, '47.311'],
    ['cifar10-valid', 6111, '91.607'],
  ];
  for (const [d, index, acc] of optima) {
    const best = tb.best(d);
    t.is(best.index, index, d);
    t.is(best.accuracy[d].toFixed(3), acc, d);
    t.is(tb.rank(best.arch, d), 1, d);
    t.is(tb.top(1, d)[0].index, index, d);
  }
  t.is(tb.rank(tb.byIndex(9930).arch, 'cifar100'), 1);
});

test('top is sorted best first and rank agrees; ties share the better rank', (t) => {
  const tb = nb201Table();
  for (const d of NB201_DATASETS) {
    const top = tb.top(50, d);
    t.is(top.length, 50);
    for (let i = 1; i < top.length; i++) t.true(top[i - 1].accuracy[d] >= top[i].accuracy[d]);
    for (const [i, e] of top.entries()) {
      const better = top.filter((o) => o.accuracy[d] > e.accuracy[d]).length;
      t.is(tb.rank(e.arch, d), better + 1);
      t.true(tb.rank(e.arch, d) <= i + 1);
    }
  }
  // 6111 and 13714 share the cifar10 optimum exactly: both rank 1, the lower index comes first.
  t.is(tb.byIndex(13714).accuracy.cifar10, tb.byIndex(6111).accuracy.cifar10);
  t.is(tb.rank(tb.byIndex(13714).arch, 'cifar10'), 1);
  t.deepEqual(tb.top(2, 'cifar10').map((e) => e.index), [6111, 13714]);
  t.is(tb.top(1e6, 'cifar100').length, 15625);
  t.throws(() => tb.top(0, 'cifar10'), { instanceOf: TegnasError, code: 'E_INPUT' });
  t.throws(() => tb.best('cifar1000' as Nb201Dataset), { instanceOf: TegnasError, code: 'E_INPUT' });
});

test('index <-> arch both ways for every row, and every architecture has one row', (t) => {
  const tb = nb201Table();
  let bad = 0;
  for (let i = 0; i < tb.size; i++) {
    const e = tb.byIndex(i);
    if (e.index !== i || tb.indexOf(e.arch) !== i || nb201Index(e.arch) !== i || tb.byArch(e.arch).index !== i) bad++;
  }
  t.is(bad, 0);
  const rows = new Set(allNb201().map((a) => nb201Index(formatNb201(a))));
  t.is(rows.size, 15625);
  // Known rows (official indices).
  t.is(nb201Index('|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'), 1);
  t.is(tb.byIndex(6111).arch, '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|');
  t.is(nb201Index('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'), 9930);
  t.is(nb201Index('|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'), 857);
  t.is((t.throws(() => nb201Index('|nor_conv_3x3~0|')) as TegnasError).code, 'E_ARCH');
});

const hasCsv = existsSync(csv);
if (!hasCsv) console.log(`${csv} is absent: the CSV round-trip test is skipped`);
(hasCsv ? test : test.skip)(`every row round-trips exactly against ${csv}`, (t) => {
  const tb = nb201Table();
  const lines = readFileSync(csv, 'utf8').trim().split(/\r?\n/);
  t.is(lines[0], 'index,arch_str,cifar10_valid_xvalid,cifar10_valid_oritest,cifar10_oritest,cifar100_xtest,imagenet16_120_xtest');
  t.is(lines.length - 1, tb.size);
  let mismatches = 0;
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    const e = tb.byIndex(Number(f[0]));
    const vals = NB201_DATASETS.map((d) => e.accuracy[d]);
    // Exact: the stored float64 is the value the CSV prints (up to 17 decimals, e.g. 52.913333294677734).
    if (tb.indexOf(f[1]) !== e.index || e.arch !== f[1] || vals.some((v, c) => v !== Number(f[2 + c]) || String(v) !== String(Number(f[2 + c])))) mismatches++;
  }
  t.is(mismatches, 0);
});

test('byCanonicalKey returns every entry sharing the key: 5,425 classes', (t) => {
  const tb = nb201Table();
  const keys = new Map<string, number>();
  for (let i = 0; i < tb.size; i++) {
    const k = nb201CanonicalKey(tb.byIndex(i).arch);
    keys.set(k, (keys.get(k) ?? 0) + 1);
  }
  t.is(keys.size, 5425);
  let total = 0;
  for (const [k, n] of keys) {
    const group = tb.byCanonicalKey(k);
    total += group.length;
    if (group.length !== n || group.some((e) => nb201CanonicalKey(e.arch) !== k)) t.fail(k);
  }
  t.is(total, tb.size);
  t.true(tb.byCanonicalKey(nb201CanonicalKey(tb.byIndex(0).arch)).some((e) => e.index === 0));
  t.deepEqual(tb.byCanonicalKey('not a key'), []);
});

test('a corrupt or truncated table is E_DATA naming the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-'));
  const good = readFileSync(shipped);
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const flip = (at: number) => {
    const b = Buffer.from(good);
    b[at] ^= 0xff;
    return b;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['flipped-arch.bin', flip(1000), /checksum mismatch/],
    ['flipped-acc.bin', flip(good.length - 3), /checksum mismatch/],
    ['flipped-magic.bin', flip(2), /magic/],
    ['flipped-checksum.bin', flip(21), /checksum mismatch/],
    ['cut.bin', good.subarray(0, 5000), /5000 bytes, expected/],
    ['cut-by-one.bin', good.subarray(0, good.length - 1), /bytes, expected/],
    ['header-only.bin', good.subarray(0, 10), /only 10 bytes/],
    ['longer.bin', Buffer.concat([good, Buffer.alloc(8)]), /bytes, expected/],
  ];
  for (const [name, bytes, why] of cases) {
    const p = write(name, bytes);
    const err = t.throws(() => nb201Table(p), { instanceOf: TegnasError, message: why }, name);
    t.is((err as TegnasError).code, 'E_DATA', name);
    t.true(err!.message.includes(p), name);
  }
  const copy = join(dir, 'copy.bin');
  copyFileSync(shipped, copy);
  t.is(nb201Table(copy).best('cifar100').index, 9930);
  const missing = join(dir, 'missing.bin');
  const err = t.throws(() => nb201Table(missing));
  t.is((err as TegnasError).code, 'E_DATA');
});

test('bad arch strings and indices', (t) => {
  const tb = nb201Table();
  for (const arch of ['|none~0|', '', '|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|'])
    t.is((t.throws(() => tb.byArch(arch)) as TegnasError).code, 'E_ARCH', arch);
  t.is((t.throws(() => tb.rank('|none~0|', 'cifar10')) as TegnasError).code, 'E_ARCH');
  for (const i of [15625, -1, 1.5, NaN]) t.is((t.throws(() => tb.byIndex(i), { message: /0\.\.15624/ }) as TegnasError).code, 'E_INPUT');
});

test('the loaded table, every sort order and the key groups take under 10 MB', (t) => {
  const script = `
    import { nb201Table, NB201_DATASETS } from './src/benchmarks/nb201.ts';
    const m = () => { gc(); gc(); const u = process.memoryUsage(); return u.heapUsed + u.arrayBuffers; };
    const m0 = m();
    const tb = nb201Table();
    for (const d of NB201_DATASETS) tb.top(1, d);
    tb.byCanonicalKey('#');
    console.log(JSON.stringify({ bytes: m() - m0, size: tb.size }));`;
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const { bytes, size } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { bytes: number; size: number };
  t.is(size, 15625);
  t.log(`table memory: ${(bytes / 1e6).toFixed(2)} MB`);
  t.true(bytes < 10e6, `${bytes} bytes`);
});
