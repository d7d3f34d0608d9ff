/**
 * Reader and writer of the safetensors format (https://github.com/huggingface/safetensors):
 *
 *   8 bytes   N, the header length, unsigned 64-bit little-endian
 *   N bytes   UTF-8 JSON object: { name: { dtype, shape, data_offsets: [begin, end] }, ...,
 *             "__metadata__"?: { string: string } }, padded with spaces (the writer pads to a multiple of 8)
 *   rest      the byte buffer; `data_offsets` are relative to its start, little-endian values, row-major
 *
 * The reader validates everything and rejects a file whose tensors do not tile the byte buffer exactly
 * (no overlaps, no gaps, no trailing bytes), as the format requires. Tensor data are copied into fresh,
 * aligned typed arrays. F16 and BF16 are read and converted to F32; they are never written.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { TegnasError, showValue } from '../errors.js';

/** The dtypes a StoredTensor can hold (after reading, F16 and BF16 have become F32). */
export type StoredDtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8';
export type StoredData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface StoredTensor {
  dtype: StoredDtype;
  shape: number[];
  /** Row-major values; `data.length` is the product of `shape` (1 for a scalar, shape []). */
  data: StoredData;
}

export interface SafetensorsContents {
  /** Tensors in header order. */
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** Headers longer than this are rejected as corrupt. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

/** Dtypes the reader understands: their size in the file and the dtype they become. */
const FILE_DTYPES: Record<string, { size: number; stored: StoredDtype }> = {
  F64: { size: 8, stored: 'F64' },
  F32: { size: 4, stored: 'F32' },
  F16: { size: 2, stored: 'F32' },
  BF16: { size: 2, stored: 'F32' },
  I64: { size: 8, stored: 'I64' },
  I32: { size: 4, stored: 'I32' },
  U8: { size: 1, stored: 'U8' },
};

const STORED: Record<StoredDtype, { size: number; ctor: { new (b: ArrayBuffer): StoredData; name: string } }> = {
  F64: { size: 8, ctor: Float64Array },
  F32: { size: 4, ctor: Float32Array },
  I64: { size: 8, ctor: BigInt64Array },
  I32: { size: 4, ctor: Int32Array },
  U8: { size: 1, ctor: Uint8Array },
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(source: string, problem: string, cause?: unknown): never {
  throw new TegnasError('E_SAFETENSORS', `${source}: ${problem}`, cause === undefined ? undefined : { cause });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return showValue(v, 80);
}

/** A tensor name in a message: 'name', or cut when it is long. */
function quoted(name: string): string {
  return name.length <= 80 ? `'${name}'` : showValue(name, 80);
}

/** Checks a shape (non-negative safe integer dims) and returns its element count, or a problem. */
function shapeNumel(shape: unknown): number | string {
  if (!Array.isArray(shape)) return `shape must be an array, got ${show(shape)}`;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      return `invalid shape ${show(shape)}: dims must be non-negative integers`;
    n *= d;
  }
  if (!Number.isSafeInteger(n)) return `shape ${show(shape)} has too many elements`;
  return n;
}

/**
 * The top-level keys of a JSON object text, in text order, duplicates included (JSON.parse keeps only
 * the last of duplicate keys). `text` must already be known to be valid JSON whose value is an object.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

/** Reverses the byte order of every `size`-byte element (only needed on big-endian hosts). */
function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

function decode(bytes: Uint8Array, fileDtype: string, numel: number): StoredData {
  const size = FILE_DTYPES[fileDtype].size;
  if (fileDtype === 'F16' || fileDtype === 'BF16') {
    const out = new Float32Array(numel);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (fileDtype === 'F16') for (let i = 0; i < numel; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
    else {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
    }
    return out;
  }
  const buf = new ArrayBuffer(numel * size);
  const copy = new Uint8Array(buf);
  copy.set(bytes);
  if (!LITTLE_ENDIAN) swapBytes(copy, size);
  return new STORED[FILE_DTYPES[fileDtype].stored].ctor(buf);
}

/** Parses a whole safetensors file held in memory. `source` names it in error messages. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) fail(source, 'expected the file contents as a Uint8Array');
  if (bytes.length < 8) fail(source, `file is ${bytes.length} bytes, shorter than the 8-byte header length: not a safetensors file (truncated?)`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES))
    fail(source, `header length ${n64} is absurd (over ${MAX_HEADER_BYTES} bytes): not a safetensors file or corrupt`);
  const n = Number(n64);
  if (8 + n > bytes.length)
    fail(source, `header length ${n} reaches beyond the end of the file (${bytes.length} bytes): truncated or not a safetensors file`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch (e) {
    fail(source, 'header is not valid UTF-8', e);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`, e);
  }
  if (!isPlainObject(header)) fail(source, `header must be a JSON object, got ${Array.isArray(header) ? 'an array' : show(header)}`);

  const keys = topLevelKeys(text);
  const seenKeys = new Set<string>();
  for (const k of keys) {
    if (seenKeys.has(k)) fail(source, `header names ${k === METADATA_KEY ? METADATA_KEY : `tensor ${quoted(k)}`} twice`);
    seenKeys.add(k);
  }

  const metadata: Record<string, string> = {};
  if (Object.hasOwn(header, METADATA_KEY)) {
    const m = header[METADATA_KEY];
    if (m !== null) {
      if (!isPlainObject(m)) fail(source, `${METADATA_KEY} must be an object of strings, got ${show(m)}`);
      for (const [k, v] of Object.entries(m)) {
        if (typeof v !== 'string') fail(source, `${METADATA_KEY} value of ${quoted(k)} must be a string, got ${show(v)}`);
        // defineProperty, not assignment: a key named __proto__ must stay a key, not replace the prototype
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
  }

  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  interface Entry {
    name: string;
    dtype: string;
    shape: number[];
    numel: number;
    begin: number;
    end: number;
  }
  const entries: Entry[] = [];
  for (const name of keys) {
    if (name === METADATA_KEY) continue;
    const info = header[name];
    const where = `tensor ${quoted(name)}`;
    if (!isPlainObject(info)) fail(source, `${where}: entry must be an object, got ${show(info)}`);
    for (const field of ['dtype', 'shape', 'data_offsets'])
      if (!Object.hasOwn(info, field)) fail(source, `${where}: entry is missing '${field}'`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') fail(source, `${where}: dtype must be a string, got ${show(dtype)}`);
    if (!Object.hasOwn(FILE_DTYPES, dtype))
      fail(source, `${where}: unsupported dtype ${show(dtype)} (supported: ${Object.keys(FILE_DTYPES).join(', ')})`);
    const numel = shapeNumel(shape);
    if (typeof numel === 'string') fail(source, `${where}: ${numel}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    )
      fail(source, `${where}: data_offsets must be two non-negative integers [begin, end], got ${show(offsets)}`);
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(source, `${where}: data_offsets [${begin}, ${end}] end before they begin (expected begin <= end)`);
    if (end > dataLength)
      fail(source, `${where}: data_offsets [${begin}, ${end}] out of range: the byte buffer holds ${dataLength} bytes (truncated file?)`);
    const expected = numel * FILE_DTYPES[dtype].size;
    if (end - begin !== expected)
      fail(source, `${where}: byte length ${end - begin} does not match shape ${show(shape)} of ${dtype} (${expected} bytes)`);
    entries.push({ name, dtype, shape: [...(shape as number[])], numel, begin, end });
  }

  // The tensors must tile the byte buffer: sorted by offset, each begins where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < cursor)
      fail(source, `tensor ${quoted(e.name)} (bytes ${e.begin}..${e.end}) overlaps tensor ${quoted(prev!.name)} (bytes ${prev!.begin}..${prev!.end})`);
    if (e.begin > cursor) fail(source, `gap in the byte buffer: bytes ${cursor}..${e.begin} belong to no tensor (before tensor ${quoted(e.name)})`);
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLength)
    fail(source, `byte buffer holds ${dataLength - cursor} trailing bytes (${cursor}..${dataLength}) that belong to no tensor`);

  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) {
    const data = decode(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, e.numel);
    tensors.set(e.name, { dtype: FILE_DTYPES[e.dtype].stored, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function serializeFor(
  tensors: Map<string, StoredTensor> | Record<string, StoredTensor>,
  metadata: Record<string, string> | undefined,
  source: string,
): Uint8Array {
  const bad = (problem: string): never => fail(source, `cannot write: ${problem}`);
  const list: [string, StoredTensor][] =
    tensors instanceof Map ? [...tensors.entries()] : isPlainObject(tensors) ? Object.entries(tensors) : bad('tensors must be a Map or an object');

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) bad(`metadata must be an object of strings, got ${show(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') bad(`metadata value of '${k}' must be a string, got ${show(v)}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    const where = `tensor '${name}'`;
    if (typeof name !== 'string') bad(`tensor names must be strings, got ${show(name)}`);
    if (name === METADATA_KEY) bad(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (!isPlainObject(t)) bad(`${where}: expected { dtype, shape, data }`);
    if (typeof t.dtype !== 'string' || !Object.hasOwn(STORED, t.dtype))
      bad(`${where}: unsupported dtype ${show(t.dtype)} (writable: ${Object.keys(STORED).join(', ')})`);
    const { size, ctor } = STORED[t.dtype];
    const numel = shapeNumel(t.shape);
    if (typeof numel === 'string') bad(`${where}: ${numel}`);
    if (!(t.data instanceof ctor)) bad(`${where}: dtype ${t.dtype} needs its data as a ${ctor.name}`);
    if (t.data.length !== numel) bad(`${where}: data holds ${t.data.length} values, shape ${show(t.shape)} needs ${numel}`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    let chunk = bytes;
    if (!LITTLE_ENDIAN) {
      chunk = bytes.slice();
      swapBytes(chunk, size);
    }
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + chunk.length] })}`);
    chunks.push(chunk);
    offset += chunk.length;
  }
  // Built by hand so that the header keeps the tensors' order (JSON.stringify of an object would move
  // integer-like names first).
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Serialises tensors (in the Map's or object's order) and optional string metadata to safetensors bytes.
 * Dtypes F32, F64, I32, I64 and U8 are written; each tensor's data must be the matching typed array
 * with exactly prod(shape) values.
 */
export function serializeSafetensors(
  tensors: Map<string, StoredTensor> | Record<string, StoredTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  return serializeFor(tensors, metadata, '<buffer>');
}

/** Reads and validates a safetensors file. */
export function readSafetensors(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    fail(path, `cannot read the file (${(e as Error).message})`, e);
  }
  return parseSafetensors(bytes, path);
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same folder, which is
 * flushed and then renamed over `path`, so readers never see a half-written file.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, StoredTensor> | Record<string, StoredTensor>,
  metadata?: Record<string, string>,
): void {
  const bytes = serializeFor(tensors, metadata, path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    rmSync(tmp, { force: true });
    fail(path, `cannot write the file (${(e as Error).message})`, e);
  }
}
