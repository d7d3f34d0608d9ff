/**
 * The NAS-Bench-201 search space: operations, arch strings and their validation.
 * Arch string: `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, edges in the order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
 */
import { TegnasError, showValue } from '../errors.js';
import type { Rng } from '../weights/rng.js';

export const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export type Nb201Op = (typeof NB201_OPS)[number];

/** The six edges as [to, from], in arch-string order. */
export const NB201_EDGES: readonly (readonly [number, number])[] = [
  [1, 0],
  [2, 0],
  [2, 1],
  [3, 0],
  [3, 1],
  [3, 2],
];

/** An arch string in the official format. */
export type ArchString = string;

/** The op on each of the six edges, in NB201_EDGES order. */
export type Nb201Arch = Nb201Op[];

export function isNb201Op(s: string): s is Nb201Op {
  return (NB201_OPS as readonly string[]).includes(s);
}

export function parseNb201(arch: string): Nb201Arch {
  const bad = (why: string) =>
    new TegnasError('E_ARCH', `invalid NAS-Bench-201 arch string ${showValue(arch)}: ${why}; expected the form |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops ${NB201_OPS.join(', ')}`);
  if (typeof arch !== 'string') throw bad('not a string');
  const nodes = arch.split('+');
  if (nodes.length !== 3) throw bad(`expected 3 nodes separated by '+', found ${nodes.length}`);
  const ops: Nb201Op[] = [];
  nodes.forEach((node, i) => {
    if (!node.startsWith('|') || !node.endsWith('|') || node.length < 2) throw bad(`node ${i + 1} must start and end with '|'`);
    const parts = node.slice(1, -1).split('|');
    if (parts.length !== i + 1) throw bad(`node ${i + 1} must have ${i + 1} input(s), found ${parts.length}`);
    parts.forEach((p, j) => {
      const m = /^([a-z0-9_]+)~(\d+)$/.exec(p);
      const part = p.length <= 60 ? `'${p}'` : showValue(p, 60);
      if (!m) throw bad(`${part} is not op~input`);
      // Exactly the digit of the input (no leading zeros), so that every accepted string is canonical.
      if (m[2] !== String(j)) throw bad(`${part} on node ${i + 1} must read input ${j} (written ~${j})`);
      if (!isNb201Op(m[1])) throw bad(`unknown op '${m[1]}'`);
      ops.push(m[1]);
    });
  });
  return ops;
}

export function formatNb201(ops: readonly Nb201Op[]): ArchString {
  checkOps(ops);
  return `|${ops[0]}~0|+|${ops[1]}~0|${ops[2]}~1|+|${ops[3]}~0|${ops[4]}~1|${ops[5]}~2|`;
}

/** The number of NAS-Bench-201 architectures, 5^6. */
export const NB201_SIZE = 15625;

/**
 * An architecture's code in 0..15,624: its six ops as base-5 digits (NB201_OPS index), edge 1<-0 the
 * most significant digit, then 2<-0, 2<-1, 3<-0, 3<-1, 3<-2. Not the official NAS-Bench-201 index
 * (that is the benchmark's row order: `nb201Index` in benchmarks/nb201).
 */
export function nb201Code(arch: ArchString | readonly Nb201Op[]): number {
  const ops = typeof arch === 'string' ? parseNb201(arch) : checkOps(arch);
  return ops.reduce((c, op) => c * 5 + NB201_OPS.indexOf(op), 0);
}

/** The op list of a code from `nb201Code`. */
export function nb201FromCode(code: number): Nb201Arch {
  if (!Number.isInteger(code) || code < 0 || code >= NB201_SIZE)
    throw new TegnasError('E_ARCH', `a NAS-Bench-201 code must be an integer in 0..${NB201_SIZE - 1}, got ${showValue(code)}`);
  const ops: Nb201Op[] = [];
  for (let e = 5; e >= 0; e--) {
    ops[e] = NB201_OPS[code % 5];
    code = Math.floor(code / 5);
  }
  return ops;
}

/**
 * Every NAS-Bench-201 architecture as op lists, in code order (`nb201Code` = array position): edge 1<-0
 * varies slowest, 3<-2 fastest, each through NB201_OPS order; the first is all `none`, the last all
 * `avg_pool_3x3`.
 */
export function allNb201(): Nb201Arch[] {
  return Array.from({ length: NB201_SIZE }, (_, code) => nb201FromCode(code));
}

/** A uniformly random architecture: an independent uniform op on each edge, as the reference draws them. */
export function randomNb201(rng: Rng): ArchString {
  return formatNb201(NB201_EDGES.map(() => NB201_OPS[rng.int(NB201_OPS.length)]));
}

/** Regularised evolution's mutation: one uniformly chosen edge gets one of the other four ops, uniformly. */
export function mutateNb201(arch: ArchString, rng: Rng): ArchString {
  const ops = parseNb201(arch);
  const e = rng.int(ops.length);
  const others = NB201_OPS.filter((o) => o !== ops[e]);
  ops[e] = others[rng.int(others.length)];
  return formatNb201(ops);
}

function checkOps(ops: readonly Nb201Op[]): Nb201Arch {
  if (!Array.isArray(ops) || ops.length !== 6 || !ops.every((o) => typeof o === 'string' && isNb201Op(o)))
    throw new TegnasError('E_ARCH', `a NAS-Bench-201 arch needs 6 ops from ${NB201_OPS.join(', ')}, got ${showValue(ops)}`);
  return [...ops];
}

/** The canonical key of every dead cell (no path of non-`none` ops from node 0 to node 3). */
export const NB201_DEAD_KEY = '#';

/**
 * A key shared exactly by the architectures whose cells are the same computation.
 *
 * The cell is rewritten as a graph of op instances, then written in a canonical form:
 * 1. Node 0 (the cell input) is written `0`. Every `nor_conv_1x1`, `nor_conv_3x3` or `avg_pool_3x3`
 *    edge is an op instance; a node's value is the multiset (a sum, so order-free) of the instances
 *    and inputs added into it.
 * 2. `none` edges are dropped; so is every edge out of a node whose value is empty (no path from node
 *    0), which makes that edge zero too.
 * 3. `skip_connect` is the identity: it adds its source node's whole multiset to its target, so sums
 *    are flattened (associative) and a value reached by two routes counts twice (`0+0` is 2x).
 * 4. Only instances the output (node 3) depends on are kept: edges and nodes on no path from node 0
 *    to node 3 are dropped. If node 3's value is empty the cell is dead: key `#` (NB201_DEAD_KEY).
 * 5. The kept instances are ordered by depth (longest chain of instances from the input), then by
 *    their expression text (`op(input terms, sorted)`, inputs written out recursively), and named
 *    a, b, c, ... in that order; instances tied on both are named in whichever order gives the
 *    smallest key, so the key does not depend on which edge held them.
 * 6. Key = `a=op(inputs);b=op(inputs);...;out=terms`, each input or output sum its names sorted,
 *    repeated as often as counted, e.g. `a=nor_conv_3x3(0);b=avg_pool_3x3(0+a);out=0+b`.
 *
 * Two instances are one only if they are the same edge: `conv_a(x) + conv_b(x)` (two convolutions with
 * their own weights) and `2 conv_a(x)` (one convolution reached twice through skips) get different
 * keys, since they differ in parameters and in function. So cells with one key have the same
 * parameters, FLOPs and indicator distribution, and caching scores by key is sound. The key stops at
 * structure: algebraic identities of the parameter-free pool (avg_pool(x) + avg_pool(x) taken on two
 * edges equals 2 avg_pool(x); the pool is linear) are not applied, so a few cells computing the same
 * function keep separate keys. Over all 15,625 architectures there are 5,425 keys.
 *
 * The reference's rule (`nb201ReferenceKey`) gives 6,466 classes: it keeps zeros as `#` terms, does
 * not flatten sums reached through skips (so `x+(y+z)` and `y+(x+z)` differ) and cannot tell shared
 * from separate instances (it merges `conv_a(x) + conv_b(x)` with `2 conv_a(x)`).
 */
export function nb201CanonicalKey(arch: ArchString | readonly Nb201Op[]): string {
  const ops = typeof arch === 'string' ? parseNb201(arch) : checkOps(arch);
  const INPUT = -1;
  const instOp: Nb201Op[] = [];
  const instIn: number[][] = [];
  const values: number[][] = [[INPUT]];
  for (let to = 1; to < 4; to++) {
    const value: number[] = [];
    NB201_EDGES.forEach(([t, from], e) => {
      if (t !== to || ops[e] === 'none' || values[from].length === 0) return;
      if (ops[e] === 'skip_connect') value.push(...values[from]);
      else {
        instOp.push(ops[e]);
        instIn.push(values[from]);
        value.push(instOp.length - 1);
      }
    });
    values.push(value);
  }
  const out = values[3];
  if (out.length === 0) return NB201_DEAD_KEY;

  // Instances node 3 depends on (inputs always have smaller ids, so one backward sweep finds them).
  const live = new Set<number>(out.filter((v) => v !== INPUT));
  for (let v = instOp.length - 1; v >= 0; v--) if (live.has(v)) for (const u of instIn[v]) if (u !== INPUT) live.add(u);
  const depth = new Map<number, number>();
  const text = new Map<number, string>();
  const expr = (v: number): string => (v === INPUT ? '0' : text.get(v)!);
  for (const v of [...live].sort((a, b) => a - b)) {
    depth.set(v, 1 + Math.max(...instIn[v].map((u) => (u === INPUT ? 0 : depth.get(u)!))));
    text.set(v, `${instOp[v]}(${instIn[v].map(expr).sort().join('+')})`);
  }
  const order = [...live].sort((a, b) => depth.get(a)! - depth.get(b)! || (text.get(a)! < text.get(b)! ? -1 : text.get(a)! > text.get(b)! ? 1 : 0));
  // Groups of instances tied on (depth, text): only their order within the group is free.
  const groups: number[][] = [];
  for (const v of order) {
    const g = groups[groups.length - 1];
    if (g && depth.get(g[0]) === depth.get(v) && text.get(g[0]) === text.get(v)) g.push(v);
    else groups.push([v]);
  }
  const encode = (labelled: number[]): string => {
    const name = new Map<number, string>([[INPUT, '0']]);
    labelled.forEach((v, i) => name.set(v, String.fromCharCode(97 + i)));
    const sum = (terms: number[]) => terms.map((u) => name.get(u)!).sort().join('+');
    return [...labelled.map((v) => `${name.get(v)}=${instOp[v]}(${sum(instIn[v])})`), `out=${sum(out)}`].join(';');
  };
  let best: string | undefined;
  const choose = (g: number, prefix: number[]): void => {
    if (g === groups.length) {
      const key = encode(prefix);
      if (best === undefined || key < best) best = key;
      return;
    }
    for (const perm of permutations(groups[g])) choose(g + 1, [...prefix, ...perm]);
  };
  choose(0, []);
  return best!;
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [xs.slice()];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/**
 * The reference's own isomorphism key (`Structure.to_unique_str(consider_zero=True)`), kept to compare
 * with the NAS-Bench-201 paper: 6,466 classes over the space. Node values are strings built from node
 * 0 (`0`); a `none` edge, or an edge out of a node whose string is exactly `#`, is the term `#`;
 * `skip_connect` passes its source's string; other ops write `(source)@op`; a node is its terms
 * sorted and joined with `+`; the key is node 3's string.
 */
export function nb201ReferenceKey(arch: ArchString | readonly Nb201Op[]): string {
  const ops = typeof arch === 'string' ? parseNb201(arch) : checkOps(arch);
  const nodes = ['0'];
  for (let to = 1; to < 4; to++) {
    const terms: string[] = [];
    NB201_EDGES.forEach(([t, from], e) => {
      if (t !== to) return;
      const x = nodes[from];
      if (ops[e] === 'none' || x === '#') terms.push('#');
      else terms.push(ops[e] === 'skip_connect' ? x : `(${x})@${ops[e]}`);
    });
    nodes.push(terms.sort().join('+'));
  }
  return nodes[3];
}
