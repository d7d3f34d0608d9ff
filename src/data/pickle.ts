/**
 * A small, safe reader for Python pickles (protocols 2 to 5, in-band data only) of the kind numpy data
 * files use: dicts, lists, tuples, ints, floats, strings, bytes and numpy arrays.
 *
 * Nothing in a pickle is ever executed: GLOBAL / STACK_GLOBAL only resolve to a fixed list of known
 * names (numpy's array and dtype reconstruction, `_codecs.encode` as Python 3 writes bytes under
 * protocol 2), and REDUCE / NEWOBJ / BUILD only apply those, rebuilt here in TypeScript. Any other
 * global or opcode is an E_DATA error that names it.
 *
 * Python values map to: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float ->
 * number, str -> string, bytes -> Uint8Array, Python 2 `str` (BINSTRING) -> {@link PyStr8}, list and
 * tuple -> array (tuples frozen), dict -> Map, numpy array -> {@link NdArray}, numpy scalar -> number or
 * bigint.
 */
import { TegnasError, showValue } from '../errors.js';

/** A Python 2 `str`: raw bytes; read as latin-1 text where text is expected (as Python 3's encoding='latin1'). */
export class PyStr8 {
  constructor(readonly bytes: Uint8Array) {}

  toString(): string {
    return latin1(this.bytes);
  }
}

export type NdTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export type NdDtype = 'bool' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'int64' | 'uint64' | 'float32' | 'float64';

/** A numpy array: `data` holds the elements in C (row-major) order, whatever order the pickle had. */
export class NdArray {
  constructor(
    readonly dtype: NdDtype,
    readonly shape: readonly number[],
    readonly data: NdTypedArray,
  ) {}

  get size(): number {
    return this.data.length;
  }
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyStr8
  | NdArray
  | PickleValue[]
  | Map<PickleKey, PickleValue>;

export type PickleKey = null | boolean | number | bigint | string;

// ---- internal objects that only live on the stack while loading ----

class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get full(): string {
    return `${this.module}.${this.name}`;
  }
}

class DType {
  byteorder = '=';

  constructor(
    readonly dtype: NdDtype,
    readonly itemsize: number,
  ) {}
}

/** An ndarray made by _reconstruct, waiting for BUILD to give it its state. */
class PendingArray {
  built: NdArray | undefined;
}

class Mark {}
const MARK = new Mark();

type Item = PickleValue | Global | DType | PendingArray | Mark;

const KNOWN_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
  '__builtin__.bytes',
  'builtins.bytes',
  '__builtin__.bytearray',
  'builtins.bytearray',
]);

const DTYPES: Record<string, { dtype: NdDtype; itemsize: number }> = {
  b1: { dtype: 'bool', itemsize: 1 },
  u1: { dtype: 'uint8', itemsize: 1 },
  i1: { dtype: 'int8', itemsize: 1 },
  u2: { dtype: 'uint16', itemsize: 2 },
  i2: { dtype: 'int16', itemsize: 2 },
  u4: { dtype: 'uint32', itemsize: 4 },
  i4: { dtype: 'int32', itemsize: 4 },
  u8: { dtype: 'uint64', itemsize: 8 },
  i8: { dtype: 'int64', itemsize: 8 },
  f4: { dtype: 'float32', itemsize: 4 },
  f8: { dtype: 'float64', itemsize: 8 },
};

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD', 0x28: 'MARK',
  0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x29: 'EMPTY_TUPLE', 0x7d: 'EMPTY_DICT',
  0x5d: 'EMPTY_LIST', 0x73: 'SETITEM', 0x75: 'SETITEMS', 0x61: 'APPEND', 0x65: 'APPENDS', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8',
  0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x94: 'MEMOIZE', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE',
  0x47: 'BINFLOAT', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP',
  // known but unsupported, named in errors
  0x49: 'INT', 0x4c: 'LONG', 0x53: 'STRING', 0x56: 'UNICODE', 0x46: 'FLOAT', 0x70: 'PUT', 0x67: 'GET', 0x64: 'DICT',
  0x6c: 'LIST', 0x69: 'INST', 0x6f: 'OBJ', 0x51: 'BINPERSID', 0x50: 'PERSID', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deepest tuple nesting read (numpy files nest 3 or 4 deep). */
const MAX_TUPLE_NESTING = 1000;

/**
 * Loads one pickle from `bytes`. `source` names the data in errors. Throws E_DATA for anything it does
 * not recognise (opcode, global, dtype) and for truncated or inconsistent data.
 */
export function parsePickle(input: Uint8Array, source = '<pickle>'): PickleValue {
  // a plain Uint8Array view (not a Buffer), so that bytes values come back as plain views too
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const fail = (msg: string, at: number): never => {
    throw new TegnasError('E_DATA', `${source}: ${msg} (at byte ${at} of the pickle)`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let opAt = 0;
  let op = 0;
  const stack: Item[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Item>();
  // Tuples keep raw stack items until they become data (see value()). Each is resolved once, so a tuple
  // shared through the memo costs nothing more however often it is referenced (without the cache, 60
  // levels of (t, t) would expand to 2^60 leaves), and their nesting is capped so resolving them cannot
  // overflow the stack.
  const resolved = new WeakMap<readonly Item[], PickleValue[]>();
  const tupleDepth = new WeakMap<readonly Item[], number>();
  const tuple = (items: Item[]): PickleValue[] => {
    let d = 1;
    for (const x of items) if (Array.isArray(x) && tupleDepth.has(x)) d = Math.max(d, 1 + (tupleDepth.get(x) as number));
    if (d > MAX_TUPLE_NESTING) fail(`tuples nest more than ${MAX_TUPLE_NESTING} deep, which data files never do (corrupt or hostile pickle)`, opAt);
    const t = Object.freeze(items);
    tupleDepth.set(t, d);
    return t as PickleValue[];
  };

  const need = (k: number): void => {
    if (k < 0 || pos + k > n) fail(`truncated: ${OPNAMES[op] ?? 'opcode'} needs ${k} more bytes but ${n - pos} remain`, opAt);
  };
  const u8 = (): number => (need(1), bytes[pos++]);
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${OPNAMES[op]} length ${v} is too large`, opAt);
    return Number(v);
  };
  const take = (k: number): Uint8Array => {
    need(k);
    const out = bytes.subarray(pos, pos + k);
    pos += k;
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated: ${OPNAMES[op]} argument has no end of line`, opAt);
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (raw: Uint8Array): string => {
    try {
      return utf8.decode(raw);
    } catch {
      return fail(`${OPNAMES[op]} holds invalid UTF-8`, opAt);
    }
  };
  const pop = (): Item => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]))
      fail(`${OPNAMES[op]} on an empty stack (corrupt pickle)`, opAt);
    return stack.pop() as Item;
  };
  const top = (): Item => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]))
      fail(`${OPNAMES[op]} on an empty stack (corrupt pickle)`, opAt);
    return stack[stack.length - 1];
  };
  const popMark = (): Item[] => {
    const m = marks.pop();
    if (m === undefined) fail(`${OPNAMES[op]} without a MARK (corrupt pickle)`, opAt);
    return stack.splice(m as number);
  };
  const value = (it: Item, what: string): PickleValue => {
    if (it instanceof Global) return fail(`${what}: unexpected reference to ${it.full}`, opAt);
    if (it instanceof DType) return fail(`${what}: unexpected bare numpy dtype`, opAt);
    if (it instanceof Mark) return fail(`${what}: unexpected MARK`, opAt);
    if (it instanceof PendingArray) {
      if (it.built === undefined) return fail(`${what}: numpy array without state (no BUILD)`, opAt);
      return it.built;
    }
    // tuples keep raw stack items (they also carry call arguments): resolve them where they become data
    if (Array.isArray(it) && Object.isFrozen(it)) {
      let r = resolved.get(it);
      if (r === undefined) {
        r = Object.freeze((it as Item[]).map((x) => value(x, what))) as PickleValue[];
        resolved.set(it, r);
      }
      return r;
    }
    return it;
  };
  const key = (it: Item): PickleKey => {
    const v = value(it, 'dict key');
    if (v instanceof PyStr8) return v.toString();
    if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return v;
    return fail(`unsupported dict key type (${describe(v)})`, opAt);
  };
  const setItems = (dict: Item, items: Item[]): void => {
    if (!(dict instanceof Map)) fail(`${OPNAMES[op]} on a ${describe(dict)}, expected a dict`, opAt);
    if (items.length % 2 !== 0) fail(`${OPNAMES[op]} with an odd number of items (${items.length}); expected key, value pairs`, opAt);
    const d = dict as Map<PickleKey, PickleValue>;
    for (let i = 0; i < items.length; i += 2) d.set(key(items[i]), value(items[i + 1], 'dict value'));
  };
  const appendItems = (list: Item, items: Item[]): void => {
    if (!Array.isArray(list) || Object.isFrozen(list)) fail(`${OPNAMES[op]} on a ${describe(list)}, expected a list`, opAt);
    for (const it of items) (list as PickleValue[]).push(value(it, 'list item'));
  };
  const int = (v: bigint): number | bigint => (v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const long = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
    if (raw[raw.length - 1] & 0x80) v -= 1n << BigInt(8 * raw.length);
    return int(v);
  };
  const call = (fn: Item, argsItem: Item, how: string): Item => {
    if (!(fn instanceof Global)) return fail(`${how} of a ${describe(fn)}, only known numpy globals can be called`, opAt);
    if (!Array.isArray(argsItem)) return fail(`${how} of ${fn.full} with arguments that are not a tuple`, opAt);
    const args = argsItem as Item[];
    return applyGlobal(fn, args, how, (m) => fail(m, opAt));
  };

  for (;;) {
    if (pos >= n) fail('truncated: no STOP opcode at the end', pos);
    opAt = pos;
    op = bytes[pos++];
    switch (op) {
      case 0x80: {
        const proto = u8();
        if (proto < 2 || proto > 5) fail(`unsupported pickle protocol ${proto} (expected 2 to 5)`, opAt);
        break;
      }
      case 0x95: {
        const len = u64();
        if (len > n - pos) fail(`truncated: FRAME of ${len} bytes but ${n - pos} remain`, opAt);
        break;
      }
      case 0x63: {
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name, (m) => fail(m, opAt)));
        break;
      }
      case 0x93: {
        const name = value(pop(), 'STACK_GLOBAL name');
        const module = value(pop(), 'STACK_GLOBAL module');
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL expected two strings (module, name), got a ${describe(module)} and a ${describe(name)}`, opAt);
        stack.push(resolveGlobal(module as string, name as string, (m) => fail(m, opAt)));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: {
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size !== 0) fail('NEWOBJ_EX with keyword arguments is not supported', opAt);
        stack.push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: {
        const state = pop();
        const obj = top();
        build(obj, state, (m) => fail(m, opAt));
        break;
      }
      case 0x28:
        marks.push(stack.length);
        break;
      case 0x74:
        stack.push(tuple(popMark()));
        break;
      case 0x29:
        stack.push(tuple([]));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {
        const k = op - 0x84;
        const items: Item[] = [];
        for (let i = 0; i < k; i++) items.unshift(pop());
        stack.push(tuple(items));
        break;
      }
      case 0x7d:
        stack.push(new Map());
        break;
      case 0x5d:
        stack.push([]);
        break;
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x4a:
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b:
        stack.push(u8());
        break;
      case 0x4d:
        stack.push(u16());
        break;
      case 0x8a:
        stack.push(long(take(u8())));
        break;
      case 0x8b: {
        need(4);
        const len = view.getInt32(pos, true);
        pos += 4;
        if (len < 0) fail(`LONG4 with a negative length ${len}; expected a byte count >= 0`, opAt);
        stack.push(long(take(len)));
        break;
      }
      case 0x58:
        stack.push(text(take(u32())));
        break;
      case 0x8c:
        stack.push(text(take(u8())));
        break;
      case 0x8d:
        stack.push(text(take(u64())));
        break;
      case 0x42:
        stack.push(take(u32()));
        break;
      case 0x43:
        stack.push(take(u8()));
        break;
      case 0x8e:
      case 0x96:
        stack.push(take(u64()));
        break;
      case 0x54: {
        need(4);
        const len = view.getInt32(pos, true);
        pos += 4;
        if (len < 0) fail(`BINSTRING with a negative length ${len}; expected a byte count >= 0`, opAt);
        stack.push(new PyStr8(take(len)));
        break;
      }
      case 0x55:
        stack.push(new PyStr8(take(u8())));
        break;
      case 0x94:
        memo.set(memo.size, top());
        break;
      case 0x71:
        memo.set(u8(), top());
        break;
      case 0x72:
        memo.set(u32(), top());
        break;
      case 0x68:
      case 0x6a: {
        const idx = op === 0x68 ? u8() : u32();
        const it = memo.get(idx);
        if (it === undefined) fail(`${OPNAMES[op]} of memo entry ${idx}, which was never stored (corrupt pickle)`, opAt);
        stack.push(it as Item);
        break;
      }
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x47:
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x30:
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31:
        popMark();
        break;
      case 0x32:
        stack.push(top());
        break;
      case 0x2e: {
        const result = value(pop(), 'result');
        return result;
      }
      default: {
        const name = OPNAMES[op];
        fail(
          name === undefined
            ? `unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} (corrupt or not a pickle)`
            : `unsupported pickle opcode ${name} (0x${op.toString(16).padStart(2, '0')})`,
          opAt,
        );
      }
    }
  }
}

/** describe() for values that may be plain numbers or text: the value itself when it is short. */
function describeShort(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return showValue(v, 40);
  return `a ${describe(v)}`;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof Global) return v.full;
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyStr8) return 'str (Python 2)';
  if (v instanceof NdArray) return 'numpy array';
  if (v instanceof PendingArray) return 'numpy array';
  if (v instanceof DType) return 'numpy dtype';
  return typeof v;
}

function resolveGlobal(module: string, name: string, fail: (m: string) => never): Global {
  const g = new Global(module, name);
  if (!KNOWN_GLOBALS.has(g.full)) fail(`refusing unsupported global ${g.full} (only numpy arrays and plain data are read)`);
  return g;
}

function asText(v: Item): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof PyStr8) return v.toString();
  return undefined;
}

function asBytes(v: Item): Uint8Array | undefined {
  if (v instanceof PyStr8) return v.bytes;
  if (v instanceof Uint8Array) return v;
  return undefined;
}

function makeDType(spec: Item, fail: (m: string) => never): DType {
  if (spec instanceof DType) return spec;
  const s = asText(spec);
  if (s === undefined) fail(`numpy dtype from a ${describe(spec)}, expected a type string`);
  let code = s as string;
  let order = '=';
  if (code.length > 0 && '<>|='.includes(code[0])) {
    order = code[0];
    code = code.slice(1);
  }
  const aliases: Record<string, string> = { '?': 'b1', B: 'u1', b: 'i1', H: 'u2', h: 'i2', I: 'u4', i: 'i4', Q: 'u8', q: 'i8', f: 'f4', d: 'f8' };
  code = aliases[code] ?? code;
  const t = DTYPES[code];
  if (t === undefined) fail(`unsupported numpy dtype '${s}' (supported: bool, (u)int8..64, float32, float64)`);
  const d = new DType(t.dtype, t.itemsize);
  d.byteorder = order;
  return d;
}

function shapeOf(v: Item, fail: (m: string) => never): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    const k = typeof x === 'bigint' ? Number(x) : x;
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) fail(`invalid numpy shape entry ${describeShort(x)}; expected a non-negative integer`);
    return k as number;
  });
}

const BIG_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** A typed array of `count` elements of `dtype` from raw bytes (copied when unaligned or byte-swapped). */
function typedFrom(dtype: DType, raw: Uint8Array, count: number, fail: (m: string) => never): NdTypedArray {
  const size = dtype.itemsize;
  if (raw.length !== count * size)
    fail(`numpy ${dtype.dtype} array of ${count} elements needs ${count * size} bytes of data but has ${raw.length}`);
  let bytes = raw;
  const swap = size > 1 && (dtype.byteorder === '>' ? !BIG_ENDIAN_HOST : dtype.byteorder === '<' ? BIG_ENDIAN_HOST : false);
  if (swap) {
    bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += size) for (let j = 0; j < size; j++) bytes[i + j] = raw[i + size - 1 - j];
  } else if (size > 1 && bytes.byteOffset % size !== 0) {
    bytes = new Uint8Array(raw.length);
    bytes.set(raw);
  }
  const { buffer, byteOffset } = bytes;
  switch (dtype.dtype) {
    case 'bool':
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, count);
    case 'int8':
      return new Int8Array(buffer, byteOffset, count);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, count);
    case 'int16':
      return new Int16Array(buffer, byteOffset, count);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, count);
    case 'int32':
      return new Int32Array(buffer, byteOffset, count);
    case 'uint64':
      return new BigUint64Array(buffer, byteOffset, count);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, count);
    case 'float32':
      return new Float32Array(buffer, byteOffset, count);
    case 'float64':
      return new Float64Array(buffer, byteOffset, count);
  }
}

/** Column-major (Fortran) element order to row-major (C). */
function fortranToC(data: NdTypedArray, shape: readonly number[]): NdTypedArray {
  if (shape.length < 2) return data;
  const out = new (data.constructor as new (n: number) => NdTypedArray)(data.length);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  // strides of the Fortran layout
  const fstride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fstride[d] = s;
    s *= shape[d];
  }
  for (let c = 0; c < data.length; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fstride[d];
    (out as unknown as Record<number, number | bigint>)[c] = (data as unknown as Record<number, number | bigint>)[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function makeArray(dtype: DType, shape: number[], raw: Uint8Array, fortran: boolean, fail: (m: string) => never): NdArray {
  const count = shape.reduce((a, b) => a * b, 1);
  const data = typedFrom(dtype, raw, count, fail);
  return new NdArray(dtype.dtype, shape, fortran ? fortranToC(data, shape) : data);
}

function scalarValue(a: NdArray): number | bigint | boolean {
  const v = a.data[0];
  if (a.dtype === 'bool') return v !== 0;
  if (typeof v === 'bigint') return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  return v;
}

function applyGlobal(fn: Global, args: Item[], how: string, fail: (m: string) => never): Item {
  const name = fn.full.replace('numpy._core.', 'numpy.core.').replace('__builtin__.', 'builtins.');
  switch (name) {
    case 'numpy.core.multiarray._reconstruct': {
      const cls = args[0];
      if (!(cls instanceof Global) || cls.full !== 'numpy.ndarray')
        return fail(`${fn.full} of ${describe(cls)}, only numpy.ndarray is supported`);
      return new PendingArray();
    }
    case 'numpy.dtype':
      if (args.length < 1) return fail('numpy.dtype without a type');
      return makeDType(args[0], fail);
    case 'numpy.core.multiarray.scalar': {
      const dtype = makeDType(args[0], fail);
      const raw = asBytes(args[1] ?? null);
      if (raw === undefined) return fail(`${fn.full} without raw bytes (object scalars are not supported)`);
      return scalarValue(makeArray(dtype, [], raw, false, fail));
    }
    case 'numpy.core.numeric._frombuffer': {
      // protocol 5 in-band: _frombuffer(buffer, dtype, shape, order)
      const raw = asBytes(args[0] ?? null);
      if (raw === undefined) return fail(`${fn.full} without an in-band buffer (out-of-band buffers are not supported)`);
      const order = asText(args[3] ?? 'C');
      return makeArray(makeDType(args[1], fail), shapeOf(args[2], fail), raw, order === 'F', fail);
    }
    case 'builtins.bytes':
    case 'builtins.bytearray':
      if (args.length === 0) return new Uint8Array(0);
      return fail(`${how} of ${fn.full} with arguments is not supported`);
    case '_codecs.encode': {
      // Python 3 writes bytes under protocol 2 as _codecs.encode(latin-1 text, 'latin1')
      const s = args[0];
      const enc = asText(args[1] ?? null)?.toLowerCase().replace(/[-_]/g, '');
      if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'iso88591'))
        return fail(`${fn.full} is only supported for (str, 'latin1'), got (${describe(s)}, ${String(args[1])})`);
      const out = Buffer.from(s, 'latin1');
      if (out.length !== s.length) return fail(`${fn.full}: text is not latin-1`);
      for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return fail(`${fn.full}: text is not latin-1`);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    }
    default:
      return fail(`${how} of ${fn.full} is not supported`);
  }
}

function build(obj: Item, state: Item, fail: (m: string) => never): void {
  if (obj instanceof DType) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    if (!Array.isArray(state) || state.length < 2) fail('numpy dtype state is not a tuple');
    const st = state as Item[];
    const order = asText(st[1]);
    if (order === undefined || !'<>|='.includes(order)) fail(`numpy dtype byte order '${String(st[1])}' is not supported`);
    if ((st[2] ?? null) !== null || (st[3] ?? null) !== null) fail('structured or sub-array numpy dtypes are not supported');
    obj.byteorder = order as string;
    return;
  }
  if (obj instanceof PendingArray) {
    // (version, shape, dtype, is_fortran, rawdata) or the older (shape, dtype, is_fortran, rawdata)
    if (!Array.isArray(state)) fail('numpy array state is not a tuple');
    let st = state as Item[];
    if (st.length === 5) st = st.slice(1);
    if (st.length !== 4) fail(`numpy array state has ${st.length} items, expected 4 or 5`);
    const [shape, dtype, fortran, raw] = st;
    if (!(dtype instanceof DType)) fail('numpy array state without a dtype');
    const bytes = asBytes(raw);
    if (bytes === undefined) fail(`numpy array data is a ${describe(raw)}, expected raw bytes (object arrays are not supported)`);
    obj.built = makeArray(dtype as DType, shapeOf(shape, fail), bytes as Uint8Array, fortran === true || fortran === 1, fail);
    return;
  }
  fail(`BUILD of a ${describe(obj)} is not supported`);
}

/** The value under `key` of a dict read by {@link parsePickle}, or E_DATA naming `source`. */
export function dictGet(dict: PickleValue, key: string, source = '<pickle>'): PickleValue {
  if (!(dict instanceof Map)) throw new TegnasError('E_DATA', `${source}: expected a pickled dict, found a ${describe(dict)}`);
  if (!dict.has(key))
    throw new TegnasError('E_DATA', `${source}: the pickled dict has no '${key}' (keys: ${[...dict.keys()].map(String).join(', ')})`);
  return dict.get(key) as PickleValue;
}

/** Integers from a pickled list/tuple of ints or an integer numpy array, as numbers (E_DATA otherwise). */
export function toIntegers(v: PickleValue, what: string, source = '<pickle>'): number[] {
  const fail = (m: string): never => {
    throw new TegnasError('E_DATA', `${source}: ${what} ${m}`);
  };
  const items: readonly unknown[] = v instanceof NdArray ? Array.from(v.data as ArrayLike<number | bigint>) : Array.isArray(v) ? v : fail(`is a ${describe(v)}, expected a list of integers`);
  return items.map((x, i) => {
    const k = typeof x === 'bigint' ? Number(x) : x;
    if (typeof k !== 'number' || !Number.isSafeInteger(k)) fail(`item ${i} is ${String(x)}, not an integer`);
    return k as number;
  });
}
