/**
 * A small pickle writer for the fuzz tests: the opcodes CPython and numpy write for plain data and numpy
 * arrays (protocols 2 to 5), with the choices a pickler may make (short or long forms, APPEND or APPENDS,
 * memo puts, frames) drawn from a `choice` function, so one value has many valid byte encodings.
 */
import { NdArray, type NdDtype, PyStr8 } from '../../src/data/pickle.js';

/** Values the writer can encode: PickleValue, with tuples as `{ tuple: [...] }`. */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyStr8 | NdArray | PyValue[] | { tuple: PyValue[] } | Map<string | number, PyValue>;

const NUMPY_CODE: Record<NdDtype, string> = {
  bool: 'b1', uint8: 'u1', int8: 'i1', uint16: 'u2', int16: 'i2', uint32: 'u4', int32: 'i4', uint64: 'u8', int64: 'i8', float32: 'f4', float64: 'f8',
};

export class Pickler {
  readonly #out: number[] = [];
  #memo = 0;

  constructor(
    readonly protocol: 2 | 3 | 4 | 5,
    /** Returns an integer in [0, n): the writer's free choices. */
    readonly choice: (n: number) => number,
  ) {}

  static dumps(v: PyValue, protocol: 2 | 3 | 4 | 5, choice: (n: number) => number): Uint8Array {
    const p = new Pickler(protocol, choice);
    p.#byte(0x80, protocol);
    const body = new Pickler(protocol, choice);
    body.#value(v);
    body.#byte(0x2e);
    if (protocol >= 4 && choice(2) === 0) {
      p.#byte(0x95);
      p.#u64(body.#out.length);
    }
    return new Uint8Array([...p.#out, ...body.#out]);
  }

  #byte(...b: number[]): void {
    for (const x of b) this.#out.push(x & 0xff);
  }
  #u16(n: number): void {
    this.#byte(n, n >> 8);
  }
  #u32(n: number): void {
    this.#byte(n, n >>> 8, n >>> 16, n >>> 24);
  }
  #u64(n: number): void {
    this.#u32(n % 2 ** 32);
    this.#u32(Math.floor(n / 2 ** 32));
  }
  #bytes(b: Uint8Array | number[]): void {
    for (const x of b) this.#out.push(x);
  }
  #put(): void {
    const c = this.choice(4);
    if (c === 0) return;
    if (this.protocol >= 4 && c === 1) this.#byte(0x94);
    else if (this.#memo < 256 && c === 2) this.#byte(0x71, this.#memo);
    else {
      this.#byte(0x72);
      this.#u32(this.#memo);
    }
    this.#memo++;
  }
  #text(s: string): void {
    const b = new TextEncoder().encode(s);
    if (this.protocol >= 4 && b.length < 256 && this.choice(2) === 0) this.#byte(0x8c, b.length);
    else if (this.protocol >= 4 && this.choice(4) === 0) {
      this.#byte(0x8d);
      this.#u64(b.length);
    } else {
      this.#byte(0x58);
      this.#u32(b.length);
    }
    this.#bytes(b);
  }
  #global(module: string, name: string): void {
    if (this.protocol >= 4 && this.choice(2) === 0) {
      this.#text(module);
      this.#text(name);
      this.#byte(0x93);
    } else {
      this.#bytes(new TextEncoder().encode(`c${module}\n${name}\n`));
    }
  }
  /** Raw bytes for numpy data: bytes opcodes, or (as Python 2 writes them) a str when `str8` allows. */
  #rawBytes(b: Uint8Array, str8 = true): void {
    if (this.protocol >= 3 && (!str8 || this.choice(3) !== 0)) {
      if (b.length < 256 && this.choice(2) === 0) this.#byte(0x43, b.length);
      else if (this.protocol >= 4 && this.choice(2) === 0) {
        this.#byte(0x8e);
        this.#u64(b.length);
      } else {
        this.#byte(0x42);
        this.#u32(b.length);
      }
      this.#bytes(b);
    } else {
      // As Python 2 writes str: SHORT_BINSTRING / BINSTRING
      if (b.length < 256 && this.choice(2) === 0) this.#byte(0x55, b.length);
      else {
        this.#byte(0x54);
        this.#u32(b.length);
      }
      this.#bytes(b);
    }
  }
  #int(v: bigint): void {
    if (v >= 0n && v < 256n && this.choice(3) !== 0) this.#byte(0x4b, Number(v));
    else if (v >= 0n && v < 65536n && this.choice(3) !== 0) {
      this.#byte(0x4d);
      this.#u16(Number(v));
    } else if (v >= -(2n ** 31n) && v < 2n ** 31n && this.choice(3) !== 0) {
      this.#byte(0x4a);
      this.#u32(Number(BigInt.asUintN(32, v)));
    } else {
      // LONG1: little-endian two's complement, shortest form (plus an optional extra sign byte)
      const bytes: number[] = [];
      let x = v;
      if (x !== 0n) {
        for (;;) {
          bytes.push(Number(x & 0xffn));
          x >>= 8n;
          const neg = (bytes[bytes.length - 1] & 0x80) !== 0;
          if ((x === 0n && !neg) || (x === -1n && neg)) break;
        }
      }
      this.#byte(0x8a, bytes.length);
      this.#bytes(bytes);
    }
  }
  #tupleOf(items: (() => void)[]): void {
    if (items.length === 0 && this.choice(2) === 0) this.#byte(0x29);
    else if (items.length >= 1 && items.length <= 3 && this.choice(2) === 0) {
      for (const f of items) f();
      this.#byte(0x84 + items.length);
    } else {
      this.#byte(0x28);
      for (const f of items) f();
      this.#byte(0x74);
    }
  }
  #ndarray(a: NdArray): void {
    // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') then BUILD (1, shape, dtype, False, raw)
    this.#global(this.choice(2) ? 'numpy.core.multiarray' : 'numpy._core.multiarray', '_reconstruct');
    this.#tupleOf([() => this.#global('numpy', 'ndarray'), () => this.#tupleOf([() => this.#int(0n)]), () => this.#rawBytes(new Uint8Array([0x62]))]);
    this.#byte(0x52);
    const dtype = () => {
      this.#global('numpy', 'dtype');
      this.#tupleOf([() => this.#text(NUMPY_CODE[a.dtype]), () => this.#byte(0x89), () => this.#byte(0x88)]);
      this.#byte(0x52);
      const order = a.dtype === 'bool' || a.dtype === 'uint8' || a.dtype === 'int8' ? '|' : '<';
      this.#tupleOf([() => this.#int(3n), () => this.#text(order), () => this.#byte(0x4e), () => this.#byte(0x4e), () => this.#byte(0x4e), () => this.#int(-1n), () => this.#int(-1n), () => this.#int(0n)]);
      this.#byte(0x62);
    };
    const raw = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    this.#tupleOf([() => this.#int(1n), () => this.#tupleOf(a.shape.map((d) => () => this.#int(BigInt(d)))), dtype, () => this.#byte(0x89), () => this.#rawBytes(raw)]);
    this.#byte(0x62);
  }
  #value(v: PyValue): void {
    if (v === null) this.#byte(0x4e);
    else if (v === true) this.#byte(0x88);
    else if (v === false) this.#byte(0x89);
    else if (typeof v === 'bigint') this.#int(v);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.#int(BigInt(v));
      else {
        this.#byte(0x47);
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v, false);
        this.#bytes(b);
      }
    } else if (typeof v === 'string') {
      this.#text(v);
      this.#put();
    } else if (v instanceof PyStr8) {
      if (v.bytes.length < 256 && this.choice(2) === 0) this.#byte(0x55, v.bytes.length);
      else {
        this.#byte(0x54);
        this.#u32(v.bytes.length);
      }
      this.#bytes(v.bytes);
    } else if (v instanceof Uint8Array) {
      if (this.protocol >= 3) this.#rawBytes(v, false);
      else {
        // Python 3 under protocol 2: _codecs.encode(latin-1 text, 'latin1')
        this.#global('_codecs', 'encode');
        this.#tupleOf([() => this.#text(Buffer.from(v).toString('latin1')), () => this.#text('latin1')]);
        this.#byte(0x52);
      }
      this.#put();
    } else if (v instanceof NdArray) {
      this.#ndarray(v);
      this.#put();
    } else if (Array.isArray(v)) {
      this.#byte(0x5d);
      this.#put();
      if (v.length === 0) return;
      if (this.choice(2) === 0)
        for (const x of v) {
          this.#value(x);
          this.#byte(0x61);
        }
      else {
        this.#byte(0x28);
        for (const x of v) this.#value(x);
        this.#byte(0x65);
      }
    } else if (v instanceof Map) {
      this.#byte(0x7d);
      this.#put();
      if (v.size === 0) return;
      if (this.choice(2) === 0)
        for (const [k, x] of v) {
          this.#value(k);
          this.#value(x);
          this.#byte(0x73);
        }
      else {
        this.#byte(0x28);
        for (const [k, x] of v) {
          this.#value(k);
          this.#value(x);
        }
        this.#byte(0x75);
      }
    } else {
      this.#tupleOf(v.tuple.map((x) => () => this.#value(x)));
      this.#put();
    }
  }
}
