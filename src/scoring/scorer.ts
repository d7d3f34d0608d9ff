/**
 * The scorer of a search: the reference's networks and batches, fixed once (repeat x initialised NTK
 * and thin supernets, one NTK batch, one validation batch, the region crops), then `score(arch)` for
 * any number of architectures, cached by canonical key: members of a class share the NTK indicators,
 * and each gets its own linear regions, NASWOT and cost (which count ops that run but do not reach the
 * output).
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { type IndicatorBatches, batchesFromInputsFile, indicatorBatches } from '../data/batches.js';
import { type DatasetName, datasetInfo } from '../data/datasets.js';
import { TegnasError } from '../errors.js';
import { BACKEND_CHOICES, type BackendChoice, type BackendName, type FloatArray, NativeNet, nativeVersion, resolveBackend } from '../native.js';
import { paramGroupIndices } from '../network.js';
import { Network } from '../network.js';
import { type DartsSelection, type DartsSupernetSelection, buildDartsNetwork, dartsEdgeSets } from '../plan/darts-network.js';
import { type Nb201Selection, buildTinyNetwork, nb201EdgeSets } from '../plan/tiny-network.js';
import type { NetworkPlan } from '../plan/types.js';
import { type Genotype, formatGenotype, genotypeKey, parseGenotype } from '../spaces/darts.js';
import { type Nb201Op, formatNb201, nb201CanonicalKey, parseNb201 } from '../spaces/nb201.js';
import { ScoreDb, type ScoreMeta } from '../store/score-db.js';
import { INIT_NAMES, type InitName, initParams } from '../weights/init.js';
import { readSafetensors } from '../weights/safetensors.js';
import { planCost } from './cost.js';
import { type RepeatScores, SPACES, type SpaceName, type TegScores } from './indicators.js';

export interface ScorerOptions {
  space: SpaceName;
  dataset?: DatasetName;
  dataDir?: string;
  seed?: number;
  /** Independently initialised networks per indicator (default 3). */
  repeat?: number;
  /** Initialiser of the NTK networks (default torch-default, as the reference's RL and evolution runs). */
  init?: InitName;
  /** Initialiser of the thin networks (default: the same as `init`). */
  thinInit?: InitName;
  /** NTK and validation batch size (default 64). */
  batchSize?: number;
  /** A different NTK batch per repeat (default false: the reference reuses one). */
  batchPerRepeat?: boolean;
  /** Safetensors file with `ntk.<r>.<name>` and `thin.<r>.<name>` for every repeat r. */
  weights?: string;
  /** Safetensors file with `ntk.x`, `ntk.y`, `val.x`, `val.y`, `regions.x`. */
  inputs?: string;
  /** Batches given directly (instead of `dataset` / `inputs`). */
  batches?: IndicatorBatches;
  /** Native threads of the CPU backend (default: all cores). */
  threads?: number;
  /**
   * Where the indicators are computed: `cpu`, `cuda` (TegnasError `E_BACKEND` from the constructor,
   * naming the reason, when the GPU cannot be used), or `auto` (default): the GPU when the addon was
   * built with CUDA and its backend works here (see backendInfo()), else the CPU. The two agree to
   * rounding (float32: about 1e-6 relative in the gradients); a score database does not record which
   * one computed a score.
   */
  backend?: BackendChoice;
  /** Compute the regression error (default true). */
  mse?: boolean;
  /** Compute NASWOT (default true). */
  naswot?: boolean;
  /**
   * Cache scores (default true): the NTK indicators (cond, mse) by canonical key, since the members of
   * a class compute the same function; linear regions, NASWOT and cost by arch, since they also count
   * ops that run without reaching the output (as in the reference). A class hit costs a few ms.
   */
  cache?: boolean;
  /**
   * Arithmetic of the NTK networks (default float32, as the reference). float32 gradients carry ~1e-6
   * relative error, which moves a condition number by about 1e-6 x cond; float64 is ~2x slower and
   * agrees with a float64 PyTorch to ~1e-7. The thin networks for linear regions always run in float64
   * (they are tiny), so the region count does not depend on rounding near zero.
   */
  precision?: 'float32' | 'float64';
  /**
   * A score database (a file, created if missing, or an open ScoreDb) made with these same options
   * (else TegnasError `E_DB` from the constructor). An architecture whose canonical class is stored is
   * not scored: the stored scores are returned, with `arch` the one asked for (as the in-memory cache
   * does); one not stored is scored and added. Supernets are never stored.
   */
  db?: string | ScoreDb;
  /**
   * With `db`: use a stored score only if it was computed for this very arch string, not another
   * member of its class. Members of a class compute the same function but on different edges, so
   * with different initial weights and slightly different scores; exact lookups make a search's
   * results the same as without the database whatever members it holds (default false).
   */
  dbExact?: boolean;
}

/**
 * An architecture: an NB201 arch string, a DARTS genotype text or object; or a supernet with a set of
 * ops per edge, summed (an NB201 list of 6 op sets, a DARTS map of edge keys to op lists per cell).
 */
export type Architecture = string | Genotype | Nb201Op[][] | DartsSupernetSelection;

/** Text of an NB201 supernet: the arch-string layout with the ops of an edge joined by ','. */
export function formatNb201Supernet(sets: Nb201Op[][]): string {
  const e = nb201EdgeSets(sets).map((ops) => ops.join(','));
  return `|${e[0]}~0|+|${e[1]}~0|${e[2]}~1|+|${e[3]}~0|${e[4]}~1|${e[5]}~2|`;
}

interface SpaceSpec {
  /** Builder options of the three networks (recorded in a score database's meta). */
  shapes: { ntk: object; thin: object; evaluation: object };
  ntk: (arch: Architecture, classes: number) => NetworkPlan;
  thin: (arch: Architecture, classes: number) => NetworkPlan;
  evaluation: (arch: Architecture, classes: number, inputSize: number) => NetworkPlan;
  normalise: (arch: Architecture) => { text: string; key: string };
}

const NB201_SHAPES = { ntk: { C: 3, N: 1 }, thin: { C: 1, N: 1, depth: 1, useStem: false }, evaluation: { C: 16, N: 5 } };
const DARTS_SHAPES = {
  ntk: { C: 1, N: 1, depth: 2 },
  thin: { C: 1, N: 1, depth: 2, useStem: false },
  evaluation: { C: 36, N: 6, layout: 'eval' as const, stemMultiplier: 3 },
};

const SPACE_SPECS: Record<SpaceName, SpaceSpec> = {
  'nas-bench-201': {
    shapes: NB201_SHAPES,
    ntk: (a, k) => buildTinyNetwork(nb201Selection(a), { ...NB201_SHAPES.ntk, classes: k }),
    thin: (a, k) => buildTinyNetwork(nb201Selection(a), { ...NB201_SHAPES.thin, classes: k }),
    evaluation: (a, k, s) => buildTinyNetwork(nb201Selection(a), { ...NB201_SHAPES.evaluation, classes: k, inputSize: [s, s] }),
    normalise: (a) => {
      if (Array.isArray(a)) {
        const text = formatNb201Supernet(a as Nb201Op[][]);
        return { text, key: `supernet:${text}` };
      }
      if (typeof a !== 'string') throw new TegnasError('E_ARCH', 'a NAS-Bench-201 architecture is an arch string or a list of 6 op sets');
      if (a.includes(',')) return { text: a, key: `supernet:${a}` };
      const text = formatNb201(parseNb201(a));
      return { text, key: nb201CanonicalKey(text) };
    },
  },
  darts: {
    shapes: DARTS_SHAPES,
    ntk: (a, k) => buildDartsNetwork(dartsSelection(a), { ...DARTS_SHAPES.ntk, classes: k }),
    thin: (a, k) => buildDartsNetwork(dartsSelection(a), { ...DARTS_SHAPES.thin, classes: k }),
    evaluation: (a, k, s) => buildDartsNetwork(dartsSelection(a), { ...DARTS_SHAPES.evaluation, classes: k, inputSize: [s, s] }),
    normalise: (a) => {
      if (typeof a === 'object' && !Array.isArray(a) && !Array.isArray((a as Genotype).normal)) {
        const sets = dartsEdgeSets(a as DartsSupernetSelection);
        const text = `DartsSupernet(${JSON.stringify(sets)})`;
        return { text, key: text };
      }
      if (typeof a === 'string' && a.startsWith('DartsSupernet(')) return { text: a, key: a };
      const g = typeof a === 'string' ? parseGenotype(a) : (a as Genotype);
      return { text: formatGenotype(g), key: genotypeKey(g) };
    },
  },
};

/**
 * The plans a Scorer builds for one architecture: the NTK network (cond, mse, NASWOT) and the thin network
 * (linear regions), for `classes` outputs, with the architecture's normalised text: for tools that run the
 * engine outside a Scorer (scripts/export-check-fixtures.ts, bench/export-gpu-cases.ts).
 */
export function indicatorPlans(space: SpaceName, arch: Architecture, classes: number): { text: string; ntk: NetworkPlan; thin: NetworkPlan } {
  const spec = SPACE_SPECS[space];
  if (!spec) throw new TegnasError('E_INPUT', `space must be one of ${SPACES.join(', ')}, got ${JSON.stringify(space)}`);
  const { text } = spec.normalise(arch);
  return { text, ntk: spec.ntk(text, classes), thin: spec.thin(text, classes) };
}

/** The builder's input for a normalised NB201 text: an arch string, or op sets for a supernet text. */
function nb201Selection(a: Architecture): Nb201Selection {
  if (typeof a === 'string' && a.includes(',')) {
    const m = /^\|([^|]+)~0\|\+\|([^|]+)~0\|([^|]+)~1\|\+\|([^|]+)~0\|([^|]+)~1\|([^|]+)~2\|$/.exec(a);
    if (!m) throw new TegnasError('E_ARCH', `invalid NAS-Bench-201 supernet text ${JSON.stringify(a)}`);
    return m.slice(1).map((e) => e.split(',') as Nb201Op[]);
  }
  return a as Nb201Selection;
}

function dartsSelection(a: Architecture): DartsSelection {
  if (typeof a === 'string' && a.startsWith('DartsSupernet(')) return JSON.parse(a.slice('DartsSupernet('.length, -1)) as DartsSupernetSelection;
  return a as DartsSelection;
}

function checkInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new TegnasError('E_INPUT', `${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  return v;
}

/** Derives the seed of one network: a bigint so that no two (seed, role, repeat) triples collide. */
function networkSeed(seed: number, role: 'ntk' | 'thin', r: number): bigint {
  return (BigInt(seed) << 16n) | (BigInt(r) << 1n) | (role === 'thin' ? 1n : 0n);
}

export class Scorer {
  readonly space: SpaceName;
  readonly repeat: number;
  readonly batches: IndicatorBatches;
  readonly classes: number;
  readonly options: Readonly<ScorerOptions>;
  /** The backend this scorer runs on (`auto` resolved). */
  readonly backend: BackendName;
  readonly #spec: SpaceSpec;
  readonly #ntkParams: FloatArray[] = [];
  readonly #thinParams: Float64Array[] = [];
  readonly #ntkX: FloatArray[];
  readonly #valX: FloatArray[];
  readonly #regionsX: Float64Array;
  // Scores by canonical key (the NTK indicators a class shares) and by arch text (a whole score).
  readonly #cache = new Map<string, TegScores>();
  readonly #archCache = new Map<string, TegScores>();
  #evaluations = 0;
  #meta: ScoreMeta | undefined;
  #db: ScoreDb | undefined;
  #ownsDb = false;
  #dbHits = 0;

  constructor(options: ScorerOptions) {
    if (!SPACES.includes(options.space))
      throw new TegnasError('E_INPUT', `space must be one of ${SPACES.join(', ')}, got ${JSON.stringify(options.space)}`);
    this.options = { ...options };
    this.space = options.space;
    this.#spec = SPACE_SPECS[options.space];
    this.repeat = checkInt('repeat', options.repeat ?? 3, 1, 100);
    const seed = checkInt('seed', options.seed ?? 0, 0);
    const init = options.init ?? 'torch-default';
    const thinInit = options.thinInit ?? init;
    for (const [n, v] of [['init', init], ['thinInit', thinInit]] as const)
      if (!INIT_NAMES.includes(v)) throw new TegnasError('E_INPUT', `${n} must be one of ${INIT_NAMES.join(', ')}, got ${JSON.stringify(v)}`);
    if (options.threads !== undefined) checkInt('threads', options.threads, 1, 1024);
    if (options.backend !== undefined && !BACKEND_CHOICES.includes(options.backend))
      throw new TegnasError('E_INPUT', `backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(options.backend)}`);
    this.backend = resolveBackend(options.backend ?? 'auto');

    this.batches =
      options.batches ??
      (options.inputs
        ? batchesFromInputsFile(options.inputs, { classes: datasetInfo(options.dataset ?? 'cifar10').classes })
        : indicatorBatches({
            dataset: options.dataset ?? 'cifar10',
            dataDir: options.dataDir,
            seed,
            batchSize: options.batchSize ?? 64,
            repeat: this.repeat,
            batchPerRepeat: options.batchPerRepeat ?? false,
          }));
    this.classes = this.batches.classes;
    const precision = options.precision ?? 'float32';
    if (precision !== 'float32' && precision !== 'float64')
      throw new TegnasError('E_INPUT', `precision must be float32 or float64, got ${JSON.stringify(precision)}`);
    const f64 = precision === 'float64';
    const asPrecision = (x: Float32Array): FloatArray => (f64 ? Float64Array.from(x) : x);
    this.#ntkX = this.batches.ntk.map((b) => asPrecision(b.x));
    this.#valX = this.batches.val.map((b) => asPrecision(b.x));
    this.#regionsX = Float64Array.from(this.batches.regions.x);

    // Every architecture's plan declares the whole supernet, so one weight vector per repeat serves all.
    const probe = this.#spec.normalise(this.space === 'darts' ? DEFAULT_DARTS : DEFAULT_NB201).text;
    const ntkTemplate = new Network(this.#spec.ntk(probe, this.classes));
    const thinTemplate = new Network(this.#spec.thin(probe, this.classes));
    const file = options.weights ? readSafetensors(options.weights) : undefined;
    for (let r = 0; r < this.repeat; r++) {
      if (file) {
        ntkTemplate.setWeights(file.tensors, { prefix: `ntk.${r}.`, allowUnknown: true }, options.weights);
        thinTemplate.setWeights(file.tensors, { prefix: `thin.${r}.`, allowUnknown: true }, options.weights);
      } else {
        ntkTemplate.init(init, networkSeed(seed, 'ntk', r));
        thinTemplate.init(thinInit, networkSeed(seed, 'thin', r));
      }
      this.#ntkParams.push(f64 ? Float64Array.from(ntkTemplate.params) : ntkTemplate.params.slice());
      this.#thinParams.push(Float64Array.from(thinTemplate.params));
    }
    if (file) {
      for (const k of file.tensors.keys()) {
        const m = /^(ntk|thin)\.(\d+)\./.exec(k);
        if (!m) throw new TegnasError('E_WEIGHTS', `${options.weights}: unknown tensor '${k}'; names must start with ntk.<r>. or thin.<r>.`);
        if (Number(m[2]) >= this.repeat)
          throw new TegnasError('E_WEIGHTS', `${options.weights}: tensor '${k}' is for repeat ${m[2]} but repeat is ${this.repeat}`);
      }
    }
    if (options.db !== undefined) {
      if (typeof options.db === 'string') {
        this.#db = ScoreDb.open(options.db, this.meta);
        this.#ownsDb = true;
      } else if (options.db instanceof ScoreDb) {
        options.db.checkMeta(this.meta);
        this.#db = options.db;
      } else throw new TegnasError('E_INPUT', `db must be a file name or a ScoreDb, got ${JSON.stringify(options.db)}`);
    }
  }

  /**
   * What this scorer's scores depend on: its options, the engine version, the network shapes and
   * SHA-256 fingerprints of its input batches and initial weights (what a score database records).
   */
  get meta(): ScoreMeta {
    if (!this.#meta) {
      const o = this.options;
      const digest = (arrays: ArrayBufferView[]): string => {
        const h = createHash('sha256');
        for (const a of arrays) {
          h.update(`${a.constructor.name}:${a.byteLength};`);
          h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
        }
        return h.digest('hex');
      };
      const b = this.batches;
      const batchArrays = [...b.ntk, ...b.val].flatMap((x) => [x.x, x.y, Int32Array.from([x.count, ...x.shape])]);
      const init = o.weights ? 'weights file' : (o.init ?? 'torch-default');
      this.#meta = {
        space: this.space,
        dataset: b.dataset,
        source: b.source,
        seed: o.seed ?? 0,
        repeat: this.repeat,
        init,
        thinInit: o.weights ? 'weights file' : (o.thinInit ?? init),
        batchSize: b.ntk[0].count,
        batchPerRepeat: b.ntk.length > 1,
        precision: o.precision ?? 'float32',
        mse: o.mse ?? true,
        naswot: o.naswot ?? true,
        tegnasVersion: nativeVersion(),
        networks: JSON.stringify(this.#spec.shapes),
        inputs: digest([...batchArrays, b.regions.x, Int32Array.from([b.regions.count, b.regionBatchSize, this.classes])]),
        weights: digest([...this.#ntkParams, ...this.#thinParams]),
      };
    }
    return { ...this.#meta };
  }

  /** The score database this scorer reads and fills, if any. */
  get db(): ScoreDb | undefined {
    return this.#db;
  }

  /** Architectures answered from the score database instead of being scored. */
  get dbHits(): number {
    return this.#dbHits;
  }

  /** Closes the score database if this scorer opened it (a ScoreDb passed in stays open). */
  close(): void {
    if (this.#ownsDb) this.#db?.close();
  }

  /**
   * Takes scores this scorer computed before, in an earlier process (a search journal replayed on
   * resume), into its cache, so that later requests for the same canonical class are cache hits as they
   * were in the first run. Scores that were themselves cache hits are ignored: the first score of their
   * class came earlier.
   */
  remember(scores: TegScores): void {
    if ((this.options.cache ?? true) && !scores.cached && !this.#cache.has(scores.key)) this.#cache.set(scores.key, scores);
  }

  /** Architectures evaluated (not counting cache hits). */
  get evaluations(): number {
    return this.#evaluations;
  }

  /** `threads` overrides the scorer's thread count for this call (the scores do not depend on it). */
  async score(arch: Architecture, options: { threads?: number } = {}): Promise<TegScores> {
    if (options.threads !== undefined) checkInt('threads', options.threads, 1, 1024);
    return this.#score(arch, options.threads ?? this.options.threads);
  }

  /** The native threads score() uses. */
  get threads(): number {
    return this.options.threads ?? availableParallelism();
  }

  /**
   * Scores several architectures at once: up to `concurrency` (default: `threads`, i.e. all cores) run
   * side by side, each with its share of the threads. Results come back in input order and equal those
   * of score() one by one (the engine's results do not depend on the thread count). `each` is called
   * with each result as soon as it is ready (a search journals it there), in completion order.
   */
  async scoreMany(
    archs: readonly Architecture[],
    options: { concurrency?: number; each?: (index: number, scores: TegScores) => void } = {},
  ): Promise<TegScores[]> {
    const threads = this.threads;
    const conc = options.concurrency ?? threads;
    if (!Number.isInteger(conc) || conc < 1) throw new TegnasError('E_INPUT', `concurrency must be a positive integer, got ${JSON.stringify(conc)}`);
    const lanes = Math.max(1, Math.min(conc, archs.length));
    const inner = Math.max(1, Math.floor(threads / lanes));
    const out: TegScores[] = new Array(archs.length);
    let next = 0;
    const lane = async () => {
      while (next < archs.length) {
        const i = next++;
        out[i] = await this.#score(archs[i], inner);
        options.each?.(i, out[i]);
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return out;
  }

  // Architectures being scored now, by canonical key, so concurrent requests for one class share the work.
  readonly #inFlight = new Map<string, Promise<TegScores>>();

  async #score(arch: Architecture, threads: number | undefined): Promise<TegScores> {
    const { key } = this.#spec.normalise(arch);
    const useCache = this.options.cache ?? true;
    const pending = useCache ? this.#inFlight.get(key) : undefined;
    if (pending) {
      const { text } = this.#spec.normalise(arch);
      const r = await pending;
      const t0 = performance.now();
      return r.arch === text ? { ...r, cached: true, seconds: { ntk: 0, regions: 0, naswot: 0, total: 0 } } : this.#member(r, text, t0, true);
    }
    const p = this.#scoreNow(arch, threads);
    if (useCache) this.#inFlight.set(key, p);
    try {
      return await p;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /**
   * The scores of `text` from those of another member of its class. Members compute the same function,
   * so they share the NTK indicators (cond, mse), but not what counts every op that runs: an op whose
   * output never reaches the cell's output (a conv on an edge out of a node nothing reads) adds ReLUs to
   * the linear regions and NASWOT, and parameters and FLOPs to the cost, as in the reference. Those are
   * computed for `text` itself (a few ms: the thin network, one forward pass of the NTK network).
   */
  #member(from: TegScores, text: string, t0: number, cached: boolean): TegScores {
    const useCache = this.options.cache ?? true;
    let s: TegScores;
    if (from.arch === text) s = { ...from, cached };
    else {
      const own = this.#structure(text);
      s = {
        ...from,
        arch: text,
        regions: own.regions,
        naswot: own.naswot,
        params: own.params,
        flops: own.flops,
        repeats: from.repeats.map((r, i) => ({ ...r, regions: own.repeats[i].regions, naswot: own.repeats[i].naswot })),
        seconds: { ntk: 0, regions: own.seconds.regions, naswot: own.seconds.naswot, total: (performance.now() - t0) / 1000 },
        cached,
      };
    }
    if (useCache) this.#archCache.set(text, { ...s, cached: false });
    return s;
  }

  /** Parameters and FLOPs of the architecture's evaluation network (NAS-Bench-201: C=16, N=5). */
  #cost(text: string) {
    const plan = this.#spec.evaluation(text, this.classes, this.batches.ntk[0].shape[1]);
    return planCost(plan, new NativeNet(plan).info);
  }

  /** Linear regions, NASWOT and cost of one architecture: the parts of a score that are not the class's. */
  #structure(text: string) {
    // The NTK network only for NASWOT, and only when it is asked for.
    const wantNaswot = this.options.naswot ?? true;
    const ntk = wantNaswot ? new NativeNet(this.#spec.ntk(text, this.classes)) : undefined;
    const thin = new NativeNet(this.#spec.thin(text, this.classes));
    const b = this.batches;
    const seconds = { regions: 0, naswot: 0 };
    const repeats: { regions: number; naswot: number | null }[] = [];
    for (let r = 0; r < this.repeat; r++) {
      let t = performance.now();
      const reg = thin.linearRegions(this.#thinParams[r], this.#regionsX, b.regionBatchSize, b.regions.count / b.regionBatchSize, this.backend);
      seconds.regions += (performance.now() - t) / 1000;
      t = performance.now();
      let naswot: number | null = null;
      if (ntk) {
        const bi = Math.min(r, b.ntk.length - 1);
        naswot = ntk.naswot(this.#ntkParams[r], this.#ntkX[bi], b.ntk[bi].count, this.backend).logdet;
      }
      seconds.naswot += (performance.now() - t) / 1000;
      repeats.push({ regions: reg.regions, naswot });
    }
    const good = repeats.map((r) => r.naswot).filter((v): v is number => v !== null && Number.isFinite(v));
    const cost = this.#cost(text);
    return {
      regions: repeats.reduce((a, r) => a + r.regions, 0) / repeats.length,
      naswot: good.length ? good.reduce((a, c) => a + c, 0) / good.length : null,
      params: cost.params,
      flops: cost.flops,
      repeats,
      seconds,
    };
  }

  async #scoreNow(arch: Architecture, threads: number | undefined): Promise<TegScores> {
    const t0 = performance.now();
    const { text, key } = this.#spec.normalise(arch);
    const useCache = this.options.cache ?? true;
    const own = useCache ? this.#archCache.get(text) : undefined;
    if (own) return { ...own, cached: true, seconds: { ntk: 0, regions: 0, naswot: 0, total: 0 } };
    const hit = useCache ? this.#cache.get(key) : undefined;
    if (hit) return this.#member(hit, text, t0, true);
    const storable = this.#db !== undefined && !key.startsWith('supernet:') && !key.startsWith('DartsSupernet(');
    const stored = storable ? this.#db!.get(key) : undefined;
    if (stored && (!this.options.dbExact || stored.arch === text)) {
      this.#dbHits++;
      if (useCache) this.#cache.set(key, stored);
      return this.#member(stored, text, t0, false);
    }

    const ntkPlan = this.#spec.ntk(text, this.classes);
    const ntk = new NativeNet(ntkPlan);
    const thin = new NativeNet(this.#spec.thin(text, this.classes));
    const weights = paramGroupIndices(ntkPlan, ntk.info.usedParams, 'weights');
    const cells = paramGroupIndices(ntkPlan, ntk.info.usedParams, 'cell-weights');
    const b = this.batches;
    const seconds = { ntk: 0, regions: 0, naswot: 0, total: 0 };
    const repeats: RepeatScores[] = [];
    for (let r = 0; r < this.repeat; r++) {
      const bi = Math.min(r, b.ntk.length - 1), vi = Math.min(r, b.val.length - 1);
      const nb = b.ntk[bi], vb = b.val[vi];
      let t = performance.now();
      const res = await ntk.ntkIndicatorsAsync(
        this.#ntkParams[r],
        {
          x: this.#ntkX[bi],
          batch: nb.count,
          val: (this.options.mse ?? true) ? { x: this.#valX[vi], batch: vb.count, y: vb.y, trainY: nb.y, classes: this.classes } : undefined,
          naswot: this.options.naswot ?? true,
        },
        weights,
        cells,
        threads,
        this.backend,
      );
      seconds.ntk += (performance.now() - t) / 1000;
      t = performance.now();
      const regionBatch = b.regionBatchSize;
      const reg = thin.linearRegions(this.#thinParams[r], this.#regionsX, regionBatch, b.regions.count / regionBatch, this.backend);
      seconds.regions += (performance.now() - t) / 1000;
      // NASWOT comes from the NTK forward pass; its time is part of seconds.ntk.
      const nw = res.naswot ?? { logdet: null };
      const reasons = [res.condBad ? `NTK: ${res.condReason}` : '', res.mseBad ? `regression: ${res.mseReason}` : ''].filter(Boolean);
      repeats.push({
        cond: res.cond,
        condBad: res.condBad,
        mse: res.mse ?? null,
        mseBad: res.mseBad ?? false,
        regions: reg.regions,
        naswot: nw.logdet,
        ...(reasons.length ? { reason: `repeat ${r}: ${reasons.join('; ')}` } : {}),
      });
    }
    const mean = (xs: (number | null)[]): number | null => {
      const good = xs.filter((v): v is number => v !== null && Number.isFinite(v));
      return good.length ? good.reduce((a, c) => a + c, 0) / good.length : null;
    };
    const bad = repeats.some((r) => r.condBad || r.mseBad);
    const cost = this.#cost(text);
    seconds.total = (performance.now() - t0) / 1000;
    const scores: TegScores = {
      arch: text,
      key,
      cond: mean(repeats.map((r) => r.cond)),
      mse: mean(repeats.map((r) => r.mse)),
      regions: repeats.reduce((a, r) => a + r.regions, 0) / repeats.length,
      naswot: mean(repeats.map((r) => r.naswot)),
      params: cost.params,
      flops: cost.flops,
      bad,
      ...(bad ? { badReason: repeats.map((r) => r.reason).filter(Boolean).join('; ') } : {}),
      repeats,
      seconds,
      cached: false,
    };
    this.#evaluations++;
    if (useCache) {
      this.#cache.set(key, scores);
      this.#archCache.set(text, scores);
    }
    if (storable) this.#db!.put(scores);
    return scores;
  }
}

const DEFAULT_NB201 = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|';
const DEFAULT_DARTS =
  "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

/** Scores one architecture with a fresh scorer (for many architectures, keep a Scorer). */
export async function score(arch: Architecture, options: ScorerOptions): Promise<TegScores> {
  return new Scorer(options).score(arch);
}
