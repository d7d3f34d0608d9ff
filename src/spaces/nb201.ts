/**
 * The NAS-Bench-201 search space: operations, arch strings and their validation.
 * Arch string: `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, edges in the order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
 */
import { TegnasError } from '../errors.js';
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
    new TegnasError('E_ARCH', `invalid NAS-Bench-201 arch string ${JSON.stringify(arch)}: ${why}; expected the form |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops ${NB201_OPS.join(', ')}`);
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
      if (!m) throw bad(`'${p}' is not op~input`);
      if (Number(m[2]) !== j) throw bad(`'${p}' on node ${i + 1} must read input ${j}`);
      if (!isNb201Op(m[1])) throw bad(`unknown op '${m[1]}'`);
      ops.push(m[1]);
    });
  });
  return ops;
}

export function formatNb201(ops: readonly Nb201Op[]): ArchString {
  if (ops.length !== 6 || !ops.every((o) => isNb201Op(o)))
    throw new TegnasError('E_ARCH', `a NAS-Bench-201 arch needs 6 ops from ${NB201_OPS.join(', ')}, got ${JSON.stringify(ops)}`);
  return `|${ops[0]}~0|+|${ops[1]}~0|${ops[2]}~1|+|${ops[3]}~0|${ops[4]}~1|${ops[5]}~2|`;
}

/** Every NAS-Bench-201 architecture as op lists, edge 1<-0 varying slowest (base-5 digits in NB201_OPS order). */
export function allNb201(): Nb201Arch[] {
  const out: Nb201Arch[] = [];
  for (let code = 0; code < 5 ** 6; code++) {
    const ops: Nb201Op[] = [];
    let c = code;
    for (let e = 5; e >= 0; e--) {
      ops[e] = NB201_OPS[c % 5];
      c = Math.floor(c / 5);
    }
    out.push(ops);
  }
  return out;
}

/** A uniformly random architecture: an independent uniform op on each edge, as the reference draws them. */
export function randomNb201(rng: Rng): ArchString {
  return formatNb201(NB201_EDGES.map(() => NB201_OPS[rng.int(NB201_OPS.length)]));
}

/** Regularised evolution's mutation: one uniformly chosen edge gets one of the other four ops. */
export function mutateNb201(arch: ArchString, rng: Rng): ArchString {
  const ops = parseNb201(arch);
  const e = rng.int(ops.length);
  const others = NB201_OPS.filter((o) => o !== ops[e]);
  ops[e] = others[rng.int(others.length)];
  return formatNb201(ops);
}

/**
 * A key shared by architectures whose cells compute the same function (with the ops' own weights):
 * node values are built as expressions from node 0; `none` and anything reading a zero node is zero
 * and dropped from the sum (a sum of nothing is zero, written #); `skip_connect` passes its input's
 * expression through; other ops wrap it, `(x)@op`; the terms of a sum are sorted. The key is the
 * expression of node 3. This is the reference's `to_unique_str(consider_zero=True)` except that zero
 * terms are dropped rather than kept as '#' inside sums, so e.g. `x + 0` and `x` also share a key.
 */
export function nb201CanonicalKey(arch: ArchString | Nb201Arch): string {
  return cellExpression(arch, true);
}

/** Node 3's expression; zero terms dropped from sums (ours) or kept as '#' (the reference's rule). */
function cellExpression(arch: ArchString | Nb201Arch, dropZeros: boolean): string {
  const ops = typeof arch === 'string' ? parseNb201(arch) : arch;
  const nodes = ['0'];
  for (let to = 1; to < 4; to++) {
    const terms: string[] = [];
    NB201_EDGES.forEach(([t, from], e) => {
      if (t !== to) return;
      const x = nodes[from];
      if (ops[e] === 'none' || x === '#') {
        if (!dropZeros) terms.push('#');
      } else terms.push(ops[e] === 'skip_connect' ? x : `(${x})@${ops[e]}`);
    });
    terms.sort();
    nodes.push(terms.length ? terms.join('+') : '#');
  }
  return nodes[3];
}

/** The reference's own isomorphism key (`to_unique_str(consider_zero=True)`): 6,466 classes over the space. */
export function nb201ReferenceKey(arch: ArchString | Nb201Arch): string {
  return cellExpression(arch, false);
}
