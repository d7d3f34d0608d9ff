/**
 * The network plan: a small, JSON-serialisable graph description that the native engine runs
 * forward and backward. Builders in this folder produce plans for the reference networks; other
 * tools may write their own. The format is documented in docs/plan-format.md.
 */

/** What a parameter is; decides its initialiser and its parameter group. */
export type ParamKind = 'conv-weight' | 'bn-weight' | 'bn-bias' | 'linear-weight' | 'linear-bias';

export interface ParamSpec {
  /** The reference supernet's PyTorch name, e.g. `cells.0.edges.1<-0.3.op.1.weight`. */
  name: string;
  shape: number[];
  kind: ParamKind;
}

export type PlanNode =
  | { op: 'input' }
  | {
      op: 'conv2d';
      input: number;
      weight: number;
      bias?: number;
      stride?: number | [number, number];
      padding?: number | [number, number];
      dilation?: number | [number, number];
      groups?: number;
    }
  | { op: 'batchnorm'; input: number; weight: number; bias: number; eps?: number }
  | { op: 'relu'; input: number }
  | { op: 'avgpool'; input: number; kernel: number; stride: number; padding: number }
  | { op: 'maxpool'; input: number; kernel: number; stride: number; padding: number }
  | { op: 'global_avgpool'; input: number }
  | { op: 'linear'; input: number; weight: number; bias?: number }
  | { op: 'add'; inputs: number[] }
  | { op: 'concat'; inputs: number[] }
  | { op: 'zero'; input: number; channels: number; stride: number }
  | { op: 'shift'; input: number };

export type PlanOp = PlanNode['op'];

export interface NetworkPlan {
  /** Format version; the engine rejects versions it does not know. */
  version: 1;
  /** One sample's input shape: channels, height, width. */
  input: [number, number, number];
  /** Every parameter a node may reference, in the reference supernet's `named_parameters()` order. */
  params: ParamSpec[];
  /** Nodes in execution order; node 0 is `{ op: 'input' }`; a node reads only earlier nodes. */
  nodes: PlanNode[];
  /** The node whose value is the network's output (the logits). */
  output: number;
}
