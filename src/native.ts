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

export interface BackendInfo {
  cpu: true;
  /** Whether this binary was compiled with the CUDA backend. */
  cudaBuilt: boolean;
  /** Why the GPU is not used (no driver, no device, not built...). */
  cudaReason: string;
  cudaDevices?: number;
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
}

interface Binding {
  Network: new (plan: NetworkPlan) => NativeNetwork;
  version: string;
  backendInfo(): BackendInfo;
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

/** What the addon was built with and which backend it will use. */
export function backendInfo(): BackendInfo {
  return load().backendInfo();
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
}
