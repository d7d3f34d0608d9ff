/**
 * A small, seeded, reproducible random number generator.
 *
 * Algorithm:
 * - The generator is xoshiro128** (Blackman and Vigna, 2018): 128 bits of state, 32-bit outputs,
 *   period 2^128 - 1, computed with 32-bit integer operations only.
 * - A generator has a 64-bit *key*. `new Rng(seed)` takes the seed modulo 2^64 as its key. The state is
 *   the first two outputs of splitmix64 started at the key, each split into two 32-bit words (high word
 *   first). BigInt is used for this seeding only.
 * - `fork(label)` derives a child key from the parent's key and the label alone:
 *   child = mix64(parent ^ mix64(hash64(label) + 0x9e3779b97f4a7c15)), where mix64 is the splitmix64
 *   finaliser and hash64 is 64-bit FNV-1a over the UTF-8 bytes of `s:<label>` for a string label and
 *   `n:<label>` for a number label (so fork(1) and fork('1') differ). A fork therefore depends only on
 *   the root seed and the chain of labels, never on how many numbers the parent has drawn.
 * - uniform(): 53 bits from two outputs, (a >>> 5) * 2^26 + (b >>> 6), divided by 2^53.
 * - normal(): Box-Muller on u1 = 1 - uniform() in (0, 1] and u2 = uniform(); the second value
 *   (r sin 2 pi u2) is cached and returned by the next call.
 * - int(n): rejection sampling on 32-bit outputs for n <= 2^32, on 53-bit integers above (unbiased).
 */
import { TegnasError } from '../errors.js';

const MASK64 = (1n << 64n) - 1n;
const GOLDEN64 = 0x9e3779b97f4a7c15n;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** The splitmix64 output function (a bijective 64-bit mixer). */
function mix64(z: bigint): bigint {
  z &= MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** 64-bit FNV-1a over the UTF-8 bytes of a string. */
function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}

function toKey(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') return BigInt.asUintN(64, seed);
  if (typeof seed !== 'number' || !Number.isInteger(seed))
    throw new TegnasError('E_INPUT', `a random seed must be an integer (number or bigint), got ${String(seed)}`);
  return BigInt.asUintN(64, BigInt(seed));
}

export class Rng {
  /** The 64-bit key this generator was seeded from (the seed modulo 2^64, or a derived fork key). */
  readonly key: bigint;
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spare: number | undefined = undefined;

  /** @param seed an integer; numbers must be integral, and any integer is taken modulo 2^64. */
  constructor(seed: number | bigint) {
    this.key = toKey(seed);
    let x = this.key;
    const words: number[] = [];
    for (let i = 0; i < 2; i++) {
      x = (x + GOLDEN64) & MASK64;
      const z = mix64(x);
      words.push(Number(z >> 32n) >>> 0, Number(z & 0xffffffffn) >>> 0);
    }
    [this.#s0, this.#s1, this.#s2, this.#s3] = words;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1; // the all-zero state is a fixed point
  }

  /** The next 32-bit output, an integer in [0, 2^32). */
  nextU32(): number {
    const s1 = this.#s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** A uniform double in [a, b) (a + (b - a) * uniform()). */
  uniformRange(a: number, b: number): number {
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new TegnasError('E_INPUT', `uniformRange needs finite bounds, got ${a} and ${b}`);
    return a + (b - a) * this.uniform();
  }

  /** A normal deviate with the given mean and standard deviation (Box-Muller, second value cached). */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.#spare !== undefined) {
      z = this.#spare;
      this.#spare = undefined;
    } else {
      const u1 = 1 - this.uniform();
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      z = r * Math.cos(theta);
      this.#spare = r * Math.sin(theta);
    }
    return mean + std * z;
  }

  /** A uniform integer in [0, n), without bias; n a positive integer up to 2^53. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_53)
      throw new TegnasError('E_INPUT', `int(n) needs an integer n in [1, 2^53], got ${n}`);
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const u = this.nextU32();
        if (u < limit) return u % n;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const u = (this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6);
      if (u < limit) return u % n;
    }
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /** k distinct elements of `array` (distinct positions), in random order; `array` is not modified. */
  sample<T>(array: readonly T[], k: number): T[] {
    if (!Number.isInteger(k) || k < 0 || k > array.length)
      throw new TegnasError('E_INPUT', `sample needs an integer k in [0, ${array.length}], got ${k}`);
    const a = array.slice();
    for (let i = 0; i < k; i++) {
      const j = i + this.int(a.length - i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a.slice(0, k);
  }

  /**
   * An independent generator derived from this one's key and `label` only: the same label always gives
   * the same stream, whatever this generator has drawn; different labels give unrelated streams.
   */
  fork(label: string | number): Rng {
    let tagged: string;
    if (typeof label === 'string') tagged = `s:${label}`;
    else if (typeof label === 'number' && Number.isFinite(label)) tagged = `n:${label}`;
    else throw new TegnasError('E_INPUT', `fork needs a string or finite number label, got ${String(label)}`);
    return new Rng(mix64(this.key ^ mix64(fnv1a64(tagged) + GOLDEN64)));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
