/**
 * A score database: the TEG scores of architectures, one row per canonical class, in an SQLite file
 * (node-sqlite3-wasm: SQLite in WebAssembly writing the file through node:fs, no native binary).
 *
 * - `meta` records everything the scores depend on (`ScoreMeta`); reopening with other options is an
 *   error that names each difference, so scores made one way are never mixed with scores made another.
 * - `scores` is keyed by canonical key (`nb201CanonicalKey`, `genotypeKey`); a row holds the arch that
 *   was scored and every field of its `TegScores`, so a row read back is the object the Scorer returned
 *   (same fields in the same order; `cached` false, `seconds` those of the evaluation that made it).
 *
 * Durability: each `put` is one transaction, committed to the write-ahead log and fsynced before it
 * returns, so a killed process loses at most the score it was computing. The file is opened in WAL mode
 * with EXCLUSIVE locking: one process at a time uses a database (WAL recovery after a crash does not
 * depend on the library's lock check, which a rollback journal would). The library's lock is a
 * `<file>.lock` folder that a killed process leaves behind; `<file>.owner` records the pid holding it,
 * so the next open clears the lock of a process that no longer runs, and names one that does.
 */
import { existsSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { Database } from 'node-sqlite3-wasm';
import { TegnasError } from '../errors.js';
import type { RepeatScores, SpaceName, TegScores } from '../scoring/indicators.js';
import { genotypeKey, parseGenotype } from '../spaces/darts.js';
import { nb201CanonicalKey } from '../spaces/nb201.js';

/** Layout of the tables; a file with another layout is refused. */
export const SCORE_DB_SCHEMA = 1;

/** Everything the stored scores depend on. Two runs whose metas are equal compute the same scores. */
export interface ScoreMeta {
  space: SpaceName;
  dataset: string;
  /** Where the images came from (shown in messages; the `inputs` fingerprint is what is compared). */
  source: string;
  seed: number;
  repeat: number;
  /** Initialiser of the NTK networks, or `weights file` when they were loaded. */
  init: string;
  thinInit: string;
  batchSize: number;
  batchPerRepeat: boolean;
  precision: 'float32' | 'float64';
  /** Whether the regression error and NASWOT were computed. */
  mse: boolean;
  naswot: boolean;
  /** Version of the tegnas engine that computed the scores. */
  tegnasVersion: string;
  /** The NTK, thin and evaluation network shapes (JSON of their builder options). */
  networks: string;
  /** SHA-256 of the NTK, validation and region batches. */
  inputs: string;
  /** SHA-256 of the initial weights of every repeat's NTK and thin network. */
  weights: string;
}

const META_FIELDS: readonly (keyof ScoreMeta)[] = [
  'space', 'dataset', 'source', 'seed', 'repeat', 'init', 'thinInit', 'batchSize', 'batchPerRepeat',
  'precision', 'mse', 'naswot', 'tegnasVersion', 'networks', 'inputs', 'weights',
];

const META_LABELS: Partial<Record<keyof ScoreMeta, string>> = {
  tegnasVersion: 'tegnas version',
  networks: 'network shapes',
  inputs: 'input batches (SHA-256)',
  weights: 'initial weights (SHA-256)',
};

type Sqlite = typeof import('node-sqlite3-wasm');
let sqlite: Sqlite | undefined;
/** Loaded on first use, so that importing tegnas does not compile the WebAssembly module. */
function sqliteModule(): Sqlite {
  sqlite ??= createRequire(import.meta.url)('node-sqlite3-wasm') as Sqlite;
  return sqlite;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface Owner {
  pid: number;
  host: string;
  started: string;
  command: string;
}

function readOwner(file: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(`${file}.owner`, 'utf8')) as Owner;
    return Number.isInteger(o.pid) ? o : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeIfThere(path: string, dir = false): void {
  try {
    if (dir) rmdirSync(path);
    else unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** How long a lock without an owner file may be young before it counts as left by a crash. */
const OWNERLESS_GRACE_MS = 3000;

/** Opens `file` in WAL mode with an exclusive lock, clearing the lock of a process that has died. */
function connect(file: string, mustExist: boolean): Database {
  const { Database } = sqliteModule();
  const lockDir = `${file}.lock`;
  let cleared = false;
  for (;;) {
    let db: Database;
    try {
      db = new Database(file, { fileMustExist: mustExist });
    } catch (e) {
      throw new TegnasError('E_DB', `cannot ${mustExist ? 'open' : 'open or create'} the score database ${file}: ${message(e)}`, { cause: e });
    }
    try {
      db.exec('PRAGMA locking_mode=EXCLUSIVE');
      const mode = (db.get('PRAGMA journal_mode=WAL') as { journal_mode?: string } | null)?.journal_mode;
      if (mode !== 'wal') throw new TegnasError('E_DB', `${file}: cannot switch to write-ahead logging (journal mode ${mode})`);
      db.exec('PRAGMA synchronous=FULL');
      // Take the lock now (a write), so that ownership is settled before any score is read or written.
      db.exec('BEGIN IMMEDIATE; COMMIT');
      const owner: Owner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
      writeFileSync(`${file}.owner`, `${JSON.stringify(owner)}\n`);
      return db;
    } catch (e) {
      try {
        db.close();
      } catch {
        // the connection failed; nothing to release
      }
      if (e instanceof TegnasError) throw e;
      if (!/database is locked|busy/i.test(message(e))) {
        const why = /not a database|malformed/i.test(message(e)) ? 'not an SQLite database (or corrupt)' : message(e);
        throw new TegnasError('E_DB', `cannot use the score database ${file}: ${why}`, { cause: e });
      }
      const owner = readOwner(file);
      if (owner && (owner.host !== hostname() || isAlive(owner.pid))) {
        const who = owner.pid === process.pid && owner.host === hostname() ? 'this process (close the other ScoreDb or Scorer first)' : `process ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.started})`;
        throw new TegnasError(
          'E_DB',
          `the score database ${file} is in use by ${who}; one process at a time may use it: wait for that one to finish, or stop it (if it is gone, remove ${lockDir})`,
        );
      }
      if (!owner) {
        // Another process may be between taking the lock and writing its owner file: give it a moment.
        let age = Infinity;
        try {
          age = Date.now() - statSync(lockDir).mtimeMs;
        } catch {
          age = Infinity;
        }
        if (age < OWNERLESS_GRACE_MS) {
          sleepMs(Math.min(200, OWNERLESS_GRACE_MS - age + 10));
          continue;
        }
      }
      if (cleared) throw new TegnasError('E_DB', `the score database ${file} stays locked after clearing a dead process's lock; remove ${lockDir} by hand if no tegnas is using it`);
      // The lock was left by a process that has died (killed mid-run): clear it; WAL recovery does the rest.
      removeIfThere(`${file}.owner`);
      removeIfThere(lockDir, true);
      cleared = true;
    }
  }
}

// ---- rows <-> scores ----

interface ScoreRow {
  key: string;
  arch: string;
  cond: number | null;
  mse: number | null;
  regions: number;
  naswot: number | null;
  params: number;
  flops: number;
  bad: number;
  bad_reason: string | null;
  repeats: string;
  seconds_ntk: number;
  seconds_regions: number;
  seconds_naswot: number;
  seconds_total: number;
}

const SCHEMA_SQL = `
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE scores (
  key TEXT PRIMARY KEY,
  arch TEXT NOT NULL,
  cond REAL,
  mse REAL,
  regions REAL NOT NULL,
  naswot REAL,
  params REAL NOT NULL,
  flops REAL NOT NULL,
  bad INTEGER NOT NULL,
  bad_reason TEXT,
  repeats TEXT NOT NULL,
  seconds_ntk REAL NOT NULL,
  seconds_regions REAL NOT NULL,
  seconds_naswot REAL NOT NULL,
  seconds_total REAL NOT NULL,
  scored_at TEXT NOT NULL
);
CREATE INDEX scores_arch ON scores (arch);`;

/** JSON of the repeats that keeps NaN, +-Infinity and -0 (plain JSON would turn them into null or 0). */
function encodeRepeats(repeats: readonly RepeatScores[]): string {
  return JSON.stringify(repeats, (_k, v: unknown) =>
    typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? { $number: Object.is(v, -0) ? '-0' : String(v) } : v,
  );
}

function decodeRepeats(text: string): RepeatScores[] {
  return JSON.parse(text, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && '$number' in v ? Number((v as { $number: string }).$number) : v,
  ) as RepeatScores[];
}

function fromRow(r: ScoreRow): TegScores {
  return {
    arch: r.arch,
    key: r.key,
    cond: r.cond,
    mse: r.mse,
    regions: r.regions,
    naswot: r.naswot,
    params: r.params,
    flops: r.flops,
    bad: r.bad !== 0,
    ...(r.bad_reason !== null ? { badReason: r.bad_reason } : {}),
    repeats: decodeRepeats(r.repeats),
    seconds: { ntk: r.seconds_ntk, regions: r.seconds_regions, naswot: r.seconds_naswot, total: r.seconds_total },
    cached: false,
  };
}

/** The key under which an architecture's scores are stored, or undefined for a supernet (never stored). */
export function storedKey(space: SpaceName, arch: string): string | undefined {
  if (space === 'nas-bench-201') return arch.includes(',') ? undefined : nb201CanonicalKey(arch);
  return arch.startsWith('DartsSupernet(') ? undefined : genotypeKey(parseGenotype(arch));
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export class ScoreDb {
  readonly file: string;
  readonly meta: Readonly<ScoreMeta>;
  #db: Database | undefined;

  private constructor(file: string, db: Database, meta: ScoreMeta) {
    this.file = file;
    this.#db = db;
    this.meta = Object.freeze({ ...meta });
  }

  /**
   * Opens the database in `file`. With `meta`, creates it (or its tables) if needed, and refuses one
   * made with different options (TegnasError `E_DB` naming each difference). Without `meta`, opens an
   * existing database as it is (to read its scores). Close it when done.
   */
  static open(file: string, meta?: ScoreMeta): ScoreDb {
    if (typeof file !== 'string' || !file) throw new TegnasError('E_INPUT', `a score database needs a file name, got ${JSON.stringify(file)}`);
    if (!meta && !existsSync(file)) throw new TegnasError('E_DB', `no score database at ${file}`);
    const db = connect(file, !meta);
    try {
      const tables = (db.all("SELECT name FROM sqlite_master WHERE type = 'table'") as { name: string }[]).map((t) => t.name);
      if (tables.length === 0) {
        if (!meta) throw new TegnasError('E_DB', `${file} is an empty database, not a tegnas score database`);
        db.exec(`BEGIN; ${SCHEMA_SQL}`);
        const put = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)');
        try {
          put.run(['schema', JSON.stringify(SCORE_DB_SCHEMA)]);
          put.run(['created', JSON.stringify(new Date().toISOString())]);
          for (const f of META_FIELDS) put.run([f, JSON.stringify(meta[f])]);
        } finally {
          put.finalize();
        }
        db.exec('COMMIT');
        return new ScoreDb(file, db, meta);
      }
      if (!tables.includes('meta') || !tables.includes('scores'))
        throw new TegnasError('E_DB', `${file} is an SQLite database but not a tegnas score database (no meta and scores tables)`);
      const stored = Object.fromEntries((db.all('SELECT name, value FROM meta') as { name: string; value: string }[]).map((r) => [r.name, JSON.parse(r.value) as unknown]));
      if (stored.schema !== SCORE_DB_SCHEMA)
        throw new TegnasError('E_DB', `${file} has score database layout ${JSON.stringify(stored.schema)}; this tegnas reads layout ${SCORE_DB_SCHEMA}`);
      const missing = META_FIELDS.filter((f) => !(f in stored));
      if (missing.length) throw new TegnasError('E_DB', `${file}: its meta table lacks ${missing.join(', ')}`);
      const out = new ScoreDb(file, db, Object.fromEntries(META_FIELDS.map((f) => [f, stored[f]])) as unknown as ScoreMeta);
      if (meta) out.checkMeta(meta);
      return out;
    } catch (e) {
      removeIfThere(`${file}.owner`);
      db.close();
      throw e;
    }
  }

  /**
   * Throws TegnasError `E_DB` naming every difference between this database's meta and `meta` (the
   * options of a run that wants to read or add scores); `source` alone may differ.
   */
  checkMeta(meta: ScoreMeta): void {
    const stored = this.meta;
    const differs = (f: keyof ScoreMeta) => f !== 'source' && !sameValue(stored[f], meta[f]);
    // The fingerprints follow from the options: name them only when every option agrees.
    const options = META_FIELDS.filter((f) => f !== 'inputs' && f !== 'weights' && differs(f));
    const diffs = (options.length ? options : META_FIELDS.filter(differs)).map((f) => {
      const label = META_LABELS[f] ?? f;
      if (f === 'inputs') return `${label}: the database's come from ${stored.source}, this run's from ${meta.source} (the same options, different images)`;
      if (f === 'weights') return `${label}: the same options, different weights (a weights file, or another initialiser implementation)`;
      return `${label}: the database has ${JSON.stringify(stored[f])}, this run has ${JSON.stringify(meta[f])}`;
    });
    if (diffs.length)
      throw new TegnasError(
        'E_DB',
        `${this.file} holds scores computed with other options, so they cannot be mixed with this run's: ${diffs.join('; ')}. Use the database's options, or another file`,
      );
  }

  #conn(): Database {
    if (!this.#db) throw new TegnasError('E_DB', `the score database ${this.file} is closed`);
    return this.#db;
  }

  get isOpen(): boolean {
    return this.#db !== undefined;
  }

  /** The scores stored for a canonical key. */
  get(key: string): TegScores | undefined {
    const r = this.#conn().get('SELECT * FROM scores WHERE key = ?', key) as ScoreRow | null;
    return r ? fromRow(r) : undefined;
  }

  /**
   * The scores stored for an architecture's canonical class (canonicalised first, so any member of the
   * class finds them; `arch` of the result is the member that was scored).
   */
  getByArch(arch: string): TegScores | undefined {
    const key = storedKey(this.meta.space, arch);
    return key === undefined ? undefined : this.get(key);
  }

  has(key: string): boolean {
    return this.#conn().get('SELECT 1 AS one FROM scores WHERE key = ?', key) !== null;
  }

  /** Every stored canonical key. */
  keys(): Set<string> {
    return new Set((this.#conn().all('SELECT key FROM scores') as { key: string }[]).map((r) => r.key));
  }

  /**
   * Stores a Scorer's result under its key, committed to disk before returning; false (and nothing
   * written) when the key is already stored.
   */
  put(s: TegScores): boolean {
    if (storedKey(this.meta.space, s.arch) !== s.key)
      throw new TegnasError('E_DB', `cannot store ${s.arch} under key ${JSON.stringify(s.key)}: not its canonical key in ${this.meta.space} (supernets are not stored)`);
    for (const k of ['cond', 'mse', 'regions', 'naswot', 'params', 'flops'] as const) {
      const v = s[k];
      const nullable = k === 'cond' || k === 'mse' || k === 'naswot';
      if (!(typeof v === 'number' && Number.isFinite(v)) && !(nullable && v === null))
        throw new TegnasError('E_DB', `cannot store ${s.arch}: ${k} is ${v} (expected a finite number${nullable ? ' or null' : ''})`);
    }
    if (s.repeats.length !== this.meta.repeat)
      throw new TegnasError('E_DB', `cannot store ${s.arch}: ${s.repeats.length} repeats, the database holds scores of ${this.meta.repeat}`);
    const res = this.#conn().run(
      `INSERT OR IGNORE INTO scores (key, arch, cond, mse, regions, naswot, params, flops, bad, bad_reason, repeats,
         seconds_ntk, seconds_regions, seconds_naswot, seconds_total, scored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        s.key, s.arch, s.cond, s.mse, s.regions, s.naswot, s.params, s.flops, s.bad ? 1 : 0, s.badReason ?? null, encodeRepeats(s.repeats),
        s.seconds.ntk, s.seconds.regions, s.seconds.naswot, s.seconds.total, new Date().toISOString(),
      ],
    );
    return res.changes > 0;
  }

  /** Every stored score, in the order they were stored. */
  all(): TegScores[] {
    return (this.#conn().all('SELECT * FROM scores ORDER BY rowid') as unknown as ScoreRow[]).map(fromRow);
  }

  count(): number {
    return (this.#conn().get('SELECT count(*) AS n FROM scores') as { n: number }).n;
  }

  /** Checkpoints the log into the file and releases the lock. */
  close(): void {
    if (!this.#db) return;
    const db = this.#db;
    this.#db = undefined;
    const owner = readOwner(this.file);
    if (owner?.pid === process.pid && owner.host === hostname()) removeIfThere(`${this.file}.owner`);
    db.close();
  }
}
