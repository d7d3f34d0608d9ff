/**
 * A network ready to run: a plan, its parameters (float32, every supernet parameter under its
 * reference name) and the native engine. Builders for the reference networks are static methods.
 */
import { TegnasError } from './errors.js';
import { type FloatArray, NativeNet, type PlanInfo } from './native.js';
import { type DartsNetworkOptions, type DartsSelection, buildDartsNetwork } from './plan/darts-network.js';
import { type Nb201Selection, type TinyNetworkOptions, buildTinyNetwork } from './plan/tiny-network.js';
import type { NetworkPlan, ParamSpec } from './plan/types.js';
import { type InitName, initParams } from './weights/init.js';
import { type StoredTensor, readSafetensors, writeSafetensors } from './weights/safetensors.js';

/**
 * Which parameters a per-sample gradient is taken with respect to:
 * - `weights`: every parameter the reference names `...weight` (conv weights, BN gammas, the classifier weight);
 * - `cell-weights`: those of them under `cells.` (searched cells and, in NAS-Bench-201, the reduction blocks);
 * - `all`: every parameter.
 */
export type ParamGroup = 'weights' | 'cell-weights' | 'all';

/** Where each parameter's gradient sits in a row of the gradient matrix. */
export interface GradColumn {
  name: string;
  offset: number;
  numel: number;
}

export interface PerSampleGradients {
  batch: number;
  classes: number;
  /** batch x classes. */
  logits: Float32Array;
  /** batch x P, row i = d(sum_k logits[i, k]) / d(parameters of the group). */
  grads: Float32Array;
  columns: GradColumn[];
}

export interface WeightsOptions {
  /** Read / write tensors named `${prefix}${name}` (e.g. `ntk.0.`). */
  prefix?: string;
  /** Ignore tensors in the file that the network does not have (default false: an error). */
  allowUnknown?: boolean;
}

/**
 * Indices of a parameter group among `used` parameters (those a live node reads), in plan order:
 * the columns of a per-sample gradient matrix, as the reference builds them from named_parameters().
 */
export function paramGroupIndices(plan: NetworkPlan, used: readonly number[], group: ParamGroup): number[] {
  if (group !== 'all' && group !== 'weights' && group !== 'cell-weights')
    throw new TegnasError('E_INPUT', `unknown parameter group '${group as string}'; expected weights, cell-weights or all`);
  const live = new Set(used);
  const out: number[] = [];
  plan.params.forEach((p, i) => {
    if (!live.has(i)) return;
    if (group === 'all') out.push(i);
    else if (p.name.endsWith('weight') && (group === 'weights' || p.name.startsWith('cells.'))) out.push(i);
  });
  return out;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class Network {
  readonly plan: NetworkPlan;
  readonly native: NativeNet;
  /** Every parameter of the plan, concatenated in plan order. */
  readonly params: Float32Array;
  readonly #offsets: number[];
  readonly #index = new Map<string, number>();

  constructor(plan: NetworkPlan) {
    this.native = new NativeNet(plan);
    this.plan = plan;
    this.#offsets = [];
    let off = 0;
    plan.params.forEach((p, i) => {
      this.#offsets.push(off);
      off += numel(p.shape);
      this.#index.set(p.name, i);
    });
    this.params = new Float32Array(off);
  }

  /** NAS-Bench-201 tiny network for an arch string, op list, or op sets per edge (supernet). */
  static nb201(selection: Nb201Selection, options: TinyNetworkOptions): Network {
    return new Network(buildTinyNetwork(selection, options));
  }

  /** DARTS network for a genotype (text or object) or op sets per edge (supernet). */
  static darts(selection: DartsSelection, options: DartsNetworkOptions): Network {
    return new Network(buildDartsNetwork(selection, options));
  }

  get info(): PlanInfo {
    return this.native.info;
  }

  get inputSize(): number {
    const [c, h, w] = this.plan.input;
    return c * h * w;
  }

  get classes(): number {
    const [c, h, w] = this.native.info.nodeShapes[this.plan.output];
    return c * h * w;
  }

  paramSpec(name: string): ParamSpec | undefined {
    const i = this.#index.get(name);
    return i === undefined ? undefined : this.plan.params[i];
  }

  /** A view of one parameter's values (writable). */
  param(name: string): Float32Array {
    const i = this.#index.get(name);
    if (i === undefined) throw new TegnasError('E_WEIGHTS', `the network has no parameter '${name}'`);
    return this.params.subarray(this.#offsets[i], this.#offsets[i] + numel(this.plan.params[i].shape));
  }

  /** Fills every parameter with a seeded initialiser. Each parameter's values depend only on (seed, init, name). */
  init(init: InitName, seed: number | bigint): this {
    const values = initParams(this.plan.params, init, seed);
    values.forEach((v, i) => this.params.set(v, this.#offsets[i]));
    return this;
  }

  /** Parameter indices of a group, restricted to parameters on a path to the output, in plan order. */
  groupIndices(group: ParamGroup): number[] {
    return paramGroupIndices(this.plan, this.native.info.usedParams, group);
  }

  columns(indices: number[]): GradColumn[] {
    let off = 0;
    return indices.map((i) => {
      const n = numel(this.plan.params[i].shape);
      const c = { name: this.plan.params[i].name, offset: off, numel: n };
      off += n;
      return c;
    });
  }

  #checkInput(x: FloatArray, batch: number): void {
    if (!Number.isInteger(batch) || batch < 1) throw new TegnasError('E_INPUT', `batch must be a positive integer, got ${batch}`);
    if (!(x instanceof Float32Array) && !(x instanceof Float64Array))
      throw new TegnasError('E_INPUT', 'input must be a Float32Array (batch x channels x height x width)');
    const [c, h, w] = this.plan.input;
    if (x.length !== batch * c * h * w)
      throw new TegnasError('E_SHAPE', `input has ${x.length} values, expected batch ${batch} x ${c} x ${h} x ${w} = ${batch * c * h * w}`);
    for (let i = 0; i < x.length; i++)
      if (!Number.isFinite(x[i])) throw new TegnasError('E_INPUT', `input has a non-finite value (${x[i]}) at index ${i}`);
  }

  /** Logits (batch x classes) with BatchNorm in training mode. */
  forward(x: Float32Array, batch: number): Float32Array {
    this.#checkInput(x, batch);
    return this.native.forward(this.params, x, batch);
  }

  /** Per-sample gradients of each sample's summed logits, in one batched backward pass. */
  perSampleGradients(x: Float32Array, batch: number, group: ParamGroup = 'weights', threads?: number): PerSampleGradients {
    this.#checkInput(x, batch);
    const idx = this.groupIndices(group);
    const r = this.native.perSampleGradients(this.params, x, batch, idx, threads);
    return { batch, classes: this.classes, logits: r.logits, grads: r.grads, columns: this.columns(idx) };
  }

  /** The same off the JS thread. */
  async perSampleGradientsAsync(x: Float32Array, batch: number, group: ParamGroup = 'weights', threads?: number): Promise<PerSampleGradients> {
    this.#checkInput(x, batch);
    const idx = this.groupIndices(group);
    const r = await this.native.perSampleGradientsAsync(this.params, x, batch, idx, threads);
    return { batch, classes: this.classes, logits: r.logits, grads: r.grads, columns: this.columns(idx) };
  }

  /** Sets parameters from named tensors. Every parameter of the network must be present with its exact shape. */
  setWeights(tensors: Map<string, StoredTensor>, options: WeightsOptions = {}, source = 'weights'): this {
    const prefix = options.prefix ?? '';
    const problems: string[] = [];
    const seen = new Set<string>();
    const staged: [number, Float32Array][] = [];
    this.plan.params.forEach((p, i) => {
      const key = prefix + p.name;
      const t = tensors.get(key);
      if (!t) {
        problems.push(`missing tensor '${key}' (shape [${p.shape.join(', ')}])`);
        return;
      }
      seen.add(key);
      if (t.shape.length !== p.shape.length || t.shape.some((d, k) => d !== p.shape[k])) {
        problems.push(`tensor '${key}' has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
        return;
      }
      if (t.dtype !== 'F32' && t.dtype !== 'F64') {
        problems.push(`tensor '${key}' has dtype ${t.dtype}, expected F32 or F64`);
        return;
      }
      const v = Float32Array.from(t.data as Float32Array | Float64Array);
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        problems.push(`tensor '${key}' has a non-finite value at index ${bad}`);
        return;
      }
      staged.push([i, v]);
    });
    if (!options.allowUnknown)
      for (const k of tensors.keys())
        if (k.startsWith(prefix) && !seen.has(k)) problems.push(`unknown tensor '${k}': the network has no parameter '${k.slice(prefix.length)}'`);
    if (problems.length) {
      const shown = problems.slice(0, 5).join('; ');
      const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
      throw new TegnasError('E_WEIGHTS', `${source}: ${shown}${more}`);
    }
    for (const [i, v] of staged) this.params.set(v, this.#offsets[i]);
    return this;
  }

  /** Loads weights from a safetensors file under the reference parameter names. */
  loadWeights(path: string, options: WeightsOptions = {}): this {
    const { tensors } = readSafetensors(path);
    return this.setWeights(tensors, options, path);
  }

  /** The network's parameters as named tensors (e.g. to save or to merge into a bigger file). */
  namedTensors(prefix = ''): Map<string, StoredTensor> {
    const out = new Map<string, StoredTensor>();
    this.plan.params.forEach((p, i) => {
      out.set(prefix + p.name, { dtype: 'F32', shape: [...p.shape], data: this.params.slice(this.#offsets[i], this.#offsets[i] + numel(p.shape)) });
    });
    return out;
  }

  saveWeights(path: string, options: { prefix?: string; metadata?: Record<string, string> } = {}): void {
    writeSafetensors(path, this.namedTensors(options.prefix ?? ''), options.metadata);
  }
}
