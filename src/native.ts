/**
 * The one module that loads the native addon and declares its interface. Nothing else in tegnas
 * touches the binding: everything goes through the typed wrappers here, which turn native failures
 * into TegnasError.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TegnasError, showValue } from './errors.js';
import type { NetworkPlan } from './plan/types.js';

/** A float precision the engine runs in; float64 exists for gradient checks. */
export type FloatArray = Float32Array | Float64Array;

/** Where the engine runs: `auto` is the GPU when the CUDA backend works here, else the CPU. */
export type BackendChoice = 'auto' | 'cpu' | 'cuda';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'cpu', 'cuda'];
/** A backend that actually runs. */
export type BackendName = 'cpu' | 'cuda';

export interface BackendInfo {
  cpu: true;
  /** Backends compiled into this binary ('cpu' first). */
  backends: string[];
  /** Whether this binary was compiled with the CUDA backend. */
  cudaBuilt: boolean;
  /** Whether the CUDA backend works here (driver, device, cuBLAS/cuSOLVER, self-test against the CPU). */
  cudaAvailable: boolean;
  /**
   * Why the GPU is not used (not built, no driver, no device, a library not found with the loader's
   * error text, the self-test failed...), or which GPU is used.
   */
  cudaReason: string;
  cudaDevices: number;
  /**
   * What the CUDA backend found, as far as it got: runtime, architectures, abiCheck, driver, devices,
   * device, name, computeCapability, memory (bytes), cublas, cusolver (files loaded), selfTest.
   */
  cuda?: Record<string, string>;
  /** The backend `auto` picks. */
  auto: BackendName;
  /** Threads the CPU engine uses by default (hardware concurrency). */
  threads: number;
}

export interface PlanInfo {
  totalParams: number;
  /** (channels, height, width) of every node's output for one sample. */
  nodeShapes: [number, number, number][];
  /** Indices of the parameters some node reads. */
  usedParams: number[];
  /** The output node's index. */
  output: number;
  /** Number of values of each parameter, in plan order. */
  paramSizes: number[];
}

export interface PerSampleResult<A extends FloatArray> {
  /** batch x classes, row-major. */
  logits: A;
  /** batch x P, row-major: row i = d(sum_k logits[i,k]) / d(requested parameters). */
  grads: A;
  rows: number;
  cols: number;
}

export interface BackwardResult<A extends FloatArray> {
  output: A;
  /** S x P: one row per seed. */
  grads: A;
  /** S x batch x input size, when asked for. */
  inputGrad?: A;
}

/** NTK condition number and kernel-regression error of one network on one pair of batches. */
export interface NtkIndicatorResult {
  /** Largest / smallest eigenvalue of G G^T; null when bad. */
  cond: number | null;
  condBad: boolean;
  condReason: string;
  lambdaMin: number;
  lambdaMax: number;
  /** Present when a validation batch was given; null when bad. */
  mse?: number | null;
  mseBad?: boolean;
  mseReason?: string;
  /** Present when NtkBatches.naswot was set. */
  naswot?: NaswotResult;
}

export interface RegionCount {
  regions: number;
  bits: number;
  inputs: number;
}

export interface NaswotResult {
  /** log |det K| of the Hamming agreement kernel; null when K is singular. */
  logdet: number | null;
  singular: boolean;
  bits: number;
}

interface NativeNetwork {
  info(): PlanInfo;
  forward<A extends FloatArray>(params: A, input: A, batch: number): A;
  backward<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    seeds: A,
    requested: Int32Array | number[],
    wantInputGrad: boolean,
  ): BackwardResult<A>;
  perSampleGradients<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    requested: Int32Array | number[],
    threads?: number,
  ): PerSampleResult<A>;
  perSampleGradientsAsync<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    requested: Int32Array | number[],
    threads?: number,
  ): Promise<PerSampleResult<A>>;
  ntkIndicators(...args: NtkArgs): NtkIndicatorResult;
  ntkIndicatorsAsync(...args: NtkArgs): Promise<NtkIndicatorResult>;
  linearRegions(params: FloatArray, input: FloatArray, batch: number, batches: number, backend?: BackendName): RegionCount;
  naswot(params: FloatArray, input: FloatArray, batch: number, backend?: BackendName): NaswotResult;
}

type NtkArgs = [
  params: FloatArray,
  x: FloatArray,
  batch: number,
  y: Int32Array | null,
  vx: FloatArray | null,
  vbatch: number,
  vy: Int32Array | null,
  classes: number,
  weights: Int32Array,
  cells: Int32Array,
  threads?: number,
  naswot?: boolean,
  backend?: BackendName,
];

/** The batches of one NTK evaluation. Without `val`, only the condition number is computed. */
export interface NtkBatches {
  x: FloatArray;
  batch: number;
  val?: { x: FloatArray; batch: number; y: Int32Array; trainY: Int32Array; classes: number };
  /** Also NASWOT, from the activations of the NTK forward pass over `x` (no second forward pass). */
  naswot?: boolean;
}

interface Binding {
  Network: new (plan: NetworkPlan) => NativeNetwork;
  version: string;
  backendInfo(): BackendInfo;
  measurePeak(seconds?: number, threads?: number): PeakThroughput;
  patternStats(bits: Uint8Array, count: number, nbits: number, pairwise?: boolean): { distinct: number; pairwise?: number };
  symmetricEigenvalues(a: Float64Array, n: number): Float64Array;
  solveLinear(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array | null;
  matmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean): Float32Array;
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
let binding: Binding | undefined;

function load(): Binding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  // TEGNAS_ADDON=/path/to/tegnas.node loads that binary instead (e.g. a sanitizer build: npm run test:asan).
  const override = process.env.TEGNAS_ADDON;
  if (override) {
    try {
      binding = require(resolve(override)) as Binding;
    } catch (e) {
      throw new TegnasError('E_NATIVE', `could not load the tegnas native addon from TEGNAS_ADDON=${override}: ${(e as Error).message}`);
    }
    return binding;
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    binding = nodeGypBuild(packageRoot) as Binding;
  } catch (e) {
    throw new TegnasError(
      'E_NATIVE',
      `could not load the tegnas native addon from ${packageRoot} (no prebuilt binary for ` +
        `${process.platform}-${process.arch} and no build/Release/tegnas.node): ${(e as Error).message}. ` +
        'Build it from source with `npm run build:native` (needs cmake and a C++17 compiler).',
    );
  }
  return binding;
}

/** The addon's own interface, without the TypeScript checks of this module. */
export type RawBinding = Binding;

/**
 * The addon itself, bypassing every TypeScript check: only for tests of the native re-checks
 * (test/fuzz/native.test.ts). Not exported from the package entry point.
 * @internal
 */
export function rawBinding(): RawBinding {
  return load();
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TegnasError) throw e;
    throw new TegnasError('E_NATIVE', `${what}: ${(e as Error).message}`);
  }
}

/** Version string compiled into the addon. */
export function nativeVersion(): string {
  return load().version;
}

/**
 * What the addon was built with, which backend `auto` uses, and why the GPU is not used. The first
 * call creates the CUDA backend where it was built in (it finds the driver and a device, loads cuBLAS
 * and cuSOLVER, and checks itself against the CPU engine on a small network).
 */
export function backendInfo(): BackendInfo {
  return wrap('backendInfo', () => load().backendInfo());
}

/**
 * The backend a choice runs on: `cpu`, `cuda`, or for `auto` the GPU when it works, else the CPU.
 * Throws TegnasError `E_BACKEND` naming the reason when `cuda` is asked for and cannot be used.
 */
export function resolveBackend(choice: BackendChoice = 'auto'): BackendName {
  if (!BACKEND_CHOICES.includes(choice))
    throw new TegnasError('E_INPUT', `backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`);
  if (choice === 'cpu') return 'cpu';
  const info = backendInfo();
  if (choice === 'auto') return info.auto;
  if (!info.cudaAvailable) throw new TegnasError('E_BACKEND', `backend 'cuda' cannot be used: ${info.cudaReason}`);
  return 'cuda';
}

/** Measured float32 multiply-add throughput of this CPU (for benchmarks). */
export interface PeakThroughput {
  /** GFLOP/s over all threads, an FMA counting 2. */
  gflops: number;
  /** float32 lanes of the vector unit the engine's dispatch picked (16 AVX-512, 8 AVX2, 4 SSE). */
  lanes: number;
  threads: number;
}

/** Runs independent FMA chains on `threads` threads for about `seconds`: the CPU's real peak, turbo included. */
export function measurePeak(seconds = 0.5, threads?: number): PeakThroughput {
  return wrap('measurePeak', () => load().measurePeak(seconds, threads));
}

/**
 * Exact distinct count of bit patterns (count rows of nbits 0/1 bytes) by hashing, and optionally the
 * reference's O(n^2) pairwise formula on the same patterns.
 */
export function patternStats(bits: Uint8Array, count: number, nbits: number, pairwise = false): { distinct: number; pairwise?: number } {
  if (!(bits instanceof Uint8Array)) inputError(`patternStats: bits must be a Uint8Array of 0/1 values, got ${showValue(bits, 60)}`);
  const c = countOf('patternStats: count', count), nb = countOf('patternStats: nbits', nbits);
  length('patternStats: bits', bits, c * nb, `count ${c} x nbits ${nb}`);
  return wrap('patternStats', () => load().patternStats(bits, c, nb, pairwise === true));
}

/** A square float64 matrix argument: finite, n x n. */
function squareMatrix(what: string, a: unknown, n: unknown): number {
  const m = float64Array(`${what}: the matrix`, a);
  const k = countOf(`${what}: n`, n);
  length(`${what}: the matrix`, m, k * k, `n ${k} x n ${k}`);
  allFinite(`${what}: the matrix`, m);
  return k;
}

/** Eigenvalues, ascending, of a symmetric n x n float64 matrix (the engine's eigensolver: Householder tridiagonalisation, then implicit QL). */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const k = squareMatrix('symmetricEigenvalues', a, n);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < i; j++)
      if (a[i * k + j] !== a[j * k + i])
        inputError(`symmetricEigenvalues: the matrix is not symmetric: a[${i}][${j}] = ${a[i * k + j]} but a[${j}][${i}] = ${a[j * k + i]}; expected a symmetric matrix`);
  return wrap('symmetricEigenvalues', () => load().symmetricEigenvalues(a, k));
}

/**
 * The engine's float32 GEMM (its linear layers): op(a) op(b), row-major, m x n, where op(a) is m x k (a
 * is stored k x m when `transA`) and op(b) is k x n (b is stored n x k when `transB`).
 */
export function matmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transA = false, transB = false): Float32Array {
  if (!(a instanceof Float32Array)) inputError(`matmul: a must be a Float32Array, got ${showValue(a, 60)}`);
  if (!(b instanceof Float32Array)) inputError(`matmul: b must be a Float32Array, got ${showValue(b, 60)}`);
  const M = countOf('matmul: m', m), N = countOf('matmul: n', n), K = countOf('matmul: k', k);
  length('matmul: a', a, M * K, transA ? `k ${K} x m ${M}` : `m ${M} x k ${K}`);
  length('matmul: b', b, K * N, transB ? `n ${N} x k ${K}` : `k ${K} x n ${N}`);
  allFinite('matmul: a', a);
  allFinite('matmul: b', b);
  return wrap('matmul', () => load().matmul(a, b, M, N, K, Boolean(transA), Boolean(transB)));
}

/** Solves A X = B (A n x n, B n x m, float64, LU with partial pivoting); null when A is singular. */
export function solveLinear(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array | null {
  const k = squareMatrix('solveLinear', a, n);
  const rhs = float64Array('solveLinear: rhs', b);
  const cols = countOf('solveLinear: m', m);
  length('solveLinear: rhs', rhs, k * cols, `n ${k} x m ${cols}`);
  allFinite('solveLinear: rhs', rhs);
  return wrap('solveLinear', () => load().solveLinear(a, k, b, cols));
}

// ---- argument checks in front of the addon (it re-checks everything it relies on itself) ----------

/** Counts the engine runs over (batch, threads, n, ...) are integers in 1 .. 2^31 - 1. */
const MAX_COUNT = 2 ** 31 - 1;
/** Regression targets are one-hot over `classes` columns; the addon refuses more. */
export const MAX_CLASSES = 65536;

function inputError(message: string): never {
  throw new TegnasError('E_INPUT', message);
}

function floatArray(what: string, v: unknown): FloatArray {
  if (v instanceof Float32Array || v instanceof Float64Array) return v;
  return inputError(`${what} must be a Float32Array or Float64Array, got ${showValue(v, 60)}`);
}

function float64Array(what: string, v: unknown): Float64Array {
  if (v instanceof Float64Array) return v;
  return inputError(`${what} must be a Float64Array, got ${showValue(v, 60)}`);
}

function sameKind(what: string, a: FloatArray, like: FloatArray, likeWhat: string): void {
  if (a.constructor !== like.constructor)
    inputError(`${what} must be a ${like.constructor.name} like ${likeWhat}, got a ${a.constructor.name}`);
}

function countOf(what: string, v: unknown, max = MAX_COUNT): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    return inputError(`${what} must be an integer between 1 and ${max === MAX_COUNT ? '2^31 - 1' : max}, got ${showValue(v, 60)}`);
  return v;
}

function length(what: string, a: ArrayLike<unknown>, expected: number, how: string): void {
  if (a.length !== expected) throw new TegnasError('E_SHAPE', `${what} has ${a.length} values, expected ${how} = ${expected}`);
}

function allFinite(what: string, a: FloatArray): void {
  // x * 0 is 0 for a finite x and NaN for NaN or +-Infinity, so four running sums say whether any value
  // is not finite; only then is the first one looked for. Four independent sums ran twice as fast as a
  // Number.isFinite test per value (0.26 against 0.51 ms for 450,000 floats), and a scorer checks the
  // parameters and both batches of every repeat.
  const n = a.length;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * 0;
    s1 += a[i + 1] * 0;
    s2 += a[i + 2] * 0;
    s3 += a[i + 3] * 0;
  }
  for (; i < n; i++) s0 += a[i] * 0;
  if (s0 + s1 + s2 + s3 === 0) return;
  for (let k = 0; k < n; k++)
    if (!Number.isFinite(a[k])) inputError(`${what} has a non-finite value (${a[k]}) at index ${k}; expected finite values`);
}

function intList(what: string, v: unknown): Int32Array {
  if (v instanceof Int32Array) return v;
  if (!Array.isArray(v)) return inputError(`${what} must be an array of integers or an Int32Array, got ${showValue(v, 60)}`);
  const out = new Int32Array(v.length);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < -(2 ** 31) || x > MAX_COUNT)
      inputError(`${what}[${i}] must be an integer, got ${showValue(x, 40)}`);
    out[i] = x;
  });
  return out;
}

/** A plan parsed and validated by the engine, ready to run many times. */
export class NativeNet {
  readonly #net: NativeNetwork;
  readonly info: PlanInfo;
  /** Values per sample of the input, of the output, and of the largest node output. */
  readonly #inSize: number;
  readonly #outSize: number;
  readonly #maxSample: number;

  constructor(plan: NetworkPlan) {
    const b = load();
    try {
      this.#net = new b.Network(plan);
    } catch (e) {
      const m = (e as Error)?.message ?? String(e);
      // The engine's plan errors start with "invalid plan"; anything else came from the plan object
      // itself (a throwing getter), and is passed on as it came.
      throw new TegnasError('E_PLAN', m.startsWith('invalid plan') || m.startsWith('Network(plan)') ? m : `invalid network plan: ${m}`, { cause: e });
    }
    this.info = this.#net.info();
    const size = (s: [number, number, number]) => s[0] * s[1] * s[2];
    this.#inSize = size(this.info.nodeShapes[0]);
    this.#outSize = size(this.info.nodeShapes[this.info.output]);
    this.#maxSample = Math.max(...this.info.nodeShapes.map(size));
  }

  /** Checks params, an input of `batch` samples (times `batches`) and the batch; returns the batch. */
  #checkRun(what: string, params: unknown, input: unknown, batch: unknown, batches = 1, inputWhat = 'input'): number {
    const p = floatArray(`${what}: params`, params);
    const x = floatArray(`${what}: ${inputWhat}`, input);
    sameKind(`${what}: ${inputWhat}`, x, p, 'params');
    const n = countOf(`${what}: batch`, batch);
    if (n * this.#maxSample > MAX_COUNT)
      inputError(`${what}: batch ${n} x the largest node output (${this.#maxSample} values per sample) exceeds the engine's limit of 2^31 - 1 values per activation`);
    length(`${what}: params`, p, this.info.totalParams, "the plan's parameter count");
    length(`${what}: ${inputWhat}`, x, n * batches * this.#inSize, `${batches > 1 ? `batches ${batches} x ` : ''}batch ${n} x ${this.#inSize} values per sample`);
    allFinite(`${what}: params`, p);
    allFinite(`${what}: ${inputWhat}`, x);
    return n;
  }

  /** Checks parameter indices (each a parameter of the plan, none twice); returns them and their total size. */
  #checkParams(what: string, v: unknown): { idx: Int32Array; size: number } {
    const idx = intList(what, v);
    const seen = new Set<number>();
    let size = 0;
    idx.forEach((r, i) => {
      if (r < 0 || r >= this.info.paramSizes.length)
        inputError(`${what}[${i}] = ${r} is out of range: the plan has ${this.info.paramSizes.length} parameters (0..${this.info.paramSizes.length - 1})`);
      if (seen.has(r)) inputError(`${what}: parameter ${r} is requested twice; expected each at most once`);
      seen.add(r);
      size += this.info.paramSizes[r];
    });
    return { idx, size };
  }

  #threads(what: string, threads: unknown): number | undefined {
    return threads === undefined ? undefined : countOf(`${what}: threads`, threads, 1024);
  }

  forward<A extends FloatArray>(params: A, input: A, batch: number): A {
    this.#checkRun('forward', params, input, batch);
    return wrap('forward', () => this.#net.forward(params, input, batch));
  }

  backward<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    seeds: A,
    requested: number[],
    wantInputGrad = false,
  ): BackwardResult<A> {
    const n = this.#checkRun('backward', params, input, batch);
    const s = floatArray('backward: seeds', seeds);
    sameKind('backward: seeds', s, params, 'params');
    const per = n * this.#outSize;
    if (s.length === 0 || s.length % per !== 0)
      throw new TegnasError('E_SHAPE', `backward: seeds has ${s.length} values, expected a positive multiple of batch ${n} x ${this.#outSize} outputs = ${per}`);
    allFinite('backward: seeds', s);
    const { idx } = this.#checkParams('backward: requested parameters', requested);
    return wrap('backward', () => this.#net.backward(params, input, batch, seeds, idx, wantInputGrad === true));
  }

  perSampleGradients<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    requested: number[],
    threads?: number,
  ): PerSampleResult<A> {
    this.#checkRun('perSampleGradients', params, input, batch);
    const { idx } = this.#checkParams('perSampleGradients: requested parameters', requested);
    const t = this.#threads('perSampleGradients', threads);
    return wrap('perSampleGradients', () => this.#net.perSampleGradients(params, input, batch, idx, t));
  }

  async perSampleGradientsAsync<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    requested: number[],
    threads?: number,
  ): Promise<PerSampleResult<A>> {
    this.#checkRun('perSampleGradients', params, input, batch);
    const { idx } = this.#checkParams('perSampleGradients: requested parameters', requested);
    const t = this.#threads('perSampleGradients', threads);
    let p: Promise<PerSampleResult<A>>;
    try {
      p = this.#net.perSampleGradientsAsync(params, input, batch, idx, t);
    } catch (e) {
      throw new TegnasError('E_NATIVE', `perSampleGradients: ${(e as Error).message}`);
    }
    try {
      return await p;
    } catch (e) {
      throw new TegnasError('E_NATIVE', `perSampleGradients: ${(e as Error).message}`);
    }
  }

  #ntkArgs(params: FloatArray, b: NtkBatches, weights: number[], cells: number[], threads?: number, backend: BackendChoice = 'cpu'): NtkArgs {
    const what = 'ntkIndicators';
    if (typeof b !== 'object' || b === null) inputError(`${what}: the batches must be an object { x, batch, val? }, got ${showValue(b, 60)}`);
    this.#checkRun(what, params, b.x, b.batch);
    const w = this.#checkParams(`${what}: NTK parameters`, weights).idx;
    const c = this.#checkParams(`${what}: cell parameters`, cells).idx;
    const t = this.#threads(what, threads);
    const v = b.val;
    if (b.naswot !== undefined && typeof b.naswot !== 'boolean') inputError(`${what}: naswot must be a boolean, got ${showValue(b.naswot, 60)}`);
    const naswot = b.naswot ?? false;
    if (v === undefined || v === null) return [params, b.x, b.batch, null, null, 0, null, 0, w, c, t, naswot, resolveBackend(backend)];
    if (typeof v !== 'object') inputError(`${what}: val must be an object { x, batch, y, trainY, classes }, got ${showValue(v, 60)}`);
    const vb = this.#checkRun(what, params, v.x, v.batch, 1, 'validation input');
    const classes = countOf(`${what}: classes`, v.classes, MAX_CLASSES);
    const labels = (name: string, y: unknown, n: number): Int32Array => {
      const l = intList(`${what}: ${name}`, y);
      length(`${what}: ${name}`, l, n, 'one label per sample');
      l.forEach((k, i) => {
        if (k < 0 || k >= classes) inputError(`${what}: ${name}[${i}] = ${k} is outside 0..${classes - 1} (classes ${classes})`);
      });
      return l;
    };
    const trainY = labels('training labels', v.trainY, b.batch);
    const y = labels('validation labels', v.y, vb);
    const inW = new Set(w);
    for (const k of c) if (!inW.has(k)) inputError(`${what}: cell parameter ${k} is not among the NTK parameters; expected the cell parameters to be a subset of them`);
    return [params, b.x, b.batch, trainY, v.x, vb, y, classes, w, c, t, naswot, resolveBackend(backend)];
  }

  /**
   * NTK condition number (gradients of `weights`) and, with a validation batch, the regression error
   * (gradients of `cells`), on `backend` (default cpu; `threads` is for the CPU).
   */
  ntkIndicators(params: FloatArray, b: NtkBatches, weights: number[], cells: number[], threads?: number, backend?: BackendChoice): NtkIndicatorResult {
    const args = this.#ntkArgs(params, b, weights, cells, threads, backend);
    return wrap('ntkIndicators', () => this.#net.ntkIndicators(...args));
  }

  async ntkIndicatorsAsync(
    params: FloatArray,
    b: NtkBatches,
    weights: number[],
    cells: number[],
    threads?: number,
    backend?: BackendChoice,
  ): Promise<NtkIndicatorResult> {
    const args = this.#ntkArgs(params, b, weights, cells, threads, backend);
    let p: Promise<NtkIndicatorResult>;
    try {
      p = this.#net.ntkIndicatorsAsync(...args);
    } catch (e) {
      throw new TegnasError('E_NATIVE', `ntkIndicators: ${(e as Error).message}`);
    }
    try {
      return await p;
    } catch (e) {
      throw new TegnasError('E_NATIVE', `ntkIndicators: ${(e as Error).message}`);
    }
  }

  /** Distinct activation patterns over `batches` forward passes of `batch` inputs each (BN statistics per pass). */
  linearRegions(params: FloatArray, x: FloatArray, batch: number, batches: number, backend?: BackendChoice): RegionCount {
    const nb = countOf('linearRegions: batches', batches);
    if (typeof batch === 'number' && Number.isInteger(batch) && batch * nb > MAX_COUNT)
      inputError(`linearRegions: batch ${batch} x batches ${nb} exceeds 2^31 - 1 inputs`);
    this.#checkRun('linearRegions', params, x, batch, nb);
    const b = resolveBackend(backend ?? 'cpu');
    return wrap('linearRegions', () => this.#net.linearRegions(params, x, batch, batches, b));
  }

  naswot(params: FloatArray, x: FloatArray, batch: number, backend?: BackendChoice): NaswotResult {
    this.#checkRun('naswot', params, x, batch);
    const b = resolveBackend(backend ?? 'cpu');
    return wrap('naswot', () => this.#net.naswot(params, x, batch, b));
  }
}
