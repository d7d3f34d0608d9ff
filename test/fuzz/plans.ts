/**
 * Random valid network plans for the fuzz tests, built from a list of small "instructions" (so fast-check
 * shrinks a failing plan to a few nodes), with every node's output shape and the live parameters
 * worked out here independently of the engine, as an oracle for NativeNet.info.
 */
import fc from 'fast-check';
import type { NetworkPlan, ParamKind, ParamSpec, PlanNode } from '../../src/plan/types.js';

export interface Instruction {
  op: number;
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface BuiltPlan {
  plan: NetworkPlan;
  /** (C, H, W) of every node's output, computed here. */
  shapes: [number, number, number][];
  /** Parameter indices read by nodes on a path to the output, ascending. */
  used: number[];
}

export const instruction: fc.Arbitrary<Instruction> = fc.record({
  op: fc.integer({ min: 0, max: 10 }),
  a: fc.nat({ max: 1000 }),
  b: fc.nat({ max: 1000 }),
  c: fc.nat({ max: 1000 }),
  d: fc.nat({ max: 1000 }),
});

export const planArbitrary: fc.Arbitrary<BuiltPlan> = fc
  .tuple(
    fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 })),
    fc.array(instruction, { minLength: 1, maxLength: 10 }),
    fc.nat(),
    fc.nat({ max: 2 }),
  )
  .map(([input, instrs, out, extra]) => buildPlan(input, instrs, out, extra));

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function windowOut(n: number, k: number, s: number, p: number, d: number): number {
  const span = d * (k - 1) + 1;
  return n + 2 * p < span ? 0 : Math.floor((n + 2 * p - span) / s) + 1;
}

export function buildPlan(input: [number, number, number], instrs: Instruction[], outPick: number, extraParams = 0): BuiltPlan {
  const params: ParamSpec[] = [];
  const nodes: PlanNode[] = [{ op: 'input' }];
  const shapes: [number, number, number][] = [input];
  const param = (shape: number[], kind: ParamKind): number => {
    const role = kind.endsWith('bias') ? 'bias' : 'weight';
    params.push({ name: `n${nodes.length}.${kind}.${role}`, shape, kind });
    return params.length - 1;
  };
  for (const ins of instrs) {
    const src = ins.a % nodes.length;
    const [C, H, W] = shapes[src];
    let node: PlanNode | undefined;
    let shape: [number, number, number] | undefined;
    switch (ins.op) {
      case 0: {
        const cout = 1 + (ins.b % 4);
        const groups = (ins.b >> 2) & 1 ? gcd(C, cout) : 1;
        let kh = [1, 3, 5][ins.c % 3], kw = [1, 3, 5][(ins.c >> 2) % 3];
        let sh = 1 + ((ins.c >> 4) % 2), sw = 1 + ((ins.c >> 5) % 2);
        let ph = (ins.d >> 1) % 3, pw = (ins.d >> 3) % 3;
        let dh = 1 + (ins.d % 2), dw = 1 + ((ins.d >> 5) % 2);
        let ho = windowOut(H, kh, sh, ph, dh), wo = windowOut(W, kw, sw, pw, dw);
        if (ho < 1 || wo < 1) {
          [kh, kw, sh, sw, ph, pw, dh, dw] = [1, 1, 1, 1, 0, 0, 1, 1];
          [ho, wo] = [H, W];
        }
        const weight = param([cout, C / groups, kh, kw], 'conv-weight');
        const n: PlanNode = { op: 'conv2d', input: src, weight };
        const pair = (x: number, y: number, dflt: number) => (x === y ? (x === dflt && (ins.b >> 4) & 1 ? undefined : x) : ([x, y] as [number, number]));
        const stride = pair(sh, sw, 1), padding = pair(ph, pw, 0), dilation = pair(dh, dw, 1);
        if (stride !== undefined) n.stride = stride;
        if (padding !== undefined) n.padding = padding;
        if (dilation !== undefined) n.dilation = dilation;
        if (groups !== 1 || (ins.b >> 5) & 1) n.groups = groups;
        if ((ins.b >> 3) & 1) n.bias = param([cout], 'linear-bias');
        node = n;
        shape = [cout, ho, wo];
        break;
      }
      case 1: {
        const n: PlanNode = { op: 'batchnorm', input: src, weight: param([C], 'bn-weight'), bias: param([C], 'bn-bias') };
        if (ins.b % 2) n.eps = 1e-3;
        node = n;
        shape = [C, H, W];
        break;
      }
      case 2:
        node = { op: 'relu', input: src };
        shape = [C, H, W];
        break;
      case 3:
        node = { op: 'shift', input: src };
        shape = [C, H, W];
        break;
      case 4:
        node = { op: 'global_avgpool', input: src };
        shape = [C, 1, 1];
        break;
      case 5:
      case 6: {
        let k = 1 + (ins.b % 3), s = 1 + ((ins.b >> 2) % 2), p = ins.c % (Math.floor(k / 2) + 1);
        let ho = windowOut(H, k, s, p, 1), wo = windowOut(W, k, s, p, 1);
        if (ho < 1 || wo < 1) {
          [k, s, p, ho, wo] = [1, 1, 0, H, W];
        }
        node = { op: ins.op === 5 ? 'avgpool' : 'maxpool', input: src, kernel: k, stride: s, padding: p };
        shape = [C, ho, wo];
        break;
      }
      case 7: {
        if (C * H * W > 256) break;
        const out = 1 + (ins.b % 5);
        const n: PlanNode = { op: 'linear', input: src, weight: param([out, C * H * W], 'linear-weight') };
        if ((ins.b >> 3) & 1) n.bias = param([out], 'linear-bias');
        node = n;
        shape = [out, 1, 1];
        break;
      }
      case 8:
      case 9: {
        const same = shapes.map((s, i) => [s, i] as const).filter(([s]) => s[1] === H && s[2] === W && (ins.op === 9 || s[0] === C)).map(([, i]) => i);
        const inputs = [src];
        let channels = C;
        for (const pick of [ins.b, ins.c, ins.d].slice(0, 1 + (ins.b % 3))) {
          const i = same[pick % same.length];
          if (channels + shapes[i][0] > 16) break;
          inputs.push(i);
          channels += shapes[i][0];
        }
        node = { op: ins.op === 8 ? 'add' : 'concat', inputs };
        shape = [ins.op === 8 ? C : channels, H, W];
        break;
      }
      case 10: {
        const channels = 1 + (ins.b % 4), stride = 1 + (ins.c % 2);
        node = { op: 'zero', input: src, channels, stride };
        shape = [channels, Math.ceil(H / stride), Math.ceil(W / stride)];
        break;
      }
    }
    if (node && shape) {
      nodes.push(node);
      shapes.push(shape);
    }
  }
  for (let i = 0; i < extraParams; i++) params.push({ name: `unused${i}.weight`, shape: [1 + i, 2], kind: 'linear-weight' });
  const output = nodes.length > 1 ? 1 + (outPick % (nodes.length - 1)) : 0;
  const live = new Array<boolean>(nodes.length).fill(false);
  live[output] = true;
  for (let i = nodes.length - 1; i >= 0; i--) if (live[i]) for (const j of inputsOf(nodes[i])) live[j] = true;
  const used = new Set<number>();
  nodes.forEach((n, i) => {
    if (!live[i]) return;
    if ('weight' in n) used.add(n.weight);
    if ('bias' in n && n.bias !== undefined) used.add(n.bias);
  });
  return { plan: { version: 1, input, params, nodes, output }, shapes, used: [...used].sort((x, y) => x - y) };
}

export function inputsOf(n: PlanNode): number[] {
  if (n.op === 'input') return [];
  if (n.op === 'add' || n.op === 'concat') return n.inputs;
  return [n.input];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Deterministic pseudo-random float values (a simple LCG, scaled), for parameters and inputs. */
export function values(n: number, seed: number, scale = 0.5, f64 = false): Float32Array | Float64Array {
  const out = f64 ? new Float64Array(n) : new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
