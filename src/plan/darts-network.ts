/**
 * The DARTS network with the reference supernet's parameter names (TEG-NAS NASNetworkDARTS with
 * NASNetSearchCell and MixedOp). The plan declares every op of every edge; the nodes use only what
 * the genotype (or the supernet's op sets) selects. Unlisted edges contribute nothing.
 */
import { TegnasError } from '../errors.js';
import { DARTS_OPS, DARTS_STEPS, type DartsOp, type Genotype, dartsEdgeKeys, parseGenotype, validateGenotype } from '../spaces/darts.js';
import { PlanBuilder, declareBn, declareConv } from './builder.js';
import type { NetworkPlan } from './types.js';

export interface DartsNetworkOptions {
  C: number;
  N: number;
  classes: number;
  /** Keep only the first `depth` cells; the indicator networks use 2 (one normal, one reduction). */
  depth?: number;
  useStem?: boolean;
  stemMultiplier?: number;
  inputSize?: [number, number];
  /**
   * `search` (default): the search network's cells, N normal, reduction, N-1 normal, reduction, N-1
   * normal. `eval`: the evaluation network's, N normal, reduction, N normal, reduction, N normal
   * (DARTS' 20-cell CIFAR network is C=36, N=6).
   */
  layout?: 'search' | 'eval';
}

/** For each cell type, a map from edge key (`${node}<-${state}`) to the ops summed on it. */
export interface DartsSupernetSelection {
  normal: Record<string, DartsOp[]>;
  reduce: Record<string, DartsOp[]>;
}

export type DartsSelection = string | Genotype | DartsSupernetSelection;

function isSupernet(s: DartsSelection): s is DartsSupernetSelection {
  return typeof s === 'object' && s !== null && !Array.isArray((s as Genotype).normal);
}

/** Normalises a genotype (text or object) or a supernet selection to op sets per edge. */
export function dartsEdgeSets(sel: DartsSelection): DartsSupernetSelection {
  if (typeof sel === 'string') sel = parseGenotype(sel);
  const keys = dartsEdgeKeys();
  if (isSupernet(sel)) {
    const out: DartsSupernetSelection = { normal: {}, reduce: {} };
    for (const cell of ['normal', 'reduce'] as const) {
      const m = sel[cell];
      if (!m || typeof m !== 'object') throw new TegnasError('E_ARCH', `supernet selection: ${cell} must map edge keys to op lists`);
      for (const [k, ops] of Object.entries(m)) {
        if (!keys.includes(k)) throw new TegnasError('E_ARCH', `supernet selection: unknown ${cell} edge '${k}'; edges are ${keys.join(', ')}`);
        if (!Array.isArray(ops)) throw new TegnasError('E_ARCH', `supernet selection: ${cell} edge '${k}' must list ops`);
        for (const o of ops)
          if (!(DARTS_OPS as readonly string[]).includes(o))
            throw new TegnasError('E_ARCH', `supernet selection: ${cell} edge '${k}': unknown op ${JSON.stringify(o)}`);
        if (new Set(ops).size !== ops.length) throw new TegnasError('E_ARCH', `supernet selection: ${cell} edge '${k}' lists an op twice`);
        if (ops.length) out[cell][k] = [...ops].sort((a, b) => DARTS_OPS.indexOf(a) - DARTS_OPS.indexOf(b));
      }
      for (let n = 0; n < DARTS_STEPS; n++)
        if (!keys.some((k) => k.startsWith(`${n}<-`) && out[cell][k]))
          throw new TegnasError('E_ARCH', `supernet selection: ${cell} node ${n} has no input edge`);
    }
    return out;
  }
  const g = validateGenotype(sel);
  const out: DartsSupernetSelection = { normal: {}, reduce: {} };
  for (const cell of ['normal', 'reduce'] as const)
    g[cell].forEach(([op, input], i) => {
      out[cell][`${Math.floor(i / 2)}<-${input}`] = [op];
    });
  return out;
}

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new TegnasError('E_PLAN', `${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

export function buildDartsNetwork(selection: DartsSelection, options: DartsNetworkOptions): NetworkPlan {
  const C = checkInt('C', options.C, 1);
  const N = checkInt('N', options.N, 1);
  const classes = checkInt('classes', options.classes, 1);
  const sm = checkInt('stemMultiplier', options.stemMultiplier ?? 1, 1);
  const useStem = options.useStem ?? true;
  const [H, W] = options.inputSize ?? (useStem ? [32, 32] : [3, 3]);
  checkInt('input height', H, 1);
  checkInt('input width', W, 1);
  const sets = dartsEdgeSets(selection);
  const rest = options.layout === 'eval' ? N : N - 1;
  const channels = [...Array(N).fill(C), 2 * C, ...Array(rest).fill(2 * C), 4 * C, ...Array(rest).fill(4 * C)] as number[];
  const reductions = [...Array(N).fill(false), true, ...Array(rest).fill(false), true, ...Array(rest).fill(false)] as boolean[];
  const depth = options.depth !== undefined && options.depth > 0 ? Math.min(options.depth, channels.length) : channels.length;
  const keys = dartsEdgeKeys();
  const stemIn = useStem ? 3 : Math.min(3, C);

  const b = new PlanBuilder([useStem ? 3 : C * sm, H, W]);
  declareConv(b, 'stem.0.weight', C * sm, stemIn, 3);
  declareBn(b, 'stem.1', C * sm);
  {
    let cpp = C * sm, cp = C * sm, redPrev = false;
    for (let i = 0; i < depth; i++) {
      const cur = channels[i], red = reductions[i];
      const pre = `cells.${i}`;
      if (redPrev) declareFactorizedReduce(b, `${pre}.preprocess0`, cpp, cur);
      else declareReluConvBn(b, `${pre}.preprocess0`, cpp, cur);
      declareReluConvBn(b, `${pre}.preprocess1`, cp, cur);
      for (const k of keys) {
        const stride = red && Number(k.split('<-')[1]) < 2 ? 2 : 1;
        DARTS_OPS.forEach((op, o) => declareDartsOp(b, op, `${pre}.edges.${k}._ops.${o}`, cur, stride));
      }
      cpp = cp;
      cp = 4 * cur;
      redPrev = red;
    }
    declareBn(b, 'lastact.0', cp);
    b.param('classifier.weight', [classes, cp], 'linear-weight');
    b.param('classifier.bias', [classes], 'linear-bias');
  }

  let s0 = 0, s1 = 0;
  if (useStem) s0 = s1 = b.bn(b.conv(0, 'stem.0.weight', { padding: 1 }), 'stem.1');
  let redPrev = false;
  for (let i = 0; i < depth; i++) {
    const cur = channels[i], red = reductions[i];
    const pre = `cells.${i}`;
    const p0 = redPrev ? factorizedReduce(b, s0, `${pre}.preprocess0`) : reluConvBn(b, s0, `${pre}.preprocess0`, 1, 0);
    const p1 = reluConvBn(b, s1, `${pre}.preprocess1`, 1, 0);
    const states = [p0, p1];
    const cellSets = red ? sets.reduce : sets.normal;
    for (let n = 0; n < DARTS_STEPS; n++) {
      const terms: number[] = [];
      for (let j = 0; j < n + 2; j++) {
        const k = `${n}<-${j}`;
        const ops = cellSets[k];
        if (!ops) continue;
        const stride = red && j < 2 ? 2 : 1;
        for (const op of ops) terms.push(dartsOp(b, op, states[j], `${pre}.edges.${k}._ops.${DARTS_OPS.indexOf(op)}`, cur, stride));
      }
      states.push(b.sum(terms));
    }
    s0 = s1;
    s1 = b.node({ op: 'concat', inputs: states.slice(2) });
    redPrev = red;
  }
  const last = b.relu(b.bn(s1, 'lastact.0'));
  const pooled = b.node({ op: 'global_avgpool', input: last });
  const logits = b.node({ op: 'linear', input: pooled, weight: b.ref('classifier.weight'), bias: b.ref('classifier.bias') });
  return b.build(logits);
}

function declareReluConvBn(b: PlanBuilder, prefix: string, cin: number, cout: number): void {
  declareConv(b, `${prefix}.op.1.weight`, cout, cin, 1);
  declareBn(b, `${prefix}.op.2`, cout);
}

function reluConvBn(b: PlanBuilder, x: number, prefix: string, _k: number, padding: number): number {
  return b.bn(b.conv(b.relu(x), `${prefix}.op.1.weight`, { padding }), `${prefix}.op.2`);
}

/** FactorizedReduce: two stride-2 1x1 convs, the second on the input shifted by one pixel. */
function declareFactorizedReduce(b: PlanBuilder, prefix: string, cin: number, cout: number): void {
  const half = Math.floor(cout / 2);
  if (half < 1)
    throw new TegnasError('E_PLAN', `${prefix}: FactorizedReduce needs at least 2 output channels, got ${cout}`);
  declareConv(b, `${prefix}.convs.0.weight`, half, cin, 1);
  declareConv(b, `${prefix}.convs.1.weight`, cout - half, cin, 1);
  declareBn(b, `${prefix}.bn`, cout);
}

function factorizedReduce(b: PlanBuilder, x: number, prefix: string): number {
  const r = b.relu(x);
  const a = b.conv(r, `${prefix}.convs.0.weight`, { stride: 2 });
  const c = b.conv(b.node({ op: 'shift', input: r }), `${prefix}.convs.1.weight`, { stride: 2 });
  return b.bn(b.node({ op: 'concat', inputs: [a, c] }), `${prefix}.bn`);
}

function sepSpec(op: DartsOp): { k: number; dil: number; pad: number } {
  switch (op) {
    case 'sep_conv_3x3': return { k: 3, dil: 1, pad: 1 };
    case 'sep_conv_5x5': return { k: 5, dil: 1, pad: 2 };
    case 'dil_conv_3x3': return { k: 3, dil: 2, pad: 2 };
    default: return { k: 5, dil: 2, pad: 4 };
  }
}

/** SepConv: ReLU -> depthwise k x k -> pointwise 1x1 -> BN, module indices op.1, op.2, op.3. */
function declareSepConv(b: PlanBuilder, prefix: string, C: number, k: number): void {
  declareConv(b, `${prefix}.op.1.weight`, C, 1, k);
  declareConv(b, `${prefix}.op.2.weight`, C, C, 1);
  declareBn(b, `${prefix}.op.3`, C);
}

function sepConv(b: PlanBuilder, x: number, prefix: string, C: number, k: number, stride: number, pad: number, dil: number): number {
  const dw = b.conv(b.relu(x), `${prefix}.op.1.weight`, { stride, padding: pad, dilation: dil, groups: C });
  return b.bn(b.conv(dw, `${prefix}.op.2.weight`), `${prefix}.op.3`);
}

function declareDartsOp(b: PlanBuilder, op: DartsOp, prefix: string, C: number, stride: number): void {
  switch (op) {
    case 'skip_connect':
      if (stride !== 1) declareFactorizedReduce(b, prefix, C, C);
      return;
    case 'sep_conv_3x3':
    case 'sep_conv_5x5': {
      const { k } = sepSpec(op);
      declareSepConv(b, `${prefix}.op_a`, C, k);
      declareSepConv(b, `${prefix}.op_b`, C, k);
      return;
    }
    case 'dil_conv_3x3':
    case 'dil_conv_5x5':
      declareSepConv(b, prefix, C, sepSpec(op).k);
      return;
    default:
      return;
  }
}

function dartsOp(b: PlanBuilder, op: DartsOp, x: number, prefix: string, C: number, stride: number): number {
  switch (op) {
    case 'none':
      return b.node({ op: 'zero', input: x, channels: C, stride });
    case 'skip_connect':
      return stride === 1 ? x : factorizedReduce(b, x, prefix);
    case 'avg_pool_3x3':
      return b.node({ op: 'avgpool', input: x, kernel: 3, stride, padding: 1 });
    case 'max_pool_3x3':
      return b.node({ op: 'maxpool', input: x, kernel: 3, stride, padding: 1 });
    case 'sep_conv_3x3':
    case 'sep_conv_5x5': {
      const { k, pad } = sepSpec(op);
      const a = sepConv(b, x, `${prefix}.op_a`, C, k, stride, pad, 1);
      return sepConv(b, a, `${prefix}.op_b`, C, k, 1, pad, 1);
    }
    default: {
      const { k, pad, dil } = sepSpec(op);
      return sepConv(b, x, prefix, C, k, stride, pad, dil);
    }
  }
}
