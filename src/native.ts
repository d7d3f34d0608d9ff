/**
 * The one module that loads the native addon and declares its interface. Nothing else in tegnas
 * touches the binding: everything goes through the typed wrappers here, which turn native failures
 * into TegnasError.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TegnasError } from './errors.js';
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
  patternStats(bits: Uint8Array, count: number, nbits: number, pairwise?: boolean): { distinct: number; pairwise?: number };
  symmetricEigenvalues(a: Float64Array, n: number): Float64Array;
  solveLinear(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array | null;
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
let binding: Binding | undefined;

function load(): Binding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
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

/**
 * Exact distinct count of bit patterns (count rows of nbits 0/1 bytes) by hashing, and optionally the
 * reference's O(n^2) pairwise formula on the same patterns.
 */
export function patternStats(bits: Uint8Array, count: number, nbits: number, pairwise = false): { distinct: number; pairwise?: number } {
  return wrap('patternStats', () => load().patternStats(bits, count, nbits, pairwise));
}

/** Eigenvalues, ascending, of a symmetric n x n float64 matrix (the engine's Jacobi eigensolver). */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  return wrap('symmetricEigenvalues', () => load().symmetricEigenvalues(a, n));
}

/** Solves A X = B (A n x n, B n x m, float64, LU with partial pivoting); null when A is singular. */
export function solveLinear(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array | null {
  return wrap('solveLinear', () => load().solveLinear(a, n, b, m));
}

/** A plan parsed and validated by the engine, ready to run many times. */
export class NativeNet {
  readonly #net: NativeNetwork;
  readonly info: PlanInfo;

  constructor(plan: NetworkPlan) {
    const b = load();
    this.#net = wrap('invalid network plan', () => new b.Network(plan));
    this.info = this.#net.info();
  }

  forward<A extends FloatArray>(params: A, input: A, batch: number): A {
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
    return wrap('backward', () =>
      this.#net.backward(params, input, batch, seeds, Int32Array.from(requested), wantInputGrad),
    );
  }

  perSampleGradients<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    requested: number[],
    threads?: number,
  ): PerSampleResult<A> {
    return wrap('perSampleGradients', () =>
      this.#net.perSampleGradients(params, input, batch, Int32Array.from(requested), threads),
    );
  }

  async perSampleGradientsAsync<A extends FloatArray>(
    params: A,
    input: A,
    batch: number,
    requested: number[],
    threads?: number,
  ): Promise<PerSampleResult<A>> {
    let p: Promise<PerSampleResult<A>>;
    try {
      p = this.#net.perSampleGradientsAsync(params, input, batch, Int32Array.from(requested), threads);
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
    const v = b.val;
    return [params, b.x, b.batch, v ? v.trainY : null, v ? v.x : null, v ? v.batch : 0, v ? v.y : null, v ? v.classes : 0,
      Int32Array.from(weights), Int32Array.from(cells), threads, b.naswot ?? false, resolveBackend(backend)];
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
    const b = resolveBackend(backend ?? 'cpu');
    return wrap('linearRegions', () => this.#net.linearRegions(params, x, batch, batches, b));
  }

  naswot(params: FloatArray, x: FloatArray, batch: number, backend?: BackendChoice): NaswotResult {
    const b = resolveBackend(backend ?? 'cpu');
    return wrap('naswot', () => this.#net.naswot(params, x, batch, b));
  }
}
