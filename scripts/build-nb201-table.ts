/**
 * Builds data/nb201/nb201-200ep.bin from the NAS-Bench-201 CSV (run by hand:
 * npx tsx scripts/build-nb201-table.ts [csv] [out]). Format: src/benchmarks/nb201-format.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { NB201_DATASETS, nb201Table } from '../src/benchmarks/nb201.js';
import { NB201_HEADER, NB201_MAGIC, NB201_VERSION, accuracyOffset, fnv1a } from '../src/benchmarks/nb201-format.js';
import { NB201_SIZE, nb201Code } from '../src/spaces/nb201.js';

const csv = process.argv[2] ?? '../shared/data/nb201/nb201-200ep.csv';
const out = process.argv[3] ?? 'data/nb201/nb201-200ep.bin';
const lines = readFileSync(csv, 'utf8').trim().split(/\r?\n/);
const header = lines[0].split(',');
const expected = ['index', 'arch_str', 'cifar10_valid_xvalid', 'cifar10_valid_oritest', 'cifar10_oritest', 'cifar100_xtest', 'imagenet16_120_xtest'];
if (header.join(',') !== expected.join(',')) throw new Error(`unexpected CSV header ${header.join(',')}`);
const rows = lines.length - 1;
if (rows !== NB201_SIZE) throw new Error(`expected ${NB201_SIZE} rows, found ${rows}`);
const seen = new Set<number>();
const cols = 5;
const buf = new ArrayBuffer(accuracyOffset(rows) + rows * cols * 8);
const bytes = new Uint8Array(buf);
const view = new DataView(buf);
for (let i = 0; i < 8; i++) bytes[i] = NB201_MAGIC.charCodeAt(i);
view.setUint32(8, NB201_VERSION, true);
view.setUint32(12, rows, true);
view.setUint32(16, cols, true);
lines.slice(1).forEach((line, r) => {
  const f = line.split(',');
  if (Number(f[0]) !== r) throw new Error(`row ${r} has index ${f[0]}`);
  const code = nb201Code(f[1]);
  if (seen.has(code)) throw new Error(`row ${r} repeats the architecture ${f[1]}`);
  seen.add(code);
  view.setUint16(NB201_HEADER + 2 * r, code, true);
  for (let c = 0; c < cols; c++) {
    const v = Number(f[2 + c]);
    if (!/^\d+(\.\d+)?$/.test(f[2 + c]) || !(v >= 0 && v <= 100)) throw new Error(`row ${r} column ${c}: ${f[2 + c]}`);
    view.setFloat64(accuracyOffset(rows) + (r * cols + c) * 8, v, true);
  }
});
view.setUint32(20, fnv1a(bytes.subarray(NB201_HEADER)), true);
writeFileSync(out, bytes);
// Read the file back through the loader: every arch and value must be exactly the CSV's.
const table = nb201Table(out);
lines.slice(1).forEach((line, r) => {
  const f = line.split(',');
  const e = table.byIndex(r);
  if (e.arch !== f[1] || NB201_DATASETS.some((d, c) => e.accuracy[d] !== Number(f[2 + c]))) throw new Error(`${out}: row ${r} does not read back as written`);
});
console.log(`wrote ${out}: ${rows} rows, ${bytes.length} bytes`);
