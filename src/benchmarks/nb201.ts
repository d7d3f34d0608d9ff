/**
 * The NAS-Bench-201 ground truth shipped with tegnas: the test (and validation) accuracy of all
 * 15,625 architectures after 200 epochs, loaded lazily from data/nb201/nb201-200ep.bin (656 kB; about
 * 1 MB in memory, under 3 MB with every dataset's order and the canonical-key groups), queried by arch
 * string, official index or canonical key.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TegnasError } from '../errors.js';
import { NB201_SIZE, formatNb201, nb201CanonicalKey, nb201Code, nb201FromCode } from '../spaces/nb201.js';
import { NB201_HEADER, NB201_MAGIC, NB201_VERSION, accuracyOffset, fnv1a } from './nb201-format.js';

/**
 * `cifar10-valid`: trained on the CIFAR-10 train split, x-valid accuracy (what searches may look at);
 * `cifar10-valid-test`: the same networks' test accuracy; `cifar10`: trained on train + valid, test
 * accuracy; `cifar100`, `ImageNet16-120`: x-test accuracy.
 */
export type Nb201Dataset = 'cifar10-valid' | 'cifar10-valid-test' | 'cifar10' | 'cifar100' | 'ImageNet16-120';
export const NB201_DATASETS: readonly Nb201Dataset[] = ['cifar10-valid', 'cifar10-valid-test', 'cifar10', 'cifar100', 'ImageNet16-120'];

export interface Nb201Entry {
  index: number;
  arch: string;
  /** Top-1 accuracy in percent. */
  accuracy: Record<Nb201Dataset, number>;
}

export interface Nb201Table {
  readonly size: number;
  byIndex(index: number): Nb201Entry;
  byArch(arch: string): Nb201Entry;
  indexOf(arch: string): number;
  /** Every entry whose cell computes the same function (nb201CanonicalKey). */
  byCanonicalKey(key: string): Nb201Entry[];
  /** The k best entries on a dataset, best first. */
  top(k: number, dataset: Nb201Dataset): Nb201Entry[];
  /** 1 = best among all; ties share the better rank. */
  rank(arch: string, dataset: Nb201Dataset): number;
  best(dataset: Nb201Dataset): Nb201Entry;
}

const DEFAULT_FILE = fileURLToPath(new URL('../../data/nb201/nb201-200ep.bin', import.meta.url));
const tables = new Map<string, Nb201Table>();

function checkDataset(d: Nb201Dataset): number {
  const i = NB201_DATASETS.indexOf(d);
  if (i < 0) throw new TegnasError('E_INPUT', `unknown NAS-Bench-201 dataset ${JSON.stringify(d)}; expected one of ${NB201_DATASETS.join(', ')}`);
  return i;
}

function load(file: string): Nb201Table {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new TegnasError('E_DATA', `cannot read the NAS-Bench-201 table ${file}: ${(e as Error).message}`);
  }
  const bad = (why: string) => new TegnasError('E_DATA', `${file}: ${why} (corrupt NAS-Bench-201 table; reinstall tegnas)`);
  if (bytes.length < NB201_HEADER) throw bad(`only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < 8; i++) if (bytes[i] !== NB201_MAGIC.charCodeAt(i)) throw bad('wrong magic number');
  if (view.getUint32(8, true) !== NB201_VERSION) throw bad(`unknown version ${view.getUint32(8, true)}`);
  const rows = view.getUint32(12, true), cols = view.getUint32(16, true);
  if (cols !== NB201_DATASETS.length) throw bad(`${cols} columns, expected ${NB201_DATASETS.length}`);
  const size = accuracyOffset(rows) + rows * cols * 8;
  if (bytes.length !== size) throw bad(`${bytes.length} bytes, expected ${size} for ${rows} rows`);
  if (fnv1a(bytes.subarray(NB201_HEADER)) !== view.getUint32(20, true)) throw bad('checksum mismatch');
  const codes = new Uint16Array(rows);
  for (let r = 0; r < rows; r++) codes[r] = view.getUint16(NB201_HEADER + 2 * r, true);
  const acc = new Float64Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) acc[i] = view.getFloat64(accuracyOffset(rows) + i * 8, true);
  const byCode = new Int32Array(NB201_SIZE).fill(-1);
  codes.forEach((c, r) => {
    if (c >= NB201_SIZE || byCode[c] >= 0) throw bad(`row ${r} holds an invalid or repeated architecture`);
    byCode[c] = r;
  });
  let keys: Map<string, number[]> | undefined;
  const sorted = new Map<number, Int32Array>();
  const order = (d: number): Int32Array => {
    let s = sorted.get(d);
    if (!s) {
      s = Int32Array.from({ length: rows }, (_, i) => i).sort((a, b) => acc[b * cols + d] - acc[a * cols + d] || a - b);
      sorted.set(d, s);
    }
    return s;
  };
  const entry = (r: number): Nb201Entry => ({
    index: r,
    arch: formatNb201(nb201FromCode(codes[r])),
    accuracy: Object.fromEntries(NB201_DATASETS.map((d, c) => [d, acc[r * cols + c]])) as Record<Nb201Dataset, number>,
  });
  const indexOf = (arch: string): number => {
    const r = byCode[nb201Code(arch)];
    if (r < 0) throw new TegnasError('E_ARCH', `${arch} is not in the NAS-Bench-201 table`);
    return r;
  };
  return {
    size: rows,
    byIndex(index) {
      if (!Number.isInteger(index) || index < 0 || index >= rows)
        throw new TegnasError('E_INPUT', `NAS-Bench-201 index must be an integer in 0..${rows - 1}, got ${JSON.stringify(index)}`);
      return entry(index);
    },
    byArch: (arch) => entry(indexOf(arch)),
    indexOf,
    byCanonicalKey(key) {
      if (!keys) {
        keys = new Map();
        for (let r = 0; r < rows; r++) {
          const k = nb201CanonicalKey(nb201FromCode(codes[r]));
          const list = keys.get(k);
          if (list) list.push(r);
          else keys.set(k, [r]);
        }
      }
      return (keys.get(key) ?? []).map(entry);
    },
    top(k, dataset) {
      if (!Number.isInteger(k) || k < 1) throw new TegnasError('E_INPUT', `top needs a positive integer, got ${JSON.stringify(k)}`);
      return Array.from(order(checkDataset(dataset)).subarray(0, Math.min(k, rows)), entry);
    },
    rank(arch, dataset) {
      const d = checkDataset(dataset);
      const v = acc[indexOf(arch) * cols + d];
      let better = 0;
      for (let r = 0; r < rows; r++) if (acc[r * cols + d] > v) better++;
      return better + 1;
    },
    best: (dataset) => entry(order(checkDataset(dataset))[0]),
  };
}

/**
 * The shipped table (or another file in the same format), read and checked on first use, then kept:
 * about 1 MB of typed arrays (codes, accuracies, the arch -> row map), plus one 62 kB sort order per
 * dataset ranked with `top` or `best`, plus about 1.5 MB of key groups once `byCanonicalKey` is used.
 */
export function nb201Table(file = DEFAULT_FILE): Nb201Table {
  let t = tables.get(file);
  if (!t) {
    t = load(file);
    tables.set(file, t);
  }
  return t;
}

/** The official NAS-Bench-201 index (row of the shipped table) of an arch string. */
export function nb201Index(arch: string): number {
  return nb201Table().indexOf(arch);
}
