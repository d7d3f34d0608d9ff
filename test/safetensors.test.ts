import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TegnasError } from '../src/errors.js';
import {
  type StoredTensor,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from '../src/weights/safetensors.js';

/** A file from a header text (not padded) and a data section. */
function build(header: string, data: Uint8Array | number[] = [], declaredLength?: number | bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function rejects(t: import('ava').ExecutionContext, bytes: Uint8Array, pattern: RegExp, source = 'bad.safetensors'): void {
  const err = t.throws(() => parseSafetensors(bytes, source), { instanceOf: TegnasError });
  t.is(err?.code, 'E_SAFETENSORS');
  t.true(err!.message.startsWith(`${source}: `), err?.message);
  t.regex(err!.message, pattern);
}

const allDtypes = (): Map<string, StoredTensor> =>
  new Map<string, StoredTensor>([
    ['f32', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 0, 3.25, -0, 1e-30]) }],
    ['f64', { dtype: 'F64', shape: [3], data: new Float64Array([Math.PI, -1e300, 5e-324]) }],
    ['i32', { dtype: 'I32', shape: [2, 2], data: new Int32Array([0, -1, 2147483647, -2147483648]) }],
    ['i64', { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) }],
    ['u8', { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 127, 128, 255]) }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([7]) }],
    ['empty', { dtype: 'F64', shape: [0, 4], data: new Float64Array(0) }],
    ['odd', { dtype: 'U8', shape: [3], data: new Uint8Array([9, 8, 7]) }],
    ['after-odd', { dtype: 'F64', shape: [1, 1], data: new Float64Array([42.5]) }],
  ]);

test('round trip of every dtype, with metadata, in order', (t) => {
  const tensors = allDtypes();
  const metadata = { format: 'pt', note: 'héllo "quoted" ✓', empty: '' };
  const bytes = serializeSafetensors(tensors, metadata);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  t.is(n % 8, 0, 'header padded to a multiple of 8');
  const back = parseSafetensors(bytes);
  t.deepEqual(back.metadata, metadata);
  t.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [name, v] of tensors) {
    const w = back.tensors.get(name)!;
    t.is(w.dtype, v.dtype, name);
    t.deepEqual(w.shape, v.shape, name);
    t.is(w.data.constructor, v.data.constructor, name);
    t.deepEqual(Array.from(w.data as ArrayLike<number | bigint>), Array.from(v.data as ArrayLike<number | bigint>), name);
    t.is(w.data.byteOffset, 0, `${name} copied into its own buffer`);
  }
  t.true(Object.is((back.tensors.get('f32')!.data as Float32Array)[4], -0));
});

test('round trip from a plain object, without metadata, and of an empty file', (t) => {
  const back = parseSafetensors(serializeSafetensors({ b: { dtype: 'I32', shape: [1], data: new Int32Array([-5]) }, a: { dtype: 'U8', shape: [1], data: new Uint8Array([2]) } }));
  t.deepEqual(back.metadata, {});
  t.deepEqual([...back.tensors.keys()], ['b', 'a']);
  t.deepEqual(Array.from(back.tensors.get('b')!.data as Int32Array), [-5]);
  const empty = parseSafetensors(serializeSafetensors(new Map()));
  t.is(empty.tensors.size, 0);
});

test('integer-like names keep the order of a Map', (t) => {
  const u8 = (v: number): StoredTensor => ({ dtype: 'U8', shape: [1], data: new Uint8Array([v]) });
  const bytes = serializeSafetensors(new Map([['10', u8(1)], ['b', u8(2)], ['2', u8(3)]]));
  const back = parseSafetensors(bytes);
  t.deepEqual([...back.tensors.keys()], ['10', 'b', '2']);
  t.deepEqual([...back.tensors.values()].map((x) => x.data[0]), [1, 2, 3]);
});

test('serialised bytes match a hand-built file exactly', (t) => {
  const bytes = serializeSafetensors(
    new Map<string, StoredTensor>([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]),
    { k: 'v' },
  );
  const json = '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  t.is(json.length, 79);
  const expected = [80, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from(json + ' '), 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40];
  t.deepEqual(Array.from(bytes), expected);

  const bytes2 = serializeSafetensors({ x: { dtype: 'I64', shape: [1], data: new BigInt64Array([-2n]) } });
  const json2 = '{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}';
  t.is(json2.length, 54);
  const padded = json2 + '  ';
  t.deepEqual(Array.from(bytes2), [56, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from(padded), 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
});

test('reads a hand-built file with unaligned data, F16, BF16 and header padding', (t) => {
  // Header of odd length: the data section starts at an odd address.
  const header =
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"h":{"dtype":"F16","shape":[3,2],"data_offsets":[8,20]},' +
    '"b":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]},' +
    '"d":{"dtype":"F64","shape":[1],"data_offsets":[24,32]},"__metadata__":{"m":"1"}} ';
  const data: number[] = [...f32Bytes([0.5, -3])];
  for (const h of [0x3c00, 0xc000, 0x7c00, 0x0001, 0x3555, 0x8000]) data.push(h & 0xff, h >> 8);
  for (const h of [0x3f80, 0xc040]) data.push(h & 0xff, h >> 8);
  data.push(...new Uint8Array(new Float64Array([-0.125]).buffer));
  const bytes = build(header, data);
  t.is((8 + header.length) % 2, 1, 'data starts unaligned');
  const { tensors, metadata } = parseSafetensors(bytes);
  t.deepEqual(metadata, { m: '1' });
  t.deepEqual(Array.from(tensors.get('a')!.data as Float32Array), [0.5, -3]);
  const h = tensors.get('h')!;
  t.is(h.dtype, 'F32');
  t.deepEqual(h.shape, [3, 2]);
  const hv = Array.from(h.data as Float32Array);
  t.deepEqual(hv.slice(0, 4), [1, -2, Infinity, Math.fround(2 ** -24)]);
  t.true(Math.abs(hv[4] - 1 / 3) < 1e-3);
  t.true(Object.is(hv[5], -0));
  t.deepEqual(Array.from(tensors.get('b')!.data as Float32Array), [1, -3]);
  t.deepEqual(Array.from(tensors.get('d')!.data as Float64Array), [-0.125]);
  t.true(h.data instanceof Float32Array);
});

test('F16 NaN and subnormals', (t) => {
  const { tensors } = parseSafetensors(build('{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}', [0x00, 0x7e, 0xff, 0x03, 0x00, 0x04]));
  const v = tensors.get('h')!.data as Float32Array;
  t.true(Number.isNaN(v[0]));
  t.is(v[1], 1023 * 2 ** -24);
  t.is(v[2], 2 ** -14);
});

test('file and header structure errors', (t) => {
  rejects(t, new Uint8Array(0), /0 bytes, shorter than the 8-byte header length/);
  rejects(t, new Uint8Array(7), /7 bytes, shorter than the 8-byte header length/);
  rejects(t, build('{}', [], 3), /header length 3 reaches beyond the end of the file \(10 bytes\)/);
  rejects(t, build('{}', [], 2n ** 63n), /header length 9223372036854775808 is absurd/);
  rejects(t, build('{}', [], 100_000_001), /is absurd/);
  rejects(t, build('{"a": '), /header is not valid JSON/);
  rejects(t, build(''), /header is not valid JSON/);
  const notUtf8 = build('{"\u00ff":1}');
  notUtf8[10] = 0xff;
  notUtf8[11] = 0xfe;
  rejects(t, notUtf8, /header is not valid UTF-8/);
  rejects(t, build('[1,2]'), /header must be a JSON object, got an array/);
  rejects(t, build('null'), /header must be a JSON object, got null/);
  rejects(t, build('42'), /header must be a JSON object, got 42/);
  // An empty header object with no data is a valid (empty) file.
  t.is(parseSafetensors(build('{}        ')).tensors.size, 0);
});

test('entry errors', (t) => {
  const entry = (e: string, data: number[] = [0, 0, 0, 0]) => build(`{"t":${e}}`, data);
  rejects(t, entry('[1]'), /tensor 't': entry must be an object/);
  rejects(t, entry('{"shape":[1],"data_offsets":[0,4]}'), /tensor 't': entry is missing 'dtype'/);
  rejects(t, entry('{"dtype":"F32","data_offsets":[0,4]}'), /tensor 't': entry is missing 'shape'/);
  rejects(t, entry('{"dtype":"F32","shape":[1]}'), /tensor 't': entry is missing 'data_offsets'/);
  rejects(t, entry('{"dtype":7,"shape":[1],"data_offsets":[0,4]}'), /dtype must be a string/);
  rejects(t, entry('{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}'), /tensor 't': unsupported dtype "Q4" \(supported: .*F32/);
  rejects(t, entry('{"dtype":"I16","shape":[2],"data_offsets":[0,4]}'), /unsupported dtype "I16"/);
  rejects(t, entry('{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}'), /tensor 't': invalid shape \[-1\]: dims must be non-negative integers/);
  rejects(t, entry('{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}'), /invalid shape \[1.5\]/);
  rejects(t, entry('{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}'), /invalid shape/);
  rejects(t, entry('{"dtype":"F32","shape":3,"data_offsets":[0,4]}'), /shape must be an array/);
  rejects(t, entry('{"dtype":"F32","shape":[2],"data_offsets":[0,4]}'), /tensor 't': byte length 4 does not match shape \[2\] of F32 \(8 bytes\)/);
  rejects(t, entry('{"dtype":"F64","shape":[1],"data_offsets":[0,4]}'), /byte length 4 does not match shape \[1\] of F64 \(8 bytes\)/);
  rejects(t, entry('{"dtype":"F32","shape":[1],"data_offsets":[0,8]}'), /data_offsets \[0, 8\] out of range: the byte buffer holds 4 bytes/);
  rejects(t, entry('{"dtype":"F32","shape":[1],"data_offsets":[4,0]}'), /data_offsets \[4, 0\] end before they begin/);
  rejects(t, entry('{"dtype":"F32","shape":[1],"data_offsets":[0]}'), /data_offsets must be two non-negative integers/);
  rejects(t, entry('{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}'), /data_offsets must be two non-negative integers/);
  rejects(t, entry('{"dtype":"F32","shape":[1],"data_offsets":"0,4"}'), /data_offsets must be two non-negative integers/);
  rejects(t, entry('{"dtype":"F32","shape":[1e300,1e300],"data_offsets":[0,4]}'), /invalid shape|too many elements/);
});

test('layout errors: overlap, gap, trailing bytes', (t) => {
  const e = (name: string, b: number, en: number) => `"${name}":{"dtype":"U8","shape":[${en - b}],"data_offsets":[${b},${en}]}`;
  rejects(t, build(`{${e('a', 0, 4)},${e('b', 2, 6)}}`, [1, 2, 3, 4, 5, 6]), /tensor 'b' \(bytes 2\.\.6\) overlaps tensor 'a' \(bytes 0\.\.4\)/);
  rejects(t, build(`{${e('a', 0, 4)},${e('b', 0, 4)}}`, [1, 2, 3, 4]), /overlaps/);
  rejects(t, build(`{${e('a', 0, 2)},${e('b', 4, 6)}}`, [1, 2, 3, 4, 5, 6]), /gap in the byte buffer: bytes 2\.\.4 belong to no tensor/);
  rejects(t, build(`{${e('a', 2, 4)}}`, [1, 2, 3, 4]), /gap in the byte buffer: bytes 0\.\.2/);
  rejects(t, build(`{${e('a', 0, 2)}}`, [1, 2, 3]), /1 trailing bytes \(2\.\.3\) that belong to no tensor/);
  rejects(t, build('{}', [1]), /1 trailing bytes/);
  // Out-of-order offsets and zero-size tensors anywhere are fine.
  const ok = parseSafetensors(build(`{${e('b', 2, 4)},${e('z', 2, 2)},${e('a', 0, 2)},${e('y', 4, 4)}}`, [1, 2, 3, 4]));
  t.deepEqual([...ok.tensors.keys()], ['b', 'z', 'a', 'y']);
  t.deepEqual(Array.from(ok.tensors.get('b')!.data as Uint8Array), [3, 4]);
  t.deepEqual(Array.from(ok.tensors.get('a')!.data as Uint8Array), [1, 2]);
});

test('metadata and duplicate-name errors', (t) => {
  const a = '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}';
  rejects(t, build(`{${a},"__metadata__":{"k":1}}`, [1]), /__metadata__ value of 'k' must be a string, got 1/);
  rejects(t, build(`{${a},"__metadata__":["x"]}`, [1]), /__metadata__ must be an object of strings/);
  rejects(t, build(`{"__metadata__":"x"}`), /__metadata__ must be an object of strings/);
  t.deepEqual(parseSafetensors(build(`{${a},"__metadata__":null}`, [1])).metadata, {});
  rejects(t, build(`{${a},${a}}`, [1]), /header names tensor 'a' twice/);
  rejects(t, build(`{"__metadata__":{},"__metadata__":{}}`), /header names __metadata__ twice/);
  // Keys inside nested objects and escaped names do not confuse the duplicate scan.
  const nested = `{"__metadata__":{"a":"{\\"a\\":1}","x":"y"},"a\\"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`;
  const ok = parseSafetensors(build(nested, [1, 2]));
  t.deepEqual([...ok.tensors.keys()], ['a"b', 'a']);
  t.deepEqual(ok.metadata, { a: '{"a":1}', x: 'y' });
  rejects(t, build(`{"a\\u0062":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"ab":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, [1, 2]), /tensor 'ab' twice/);
});

test('every truncation of a valid file is rejected', (t) => {
  const bytes = serializeSafetensors(allDtypes(), { k: 'v' });
  for (let len = 0; len < bytes.length; len++) {
    const err = t.throws(() => parseSafetensors(bytes.subarray(0, len), 'cut.safetensors'), { instanceOf: TegnasError }, `length ${len}`);
    t.true(err!.message.startsWith('cut.safetensors: '));
  }
  // A subarray at an odd offset of a bigger buffer parses like the original.
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  t.is(parseSafetensors(shifted.subarray(3)).tensors.size, allDtypes().size);
});

test('serialize rejects invalid tensors and metadata', (t) => {
  const bad = (tensors: unknown, pattern: RegExp, metadata?: unknown) => {
    const err = t.throws(() => serializeSafetensors(tensors as Map<string, StoredTensor>, metadata as Record<string, string>), { instanceOf: TegnasError });
    t.is(err?.code, 'E_SAFETENSORS');
    t.regex(err!.message, pattern);
  };
  bad({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, /'__metadata__' is reserved/);
  bad({ a: { dtype: 'F16', shape: [1], data: new Float32Array(1) } }, /tensor 'a': unsupported dtype "F16"/);
  bad({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }, /tensor 'a': dtype F32 needs its data as a Float32Array/);
  bad({ a: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }, /data holds 3 values, shape \[2,2\] needs 4/);
  bad({ a: { dtype: 'F32', shape: [-2], data: new Float32Array(2) } }, /invalid shape/);
  bad({ a: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, /metadata value of 'k' must be a string/, { k: 3 });
  bad(null, /tensors must be a Map or an object/);
});

test('file read and write, atomically, with errors naming the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-st-'));
  try {
    const path = join(dir, 'w.safetensors');
    writeSafetensors(path, allDtypes(), { a: 'b' });
    t.deepEqual(readdirSync(dir), ['w.safetensors'], 'no temporary file left');
    const back = readSafetensors(path);
    t.deepEqual(back.metadata, { a: 'b' });
    t.deepEqual(Array.from(back.tensors.get('i64')!.data as BigInt64Array), [-(2n ** 63n), 2n ** 63n - 1n]);
    t.deepEqual(readFileSync(path), Buffer.from(serializeSafetensors(allDtypes(), { a: 'b' })));
    // Overwrite an existing file.
    writeSafetensors(path, { x: { dtype: 'U8', shape: [1], data: new Uint8Array([3]) } });
    t.deepEqual([...readSafetensors(path).tensors.keys()], ['x']);

    const missing = join(dir, 'nope.safetensors');
    const e1 = t.throws(() => readSafetensors(missing), { instanceOf: TegnasError });
    t.is(e1?.code, 'E_SAFETENSORS');
    t.true(e1!.message.startsWith(`${missing}: cannot read the file`));

    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, 'hello');
    t.throws(() => readSafetensors(corrupt), { instanceOf: TegnasError, message: new RegExp(`^${corrupt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file is 5 bytes`) });

    const e2 = t.throws(() => writeSafetensors(join(dir, 'no-such-dir', 'x.safetensors'), {}), { instanceOf: TegnasError });
    t.regex(e2!.message, /cannot write the file/);
    const e3 = t.throws(() => writeSafetensors(join(dir, 'bad.safetensors'), { a: { dtype: 'F32', shape: [1], data: new Float32Array(2) } }), { instanceOf: TegnasError });
    t.regex(e3!.message, /bad\.safetensors: cannot write: tensor 'a'/);
    t.deepEqual(readdirSync(dir).sort(), ['corrupt.safetensors', 'w.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
