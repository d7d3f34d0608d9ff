/**
 * Shared machinery of the property-based tests in test/fuzz/ (fast-check inside ava).
 *
 * - `TEGNAS_FUZZ_RUNS`: cases per property. Unset (as in `npm test`), each property runs a small sample
 *   (DEFAULT_RUNS) with a fixed seed, so `npm test` is deterministic; `npm run test:fuzz` sets 10,000.
 * - `TEGNAS_FUZZ_SEED`: the base seed. Unset, a run with TEGNAS_FUZZ_RUNS draws a fresh one. Every
 *   property logs it; a failure also prints the shrunk counterexample. TEGNAS_FUZZ_SEED=S (with the
 *   same TEGNAS_FUZZ_RUNS, and ava --match to pick the property) replays the run.
 */
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { TegnasError } from '../../src/errors.js';

const DEFAULT_RUNS = 300;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Cases per property. */
export const RUNS = envInt('TEGNAS_FUZZ_RUNS') ?? DEFAULT_RUNS;
const explicitSeed = process.env.TEGNAS_FUZZ_SEED;
export const SEED =
  explicitSeed !== undefined && explicitSeed !== '' ? Number(explicitSeed) | 0 : process.env.TEGNAS_FUZZ_RUNS ? (Date.now() ^ (process.pid << 16)) | 0 : 20240611;

/**
 * check() runs a property for RUNS cases (`scale` shrinks the count for expensive properties, never
 * below 1). Each property's seed is derived from SEED and the test's title, so TEGNAS_FUZZ_SEED with
 * ava's --match replays one property exactly.
 */
function options(t: ExecutionContext, scale: number): fc.Parameters<unknown> {
  const numRuns = Math.max(1, Math.round(RUNS * scale));
  let h = SEED | 0;
  for (let i = 0; i < t.title.length; i++) h = Math.imul(h ^ t.title.charCodeAt(i), 0x01000193);
  t.log(`${numRuns} cases (TEGNAS_FUZZ_SEED=${SEED}, property seed ${h})`);
  return { numRuns, seed: h, includeErrorInReport: true };
}

export function check<Ts extends [unknown, ...unknown[]]>(t: ExecutionContext, property: fc.IProperty<Ts>, scale = 1): void {
  fc.assert(property, options(t, scale) as fc.Parameters<Ts>);
  t.pass();
}

/** check() for an async property. */
export async function checkAsync<Ts extends [unknown, ...unknown[]]>(t: ExecutionContext, property: fc.IAsyncProperty<Ts>, scale = 1): Promise<void> {
  await fc.assert(property, options(t, scale) as fc.Parameters<Ts>);
  t.pass();
}

/** Words by which a message says what was expected (or why the value is refused). */
const EXPECTATION =
  /expect|must|need|only|unknown|unsupported|missing|invalid|refus|cannot|not a |is not|are not|absurd|out of range|outside|truncated|exceed|beyond|without|empty|twice|overlap|gap|trailing|too (large|long|many|deep)|no STOP|corrupt|limit|singular|non-finite|does not|do not|requires|required/i;

/**
 * Asserts that `e` is a TegnasError with one of `codes` whose message is readable: not empty, not a
 * dump, no "[object Object]", and says what was expected; every string of `mentions` must appear in it
 * (e.g. the offending value, so the message also says what came).
 */
export function assertClearError(e: unknown, codes: readonly string[], mentions: readonly string[] = []): void {
  if (!(e instanceof TegnasError)) {
    const what = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    throw new Error(`expected a TegnasError (${codes.join('|')}), got ${what}`);
  }
  if (!codes.includes(e.code)) throw new Error(`expected code ${codes.join('|')}, got ${e.code}: ${e.message}`);
  assertClearMessage(e.message, mentions);
}

/** The message checks of assertClearError, for plain Errors thrown by the raw addon. */
export function assertClearMessage(message: string, mentions: readonly string[] = []): void {
  if (message.length < 15) throw new Error(`message too short to say anything: ${JSON.stringify(message)}`);
  if (message.length > 2000) throw new Error(`message of ${message.length} characters: ${message.slice(0, 200)}...`);
  if (message.includes('[object Object]')) throw new Error(`message shows an object as [object Object]: ${message}`);
  if (!EXPECTATION.test(message)) throw new Error(`message does not say what was expected: ${message}`);
  for (const m of mentions) if (!message.includes(m)) throw new Error(`message does not mention ${JSON.stringify(m)}: ${message}`);
}

/** Runs f: it either returns (the input was valid) or throws a clear TegnasError. Returns the result or undefined. */
export function acceptOrReject<T>(f: () => T, codes: readonly string[]): { ok: true; value: T } | { ok: false; error: TegnasError } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    assertClearError(e, codes);
    return { ok: false, error: e as TegnasError };
  }
}

/** Any JS value, including the awkward ones (bigint, symbols, nested and cyclic objects, typed arrays). */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 31, -(2 ** 31), 2 ** 53, Number.MAX_VALUE, 1e-300, Symbol('s'), () => 1),
  fc.constant(cyclic()),
  fc.constant(deep(300)),
);

function cyclic(): unknown {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

/** [[[...]]] nested n deep: JSON.stringify of it overflows the stack. */
export function deep(n: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/**
 * A time limit per case, for properties about parsers that must not backtrack catastrophically. A case
 * over the limit is timed once more and fails only if it is slow again: a pause of the garbage collector
 * or of a shared machine does not repeat, super-linear work does.
 */
export function within<T>(ms: number, what: string, f: () => T): T {
  const timed = (): [T, number] => {
    const t0 = performance.now();
    const r = f();
    return [r, performance.now() - t0];
  };
  const [r, dt] = timed();
  if (dt <= ms) return r;
  const [, again] = timed();
  if (again > ms) throw new Error(`${what} took ${dt.toFixed(0)} ms, then ${again.toFixed(0)} ms (limit ${ms} ms)`);
  return r;
}

/** Runs f, prefixing any failure with `what` (which call of a property failed). */
export function labelled<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && !(e instanceof TegnasError)) e.message = `${what}: ${e.message}`;
    throw e;
  }
}
