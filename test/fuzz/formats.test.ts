/**
 * Property-based tests of the file readers: safetensors (src/weights/safetensors.ts), CIFAR binary
 * batches (src/data/cifar.ts) and the safe pickle reader (src/data/pickle.ts). Valid files round-trip;
 * random, truncated and corrupted bytes are either valid or a clear TegnasError (E_SAFETENSORS, E_DATA);
 * nothing crashes, hangs or blows the stack.
 */
import test from 'ava';
import fc from 'fast-check';
import { parseCifar10, parseCifar100, normalise } from '../../src/data/cifar.js';
import { NdArray, type NdDtype, PyStr8, parsePickle } from '../../src/data/pickle.js';
import { type StoredDtype, type StoredTensor, parseSafetensors, serializeSafetensors } from '../../src/weights/safetensors.js';
import { acceptOrReject, anyValue, assertClearError, check, within } from './fuzz.js';
import { Pickler, type PyValue } from './pickler.js';

// ---- byte-level corruption -------------------------------------------------------------------------

/** Flips, overwrites, inserts, deletes, truncates or duplicates bytes of a valid file. */
function corrupted(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({ kind: fc.integer({ min: 0, max: 5 }), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }), byte: fc.integer({ min: 0, max: 255 }) });
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([bytes, edits]) => {
    let b = Array.from(bytes);
    for (const e of edits) {
      const at = b.length ? e.at % b.length : 0;
      if (e.kind === 0) b[at] ^= 1 << (e.byte & 7);
      else if (e.kind === 1) b[at] = e.byte;
      else if (e.kind === 2) b.splice(at, 0, ...new Array<number>(e.len).fill(e.byte));
      else if (e.kind === 3) b.splice(at, e.len);
      else if (e.kind === 4) b = b.slice(0, at);
      else b.splice(at, 0, ...b.slice(at, at + e.len));
    }
    return new Uint8Array(b);
  });
}

const randomBytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 4096 }));

// ---- safetensors -----------------------------------------------------------------------------------

const STORED_DTYPES: StoredDtype[] = ['F32', 'F64', 'I32', 'I64', 'U8'];
const SIZE: Record<StoredDtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1 };
const CTOR = { F32: Float32Array, F64: Float64Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array };

const tensor: fc.Arbitrary<StoredTensor> = fc
  .tuple(fc.constantFrom(...STORED_DTYPES), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), fc.uint8Array({ maxLength: 8 * 125 }))
  .map(([dtype, shape, noise]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(n * SIZE[dtype]);
    for (let i = 0; i < bytes.length; i++) bytes[i] = noise.length ? noise[i % noise.length] ^ (i * 31) : i;
    return { dtype, shape, data: new CTOR[dtype](bytes.buffer) };
  });
const tensorName = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '1', '10', '__proto__', 'constructor', 'a.weight', 'ü€😀', ''));
const tensors = fc.uniqueArray(fc.tuple(tensorName, tensor), { selector: ([n]) => n, maxLength: 6 }).map((l) => new Map(l.filter(([n]) => n !== '__metadata__' && n.match(/\p{Cs}/u) === null)));
const metadata = fc.option(
  fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'toString', '')), fc.string({ maxLength: 20 })), { selector: ([k]) => k, maxLength: 4 }).map((l) =>
    Object.fromEntries(l.filter(([k, v]) => k.match(/\p{Cs}/u) === null && v.match(/\p{Cs}/u) === null)),
  ),
  { nil: undefined },
);

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

test('safetensors: parse(serialize(tensors, metadata)) gives them back exactly, and serializing again gives the same bytes', (t) => {
  check(
    t,
    fc.property(tensors, metadata, (ts, meta) => {
      const bytes = serializeSafetensors(ts, meta);
      const back = parseSafetensors(bytes);
      if ([...back.tensors.keys()].join('\u0000') !== [...ts.keys()].join('\u0000')) throw new Error(`names/order: ${[...back.tensors.keys()]}`);
      for (const [name, a] of ts) {
        const b = back.tensors.get(name)!;
        if (b.dtype !== a.dtype || b.shape.join() !== a.shape.join() || !sameBytes(a.data, b.data) || !(b.data instanceof CTOR[a.dtype]))
          throw new Error(`tensor ${JSON.stringify(name)} differs`);
      }
      const wantMeta = meta ?? {};
      if (JSON.stringify(Object.entries(back.metadata)) !== JSON.stringify(Object.entries(wantMeta)))
        throw new Error(`metadata ${JSON.stringify(Object.entries(back.metadata))} != ${JSON.stringify(Object.entries(wantMeta))}`);
      if (!sameBytes(serializeSafetensors(back.tensors, meta === undefined ? undefined : back.metadata), bytes)) throw new Error('serialize(parse(x)) != x');
    }),
  );
});

test('safetensors: random and corrupted files are valid or a clear E_SAFETENSORS error', (t) => {
  const valid = fc.tuple(tensors, metadata).map(([ts, m]) => serializeSafetensors(ts, m));
  check(
    t,
    fc.property(fc.oneof(randomBytes, corrupted(valid)), (bytes) => {
      within(500, 'parseSafetensors', () => acceptOrReject(() => parseSafetensors(bytes, 'fuzz.safetensors'), ['E_SAFETENSORS']));
    }),
  );
});

/** A safetensors file around a header text (padded), with `data` bytes after it. */
function withHeader(header: string, data = 0): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

test('safetensors: headers with any JSON in any field are valid or a clear E_SAFETENSORS error', (t) => {
  const field = fc.oneof(fc.jsonValue(), fc.constantFrom('"F32"', '"F16"', '"BF16"', '[1,2]', '[0,8]', '[-1,4]', '[1e300]', '[9007199254740993]', '[2,1]', 'null'));
  const entry = fc.record({ dtype: field, shape: field, data_offsets: field, extra: fc.option(field, { nil: undefined }) }).map((e) => {
    const s = (v: unknown) => (typeof v === 'string' && /^[[\d"n-]/.test(v) ? v : JSON.stringify(v));
    return `{"dtype":${s(e.dtype)},"shape":${s(e.shape)},"data_offsets":${s(e.data_offsets)}${e.extra === undefined ? '' : `,"x":${s(e.extra)}`}}`;
  });
  const header = fc.tuple(fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.oneof(entry, fc.jsonValue().map((v) => JSON.stringify(v)))), { maxLength: 4 }), fc.option(fc.jsonValue(), { nil: undefined })).map(
    ([entries, meta]) => `{${[...entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`), ...(meta === undefined ? [] : [`"__metadata__":${JSON.stringify(meta)}`])].join(',')}}`,
  );
  check(
    t,
    fc.property(header, fc.nat({ max: 64 }), (h, data) => {
      within(500, 'parseSafetensors', () => acceptOrReject(() => parseSafetensors(withHeader(h, data), 'h.safetensors'), ['E_SAFETENSORS']));
    }),
  );
});

test('safetensors regressions: a deeply nested header value and a __proto__ metadata key', (t) => {
  const nested = `${'['.repeat(20000)}${']'.repeat(20000)}`;
  assertClearError(t.throws(() => parseSafetensors(withHeader(`{"x":${nested}}`))), ['E_SAFETENSORS'], ["tensor 'x'"]);
  assertClearError(t.throws(() => parseSafetensors(withHeader(`{"__metadata__":${nested}}`))), ['E_SAFETENSORS'], ['__metadata__']);
  assertClearError(t.throws(() => parseSafetensors(withHeader(`{"x":{"dtype":"F32","shape":${nested},"data_offsets":[0,0]}}`))), ['E_SAFETENSORS'], ['shape']);
  const meta = JSON.parse('{"__proto__":"p","a":"b"}') as Record<string, string>;
  const back = parseSafetensors(serializeSafetensors(new Map(), meta)).metadata;
  t.deepEqual(Object.entries(back), [['__proto__', 'p'], ['a', 'b']]);
  t.is(Object.getPrototypeOf(back), Object.prototype);
});

// ---- CIFAR -----------------------------------------------------------------------------------------

const IMAGE = 3072;

test('CIFAR: records round-trip (labels and pixels), whatever their number', (t) => {
  check(
    t,
    fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat({ max: 99 }), fc.nat({ max: 19 }), fc.nat()), { minLength: 1, maxLength: 6 }), (hundred, recs) => {
      const record = hundred ? 2 + IMAGE : 1 + IMAGE;
      const bytes = new Uint8Array(recs.length * record);
      recs.forEach(([label, coarse, seed], i) => {
        const at = i * record;
        if (hundred) bytes.set([coarse, label], at);
        else bytes[at] = label % 10;
        for (let k = 0; k < IMAGE; k++) bytes[at + record - IMAGE + k] = (seed + k * 7) & 0xff;
      });
      const set = hundred ? parseCifar100(bytes) : parseCifar10(bytes);
      if (set.count !== recs.length || set.classes !== (hundred ? 100 : 10)) throw new Error(`count ${set.count}, classes ${set.classes}`);
      recs.forEach(([label], i) => {
        if (set.labels[i] !== (hundred ? label : label % 10)) throw new Error(`label ${i}`);
        if (!sameBytes(set.pixels.subarray(i * IMAGE, (i + 1) * IMAGE), bytes.subarray(i * record + record - IMAGE, (i + 1) * record))) throw new Error(`pixels ${i}`);
      });
      const x = normalise(set, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
      if (x.length !== recs.length * IMAGE || !x.every(Number.isFinite)) throw new Error('normalise');
    }),
    1,
  );
});

test('CIFAR: random and corrupted batches are valid or a clear E_DATA error naming the file', (t) => {
  const valid = fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 3 }), fc.nat()).map(([hundred, n, s]) => {
    const record = hundred ? 2 + IMAGE : 1 + IMAGE;
    const b = new Uint8Array(n * record).map((_, i) => (i * 13 + s) & 0xff);
    for (let i = 0; i < n; i++) {
      if (hundred) b.set([s % 20, s % 100], i * record);
      else b[i * record] = s % 10;
    }
    return b;
  });
  check(
    t,
    fc.property(fc.oneof(randomBytes, corrupted(valid)), (bytes) => {
      for (const parse of [parseCifar10, parseCifar100]) {
        const r = acceptOrReject(() => parse(bytes, 'batch.bin'), ['E_DATA']);
        if (!r.ok && !r.error.message.includes('batch.bin')) throw new Error(`the message does not name the file: ${r.error.message}`);
      }
    }),
    1,
  );
});

test('CIFAR: normalise rejects a bad range with E_DATA, and any arguments give an image range or E_DATA', (t) => {
  const set = parseCifar10(new Uint8Array(2 * (1 + IMAGE)));
  check(
    t,
    fc.property(anyValue, anyValue, (start, count) => {
      acceptOrReject(() => normalise(set, [0, 0, 0], [1, 1, 1], start as number, count as number), ['E_DATA']);
    }),
  );
});

// ---- pickle ----------------------------------------------------------------------------------------

const ND_DTYPES: [NdDtype, number, new (b: ArrayBuffer) => NdArray['data']][] = [
  ['bool', 1, Uint8Array], ['uint8', 1, Uint8Array], ['int8', 1, Int8Array], ['uint16', 2, Uint16Array], ['int16', 2, Int16Array], ['uint32', 4, Uint32Array],
  ['int32', 4, Int32Array], ['uint64', 8, BigUint64Array], ['int64', 8, BigInt64Array], ['float32', 4, Float32Array], ['float64', 8, Float64Array],
];

const ndarray: fc.Arbitrary<NdArray> = fc
  .tuple(fc.constantFrom(...ND_DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), fc.nat())
  .map(([[dtype, size, ctor], shape, seed]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(n * size).map((_, i) => (seed + i * 101) & 0xff);
    return new NdArray(dtype, shape, new ctor(bytes.buffer));
  });

const key = fc.oneof(fc.string({ maxLength: 8 }).filter((s) => s.match(/\p{Cs}/u) === null), fc.integer({ min: -1000, max: 1000 }));
const pyValue: fc.Arbitrary<PyValue> = fc.letrec<{ v: PyValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
    fc.double(),
    fc.string({ maxLength: 12 }).filter((s) => s.match(/\p{Cs}/u) === null),
    fc.uint8Array({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }).map((b) => new PyStr8(b)),
    ndarray,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(tie('v'), { maxLength: 4 }).map((tuple) => ({ tuple })),
    fc.uniqueArray(fc.tuple(key, tie('v')), { selector: ([k]) => k, maxLength: 4 }).map((l) => new Map(l)),
  ),
})).v;

/** What parsePickle gives for a written value. */
function expected(v: PyValue): unknown {
  if (typeof v === 'bigint') return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(expected);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, expected(x)]));
  if (v !== null && typeof v === 'object' && 'tuple' in v) return Object.freeze(v.tuple.map(expected));
  return v;
}

function same(a: unknown, b: unknown, path = '$'): void {
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  if (a instanceof NdArray || b instanceof NdArray) {
    if (!(a instanceof NdArray && b instanceof NdArray)) fail('numpy array vs other');
    const x = a as NdArray, y = b as NdArray;
    if (x.dtype !== y.dtype || x.shape.join() !== y.shape.join() || !sameBytes(x.data, y.data) || x.data.constructor !== y.data.constructor) fail(`numpy array ${x.dtype}${x.shape} vs ${y.dtype}${y.shape}`);
    return;
  }
  if (a instanceof PyStr8 || b instanceof PyStr8) {
    if (!(a instanceof PyStr8 && b instanceof PyStr8 && sameBytes(a.bytes, b.bytes))) fail('str8');
    return;
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b))) fail('bytes');
    return;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) fail('array length');
    if (Object.isFrozen(a) !== Object.isFrozen(b)) fail('tuple vs list');
    (a as unknown[]).forEach((x, i) => same(x, (b as unknown[])[i], `${path}[${i}]`));
    return;
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) fail('dict size');
    const ka = [...(a as Map<unknown, unknown>).keys()], kb = [...(b as Map<unknown, unknown>).keys()];
    ka.forEach((k, i) => {
      if (!Object.is(k, kb[i])) fail(`key ${String(k)} vs ${String(kb[i])}`);
      same((a as Map<unknown, unknown>).get(k), (b as Map<unknown, unknown>).get(k), `${path}.${String(k)}`);
    });
    return;
  }
  if (!Object.is(a, b)) fail(`${String(a)} vs ${String(b)}`);
}

const protocol = fc.constantFrom(2 as const, 3 as const, 4 as const, 5 as const);

/** A pickle of a random value in a random protocol with random (valid) opcode choices. */
const pickled = fc.tuple(pyValue, protocol, fc.infiniteStream(fc.nat())).map(([v, p, choices]) => {
  const it = choices[Symbol.iterator]();
  return { value: v, bytes: Pickler.dumps(v, p, (n) => (it.next().value as number) % n) };
});

test('pickle: every value round-trips through the opcodes CPython and numpy write (protocols 2-5)', (t) => {
  check(
    t,
    fc.property(pickled, ({ value, bytes }) => {
      same(parsePickle(bytes, 'v.pkl'), expected(value));
    }),
  );
});

test('pickle: random and corrupted pickles are values or a clear E_DATA error, quickly', (t) => {
  check(
    t,
    fc.property(fc.oneof(randomBytes, corrupted(pickled.map((p) => p.bytes))), (bytes) => {
      within(500, 'parsePickle', () => acceptOrReject(() => parsePickle(bytes, 'fuzz.pkl'), ['E_DATA']));
    }),
  );
});

/** Protocol 4 ops: `body` bytes between PROTO 4 and STOP. */
function p4(body: number[]): Uint8Array {
  return Uint8Array.from([0x80, 4].concat(body, [0x2e]));
}

test('pickle regressions: shared tuples are resolved once, deep nesting is an E_DATA error', (t) => {
  // t0 = (None,); t(k+1) = (t(k), t(k)) through the memo: 2^60 leaves if every reference were expanded.
  const dag: number[] = [0x4e, 0x85, 0x94];
  for (let k = 0; k < 60; k++) dag.push(0x68, k, 0x68, k, 0x86, 0x94);
  const v = within(1000, 'parsePickle', () => parsePickle(p4(dag))) as unknown[];
  t.is(v.length, 2);
  t.is(v[0], v[1], 'a shared tuple stays one object');
  // 100,000 nested tuples would overflow the stack when resolved.
  const nested = [0x4e].concat(new Array<number>(100000).fill(0x85));
  assertClearError(t.throws(() => parsePickle(p4(nested), 'deep.pkl')), ['E_DATA'], ['deep.pkl', 'nest']);
  // Lists and dicts nested as deep are built without recursion.
  const lists = new Array<number>(100000).fill(0x5d).concat(new Array<number>(99999).fill(0x61));
  const l = parsePickle(p4(lists)) as unknown[];
  t.true(Array.isArray(l) && Array.isArray(l[0]));
});
