/**
 * A small helper that builders use to append parameters and nodes to a plan, one layer at a time,
 * with the reference's module names.
 */
import type { NetworkPlan, ParamKind, ParamSpec, PlanNode } from './types.js';

export class PlanBuilder {
  readonly params: ParamSpec[] = [];
  readonly nodes: PlanNode[] = [{ op: 'input' }];
  readonly #byName = new Map<string, number>();

  constructor(readonly input: [number, number, number]) {}

  param(name: string, shape: number[], kind: ParamKind): number {
    if (this.#byName.has(name)) throw new Error(`internal: parameter '${name}' declared twice`);
    this.params.push({ name, shape, kind });
    this.#byName.set(name, this.params.length - 1);
    return this.params.length - 1;
  }

  /** Index of a parameter declared earlier (the supernet declares everything up front). */
  ref(name: string): number {
    const i = this.#byName.get(name);
    if (i === undefined) throw new Error(`internal: parameter '${name}' was never declared`);
    return i;
  }

  node(n: PlanNode): number {
    this.nodes.push(n);
    return this.nodes.length - 1;
  }

  relu(input: number): number {
    return this.node({ op: 'relu', input });
  }

  conv(
    input: number,
    weight: string,
    opts: { stride?: number; padding?: number; dilation?: number; groups?: number } = {},
  ): number {
    return this.node({
      op: 'conv2d',
      input,
      weight: this.ref(weight),
      stride: opts.stride ?? 1,
      padding: opts.padding ?? 0,
      dilation: opts.dilation ?? 1,
      groups: opts.groups ?? 1,
    });
  }

  bn(input: number, prefix: string): number {
    return this.node({ op: 'batchnorm', input, weight: this.ref(`${prefix}.weight`), bias: this.ref(`${prefix}.bias`), eps: 1e-5 });
  }

  /** Sum of the inputs; one input passes through unchanged. */
  sum(inputs: number[]): number {
    if (inputs.length === 0) throw new Error('internal: empty sum');
    return inputs.length === 1 ? inputs[0] : this.node({ op: 'add', inputs });
  }

  build(output: number): NetworkPlan {
    return { version: 1, input: this.input, params: this.params, nodes: this.nodes, output };
  }
}

/** Declares conv weight (no bias) and returns its name. */
export function declareConv(b: PlanBuilder, name: string, cout: number, cinPerGroup: number, k: number): string {
  b.param(name, [cout, cinPerGroup, k, k], 'conv-weight');
  return name;
}

export function declareBn(b: PlanBuilder, prefix: string, c: number): string {
  b.param(`${prefix}.weight`, [c], 'bn-weight');
  b.param(`${prefix}.bias`, [c], 'bn-bias');
  return prefix;
}
