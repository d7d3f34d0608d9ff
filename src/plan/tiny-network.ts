/**
 * The NAS-Bench-201 "tiny network" with the reference supernet's parameter names (TEG-NAS
 * TinyNetworkDarts): stem, cells with residual reduction blocks, lastact, classifier.
 * The plan declares every parameter of the supernet (all ops on all edges) so weight files are
 * interchangeable between architectures; nodes read only the ops the architecture selects.
 */
import { TegnasError } from '../errors.js';
import { NB201_EDGES, NB201_OPS, type Nb201Op, parseNb201 } from '../spaces/nb201.js';
import { PlanBuilder, declareBn, declareConv } from './builder.js';
import type { NetworkPlan } from './types.js';

export interface TinyNetworkOptions {
  /** Channels of the first stage (the reference NTK network uses 3, the thin network 1). */
  C: number;
  /** Cells per stage. */
  N: number;
  classes: number;
  /** Keep only the first `depth` entries of the cell/block list; undefined or <= 0 keeps all. */
  depth?: number;
  /** Without the stem the input goes straight into the first cell (input channels must equal C). */
  useStem?: boolean;
  /** Input height and width (default 32 x 32 with a stem, 3 x 3 without, as the references use them). */
  inputSize?: [number, number];
}

/** One op per edge (an architecture) or a set of ops per edge whose outputs are summed (a supernet). */
export type Nb201Selection = string | Nb201Op[] | Nb201Op[][];

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new TegnasError('E_PLAN', `${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Normalises an arch string, op list or op-set list to one op set per edge. */
export function nb201EdgeSets(sel: Nb201Selection): Nb201Op[][] {
  if (typeof sel === 'string') return parseNb201(sel).map((o) => [o]);
  if (!Array.isArray(sel) || sel.length !== 6)
    throw new TegnasError('E_ARCH', `a NAS-Bench-201 selection needs 6 edges, got ${JSON.stringify(sel)}`);
  return sel.map((e, i) => {
    const set = Array.isArray(e) ? e : [e];
    if (set.length === 0) throw new TegnasError('E_ARCH', `edge ${i} has no op`);
    for (const o of set)
      if (!(NB201_OPS as readonly string[]).includes(o))
        throw new TegnasError('E_ARCH', `edge ${i}: unknown op ${JSON.stringify(o)}; expected one of ${NB201_OPS.join(', ')}`);
    if (new Set(set).size !== set.length) throw new TegnasError('E_ARCH', `edge ${i} lists an op twice`);
    return [...set].sort((a, b) => NB201_OPS.indexOf(a) - NB201_OPS.indexOf(b));
  });
}

export function buildTinyNetwork(selection: Nb201Selection, options: TinyNetworkOptions): NetworkPlan {
  const C = checkInt('C', options.C, 1);
  const N = checkInt('N', options.N, 1);
  const classes = checkInt('classes', options.classes, 1);
  const useStem = options.useStem ?? true;
  const [H, W] = options.inputSize ?? (useStem ? [32, 32] : [3, 3]);
  checkInt('input height', H, 1);
  checkInt('input width', W, 1);
  const edges = nb201EdgeSets(selection);

  const channels = [...Array(N).fill(C), 2 * C, ...Array(N).fill(2 * C), 4 * C, ...Array(N).fill(4 * C)] as number[];
  const reductions = [...Array(N).fill(false), true, ...Array(N).fill(false), true, ...Array(N).fill(false)] as boolean[];
  const depth = options.depth !== undefined && options.depth > 0 ? Math.min(options.depth, channels.length) : channels.length;

  // The reference stem reads min(3, C) channels (3 for the NTK network).
  const b = new PlanBuilder([useStem ? Math.min(3, C) : C, H, W]);
  // Declare every supernet parameter first, in named_parameters() order.
  declareConv(b, 'stem.0.weight', C, Math.min(3, C), 3);
  declareBn(b, 'stem.1', C);
  let cPrev = C;
  for (let i = 0; i < depth; i++) {
    const cur = channels[i];
    if (reductions[i]) {
      declareConv(b, `cells.${i}.conv_a.op.1.weight`, cur, cPrev, 3);
      declareBn(b, `cells.${i}.conv_a.op.2`, cur);
      declareConv(b, `cells.${i}.conv_b.op.1.weight`, cur, cur, 3);
      declareBn(b, `cells.${i}.conv_b.op.2`, cur);
      declareConv(b, `cells.${i}.downsample.1.weight`, cur, cPrev, 1);
    } else {
      for (const [to, from] of NB201_EDGES)
        NB201_OPS.forEach((op, k) => {
          if (op === 'nor_conv_1x1' || op === 'nor_conv_3x3') {
            declareConv(b, `cells.${i}.edges.${to}<-${from}.${k}.op.1.weight`, cur, cPrev, op === 'nor_conv_1x1' ? 1 : 3);
            declareBn(b, `cells.${i}.edges.${to}<-${from}.${k}.op.2`, cur);
          }
        });
    }
    cPrev = cur;
  }
  declareBn(b, 'lastact.0', cPrev);
  b.param('classifier.weight', [classes, cPrev], 'linear-weight');
  b.param('classifier.bias', [classes], 'linear-bias');

  // Then the graph.
  let x = 0;
  if (useStem) x = b.bn(b.conv(0, 'stem.0.weight', { padding: 1 }), 'stem.1');
  cPrev = C;
  for (let i = 0; i < depth; i++) {
    const cur = channels[i];
    if (reductions[i]) {
      const a = b.bn(b.conv(b.relu(x), `cells.${i}.conv_a.op.1.weight`, { stride: 2, padding: 1 }), `cells.${i}.conv_a.op.2`);
      const bb = b.bn(b.conv(b.relu(a), `cells.${i}.conv_b.op.1.weight`, { padding: 1 }), `cells.${i}.conv_b.op.2`);
      const pooled = b.node({ op: 'avgpool', input: x, kernel: 2, stride: 2, padding: 0 });
      const shortcut = b.conv(pooled, `cells.${i}.downsample.1.weight`);
      x = b.node({ op: 'add', inputs: [shortcut, bb] });
    } else {
      const nodes = [x];
      for (let to = 1; to < 4; to++) {
        const terms: number[] = [];
        NB201_EDGES.forEach(([t, from], e) => {
          if (t !== to) return;
          for (const op of edges[e]) terms.push(nb201Op(b, op, nodes[from], `cells.${i}.edges.${to}<-${from}.${NB201_OPS.indexOf(op)}`, cur));
        });
        nodes.push(b.sum(terms));
      }
      x = nodes[3];
    }
    cPrev = cur;
  }
  const last = b.relu(b.bn(x, 'lastact.0'));
  const pooled = b.node({ op: 'global_avgpool', input: last });
  const logits = b.node({ op: 'linear', input: pooled, weight: b.ref('classifier.weight'), bias: b.ref('classifier.bias') });
  return b.build(logits);
}

function nb201Op(b: PlanBuilder, op: Nb201Op, input: number, prefix: string, channels: number): number {
  switch (op) {
    case 'none':
      return b.node({ op: 'zero', input, channels, stride: 1 });
    case 'skip_connect':
      return input;
    case 'nor_conv_1x1':
      return b.bn(b.conv(b.relu(input), `${prefix}.op.1.weight`), `${prefix}.op.2`);
    case 'nor_conv_3x3':
      return b.bn(b.conv(b.relu(input), `${prefix}.op.1.weight`, { padding: 1 }), `${prefix}.op.2`);
    case 'avg_pool_3x3':
      return b.node({ op: 'avgpool', input, kernel: 3, stride: 1, padding: 1 });
  }
}
