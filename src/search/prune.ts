/**
 * TE-NAS pruning (Chen et al., ICLR 2021; spec section 5). Start from the supernet with every op but
 * `none` on every edge, the ops of an edge summed. Each round, for every op on an edge that still has
 * more than one op, compare the supernet with and without it on the same weights:
 *   delta_cond = (cond(supernet) - cond(without)) / cond(supernet),
 *   delta_regions = (regions(supernet) - regions(without)) / regions(supernet),
 * each averaged over `repeat` fresh initialisations and rounded to `precision` significant digits; rank
 * the ops by delta_cond descending and delta_regions ascending (ties share a rank), sum the ranks, and
 * on each edge prune the `pruneNumber` ops with the lowest sum. Repeat until one op per edge remains.
 * DARTS then keeps, per node, the 2 input edges with the best rank-sum, compared by removing each edge.
 *
 * The reference weights an edge's k ops by softmax of near-equal architecture parameters (about 1/k
 * each); tegnas sums them with weight 1 ("equal weight"), which changes the supernet's scale but not
 * which op's removal helps most in the NTK's BatchNorm-normalised ops.
 */
import { DARTS_GENOTYPE_OPS, DARTS_STEPS, type DartsOp, type DartsPair, type Genotype, dartsEdgeKeys, formatGenotype } from '../spaces/darts.js';
import { NB201_OPS, type Nb201Op, formatNb201 } from '../spaces/nb201.js';
import type { TegScores } from '../scoring/indicators.js';
import type { Architecture } from '../scoring/scorer.js';
import { ranks } from './ranking.js';
import { SearchLog, type Evaluation, type Evaluator, type SearchOptions, type SearchResult } from './types.js';

export interface PruneOptions extends SearchOptions {
  /** Ops pruned per edge per round (default 1 for NAS-Bench-201, 3 for DARTS on CIFAR-10). */
  pruneNumber?: number;
  /** Significant digits of the deltas (default 3). */
  precision?: number;
  /** A fresh evaluator per round (fresh initialisations); default: the one given, for every round. */
  evaluatorForRound?: (round: number) => Evaluator;
  /** Scores the final architecture with this evaluator (e.g. the full TEG scorer); default: the pruning one. */
  finalEvaluator?: Evaluator;
}

/** The supernet state: the ops on each edge, edges identified as `${cell}:${key}`. */
type Sets = Map<string, string[]>;

function roundSig(v: number, digits: number): number {
  return v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(digits));
}

function toArchitecture(space: 'nas-bench-201' | 'darts', sets: Sets): Architecture {
  if (space === 'nas-bench-201') return [...sets.values()].map((ops) => ops as Nb201Op[]);
  const sel = { normal: {} as Record<string, DartsOp[]>, reduce: {} as Record<string, DartsOp[]> };
  for (const [id, ops] of sets) {
    const [cell, key] = id.split(':') as ['normal' | 'reduce', string];
    if (ops.length) sel[cell][key] = ops as DartsOp[];
  }
  return sel;
}

export async function prune(evaluator: Evaluator, options: PruneOptions = {}): Promise<SearchResult> {
  const space = evaluator.space;
  const pruneNumber = options.pruneNumber ?? (space === 'darts' ? 3 : 1);
  const precision = options.precision ?? 3;
  const sets: Sets = new Map();
  if (space === 'nas-bench-201') {
    for (let e = 0; e < 6; e++) sets.set(`cell:${e}`, NB201_OPS.filter((o) => o !== 'none'));
  } else {
    for (const cell of ['normal', 'reduce']) for (const k of dartsEdgeKeys()) sets.set(`${cell}:${k}`, [...DARTS_GENOTYPE_OPS]);
  }
  const opsPerEdge = sets.values().next().value!.length;
  const rounds = Math.ceil((opsPerEdge - 1) / pruneNumber) + (space === 'darts' ? 1 : 0);
  const log = new SearchLog('prune', evaluator, options, rounds, ['cond', 'regions']);
  const evalIn = (ev: Evaluator, sets_: Sets): Promise<Evaluation> => log.evaluate(toArchitecture(space, sets_), {}, ev);
  const cond = (s: TegScores) => s.cond ?? log.worst.cond;

  let round = 0;
  while ([...sets.values()].some((ops) => ops.length > 1)) {
    const ev = options.evaluatorForRound?.(round) ?? evaluator;
    const base = (await evalIn(ev, sets)).scores;
    // Every candidate supernet of the round is independent of the others: score them together.
    const pending: { id: string; op: string; arch: Architecture }[] = [];
    for (const [id, ops] of sets) {
      if (ops.length <= 1) continue;
      for (const op of ops) {
        const without = new Map(sets);
        without.set(id, ops.filter((o) => o !== op));
        pending.push({ id, op, arch: toArchitecture(space, without) });
      }
    }
    const scored = await log.evaluateMany(pending.map((p) => p.arch), ev);
    const candidates = pending.map(({ id, op }, i) => {
      const s = scored[i].scores;
      return {
        id,
        op,
        dCond: roundSig((cond(base) - cond(s)) / cond(base), precision),
        dRegions: roundSig((base.regions - s.regions) / base.regions, precision),
      };
    });
    const rc = ranks(candidates.map((c) => c.dCond), true);
    const rr = ranks(candidates.map((c) => c.dRegions), false);
    const sum = candidates.map((_, i) => rc[i] + rr[i]);
    for (const [id, ops] of sets) {
      const mine = candidates.map((c, i) => ({ c, s: sum[i], i })).filter((x) => x.c.id === id).sort((a, b) => a.s - b.s || a.i - b.i);
      const drop = new Set(mine.slice(0, Math.min(pruneNumber, ops.length - 1)).map((x) => x.c.op));
      sets.set(id, ops.filter((o) => !drop.has(o)));
    }
    round++;
    log.progress(round);
  }

  let arch: string;
  if (space === 'nas-bench-201') {
    arch = formatNb201([...sets.values()].map((ops) => ops[0] as Nb201Op));
  } else {
    // Per node, keep the 2 input edges whose removal hurts most (same rank-sum, over a node's edges).
    const ev = options.evaluatorForRound?.(round) ?? evaluator;
    const base = (await evalIn(ev, sets)).scores;
    const cells: Record<'normal' | 'reduce', DartsPair[]> = { normal: [], reduce: [] };
    for (const cell of ['normal', 'reduce'] as const) {
      for (let node = 0; node < DARTS_STEPS; node++) {
        const edges = Array.from({ length: node + 2 }, (_, j) => j);
        let keep = edges;
        if (edges.length > 2) {
          const scored = await log.evaluateMany(
            edges.map((j) => {
              const without = new Map(sets);
              without.set(`${cell}:${node}<-${j}`, []);
              return toArchitecture(space, without);
            }),
            ev,
          );
          const ds = edges.map((j, i) => {
            const s = scored[i].scores;
            return { j, dCond: roundSig((cond(base) - cond(s)) / cond(base), precision), dRegions: roundSig((base.regions - s.regions) / base.regions, precision) };
          });
          // Removing an edge worth keeping raises cond (delta_cond most negative) and lowers regions.
          const rc = ranks(ds.map((d) => d.dCond), false);
          const rr = ranks(ds.map((d) => d.dRegions), true);
          keep = ds.map((d, i) => ({ j: d.j, s: rc[i] + rr[i], i })).sort((a, b) => a.s - b.s || a.i - b.i).slice(0, 2).map((x) => x.j).sort((a, b) => a - b);
        }
        for (const j of keep) cells[cell].push([sets.get(`${cell}:${node}<-${j}`)![0] as DartsOp, j]);
      }
    }
    const g: Genotype = { normal: cells.normal, normalConcat: [2, 3, 4, 5], reduce: cells.reduce, reduceConcat: [2, 3, 4, 5] };
    arch = formatGenotype(g);
    round++;
    log.progress(round);
  }
  return log.result(await log.evaluate(arch, {}, options.finalEvaluator ?? evaluator));
}
