/**
 * The DARTS search space: operations, genotypes and the DARTS `Genotype(...)` text.
 * A cell has 4 intermediate nodes; node k (state k + 2) sums two (op, input state) pairs, input
 * states 0..k+1. A genotype lists 8 pairs per cell, 2 per node, in node order.
 */
import { TegnasError, showValue } from '../errors.js';
import type { Rng } from '../weights/rng.js';

export const DARTS_OPS = [
  'none',
  'skip_connect',
  'sep_conv_3x3',
  'sep_conv_5x5',
  'dil_conv_3x3',
  'dil_conv_5x5',
  'avg_pool_3x3',
  'max_pool_3x3',
] as const;
export type DartsOp = (typeof DARTS_OPS)[number];

export type DartsPair = [DartsOp, number];

export interface Genotype {
  normal: DartsPair[];
  normalConcat: number[];
  reduce: DartsPair[];
  reduceConcat: number[];
}

export const DARTS_STEPS = 4;

export function isDartsOp(s: string): s is DartsOp {
  return (DARTS_OPS as readonly string[]).includes(s);
}

/** Throws TegnasError('E_ARCH') naming the first problem of a genotype. */
export function validateGenotype(g: Genotype): Genotype {
  const bad = (why: string) => new TegnasError('E_ARCH', `invalid DARTS genotype: ${why}`);
  if (!g || typeof g !== 'object') throw bad('expected an object with normal, normalConcat, reduce, reduceConcat');
  for (const cell of ['normal', 'reduce'] as const) {
    const pairs = g[cell];
    if (!Array.isArray(pairs) || pairs.length !== 2 * DARTS_STEPS)
      throw bad(`${cell} must list ${2 * DARTS_STEPS} (op, input) pairs, got ${Array.isArray(pairs) ? pairs.length : showValue(pairs)}`);
    pairs.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2) throw bad(`${cell}[${i}] must be an (op, input) pair`);
      const [op, input] = p;
      const node = Math.floor(i / 2);
      if (typeof op !== 'string' || !isDartsOp(op)) throw bad(`${cell}[${i}]: unknown op ${showValue(op)}; expected one of ${DARTS_OPS.join(', ')}`);
      if (!Number.isInteger(input) || input < 0 || input > node + 1)
        throw bad(`${cell}[${i}]: node ${node} may read states 0..${node + 1}, got ${showValue(input)}`);
    });
    for (let k = 0; k < DARTS_STEPS; k++)
      if (pairs[2 * k][1] === pairs[2 * k + 1][1]) throw bad(`${cell} node ${k} reads state ${pairs[2 * k][1]} twice; its two inputs must differ`);
    const concat = g[cell === 'normal' ? 'normalConcat' : 'reduceConcat'];
    if (!Array.isArray(concat) || concat.length !== 4 || concat.some((v, i) => v !== i + 2))
      throw bad(`${cell}_concat must be [2, 3, 4, 5], got ${showValue(concat)}`);
  }
  return g;
}

/** Parses the DARTS text `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=...)`. */
export function parseGenotype(text: string): Genotype {
  const bad = (why: string) => new TegnasError('E_ARCH', `invalid DARTS genotype text: ${why}; expected Genotype(normal=[('op', input), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])`);
  if (typeof text !== 'string') throw bad(`not a string but ${showValue(text, 60)}`);
  const m = /^\s*Genotype\s*\((.*)\)\s*$/s.exec(text);
  if (!m) throw bad('missing Genotype( ... )');
  const fields = new Map<string, string>();
  const re = /\s*(normal_concat|reduce_concat|normal|reduce)\s*=\s*(\[[^\]]*(?:\][^\]]*)*?\]|range\(\s*\d+\s*,\s*\d+\s*\))\s*(,|$)/gy;
  let body = m[1];
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const f = re.exec(body);
    if (!f) throw bad(`cannot read the text at ${JSON.stringify(body.slice(pos, pos + 30))}`);
    if (fields.has(f[1])) throw bad(`field ${f[1]} appears twice`);
    fields.set(f[1], f[2]);
    pos = re.lastIndex;
    if (body.slice(pos).trim() === '') break;
  }
  body = '';
  const pairsOf = (name: string): DartsPair[] => {
    const s = fields.get(name);
    if (s === undefined) throw bad(`missing ${name}=`);
    const inner = s.trim().slice(1, -1);
    const out: DartsPair[] = [];
    const pr = /\s*\(\s*'([^']*)'\s*,\s*(\d+)\s*\)\s*(,|$)/y;
    let p = 0;
    while (p < inner.length && inner.slice(p).trim() !== '') {
      pr.lastIndex = p;
      const x = pr.exec(inner);
      if (!x) throw bad(`${name}: cannot read a ('op', input) pair at ${JSON.stringify(inner.slice(p, p + 30))}`);
      out.push([x[1] as DartsOp, Number(x[2])]);
      p = pr.lastIndex;
    }
    return out;
  };
  const concatOf = (name: string): number[] => {
    const s = fields.get(name);
    if (s === undefined) return [2, 3, 4, 5];
    const r = /^range\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(s.trim());
    if (r) {
      const [a, b] = [Number(r[1]), Number(r[2])];
      // A cell concatenates at most its few states: refuse a long range before expanding it.
      if (!(b - a <= 64)) throw bad(`${name}: ${showValue(s.trim(), 60).replace(/^"|"$/g, '')} holds ${r[2]} - ${r[1]} values; expected range(2, 6)`);
      return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
    }
    const inner = s.trim().slice(1, -1).trim();
    if (inner === '') return [];
    return inner.split(',').map((v) => {
      if (!/^\s*\d+\s*$/.test(v)) throw bad(`${name}: ${showValue(v.trim(), 60)} is not an integer`);
      return Number(v);
    });
  };
  return validateGenotype({
    normal: pairsOf('normal'),
    normalConcat: concatOf('normal_concat'),
    reduce: pairsOf('reduce'),
    reduceConcat: concatOf('reduce_concat'),
  });
}

export function formatGenotype(g: Genotype): string {
  validateGenotype(g);
  const pairs = (ps: DartsPair[]) => `[${ps.map(([o, i]) => `('${o}', ${i})`).join(', ')}]`;
  return `Genotype(normal=${pairs(g.normal)}, normal_concat=[${g.normalConcat.join(', ')}], reduce=${pairs(g.reduce)}, reduce_concat=[${g.reduceConcat.join(', ')}])`;
}

/** Edge key of the reference cell: `${node}<-${input state}`. */
export function dartsEdgeKeys(): string[] {
  const keys: string[] = [];
  for (let i = 0; i < DARTS_STEPS; i++) for (let j = 0; j < i + 2; j++) keys.push(`${i}<-${j}`);
  return keys;
}

/** The ops a DARTS genotype may use (the reference never selects `none`). */
export const DARTS_GENOTYPE_OPS = DARTS_OPS.filter((o) => o !== 'none');

function cellPairs(rng: Rng): DartsPair[] {
  const pairs: DartsPair[] = [];
  for (let k = 0; k < DARTS_STEPS; k++) {
    // The reference keeps the 2 input edges whose best non-none weight is largest, strongest first, and
    // on each the op of largest weight: with uniform random weights, a uniform pair of distinct input
    // states in uniform random order, and on each an independent uniform op other than `none`.
    for (const input of rng.sample(Array.from({ length: k + 2 }, (_, i) => i), 2))
      pairs.push([DARTS_GENOTYPE_OPS[rng.int(DARTS_GENOTYPE_OPS.length)], input]);
  }
  return pairs;
}

/**
 * A random genotype as the reference's evolution and random search draw one (the DARTS parse of
 * uniform random architecture weights, torch.rand(14, 8) per cell): for each node of each cell two
 * distinct input states, uniformly, listed in random order, each with a uniform op from
 * DARTS_GENOTYPE_OPS (never `none`).
 */
export function randomGenotype(rng: Rng): Genotype {
  return { normal: cellPairs(rng), normalConcat: [2, 3, 4, 5], reduce: cellPairs(rng), reduceConcat: [2, 3, 4, 5] };
}

/**
 * Regularised evolution's DARTS mutation; the child differs from the parent in exactly one (op, input)
 * pair. A fair coin picks the kind of change, then the normal or reduction cell is picked uniformly:
 * - rewire (topology): a node uniformly among nodes 1..3 (node 0 can only read states 0 and 1, which
 *   it already does), one of its two inputs uniformly, moved to a uniform state among those the node
 *   does not read yet, so its inputs stay distinct;
 * - op: a node uniformly among 0..3, one of its two pairs uniformly, its op replaced by a uniform other
 *   op from DARTS_GENOTYPE_OPS.
 * The reference draws the new input among all the node's states, so its child may be unchanged or read
 * one state twice; tegnas keeps every child a valid, different genotype.
 */
export function mutateGenotype(g: Genotype, rng: Rng): Genotype {
  validateGenotype(g);
  const child: Genotype = {
    normal: g.normal.map(([o, i]) => [o, i] as DartsPair),
    normalConcat: [...g.normalConcat],
    reduce: g.reduce.map(([o, i]) => [o, i] as DartsPair),
    reduceConcat: [...g.reduceConcat],
  };
  const rewire = rng.int(2) === 0;
  const cell = rng.int(2) === 0 ? child.normal : child.reduce;
  if (rewire) {
    const node = 1 + rng.int(DARTS_STEPS - 1);
    const slot = 2 * node + rng.int(2);
    const used = [cell[2 * node][1], cell[2 * node + 1][1]];
    const inputs = Array.from({ length: node + 2 }, (_, i) => i).filter((i) => !used.includes(i));
    cell[slot][1] = inputs[rng.int(inputs.length)];
  } else {
    const slot = 2 * rng.int(DARTS_STEPS) + rng.int(2);
    const ops = DARTS_GENOTYPE_OPS.filter((o) => o !== cell[slot][0]);
    cell[slot][0] = ops[rng.int(ops.length)];
  }
  return validateGenotype(child);
}

/**
 * Canonical text for caching: the genotype's DARTS text with each node's two (op, input) pairs sorted
 * by input state (then op), so genotypes that differ only in the order of a node's inputs share it.
 */
export function genotypeKey(g: Genotype): string {
  validateGenotype(g);
  const sortCell = (pairs: DartsPair[]) => {
    const out: DartsPair[] = [];
    for (let k = 0; k < DARTS_STEPS; k++) out.push(...[pairs[2 * k], pairs[2 * k + 1]].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])));
    return out;
  };
  return formatGenotype({ ...g, normal: sortCell(g.normal), reduce: sortCell(g.reduce) });
}
