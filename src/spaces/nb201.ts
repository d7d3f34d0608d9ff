/**
 * The NAS-Bench-201 search space: operations, arch strings and their validation.
 * Arch string: `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, edges in the order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
 */
import { TegnasError } from '../errors.js';

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
