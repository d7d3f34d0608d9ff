/**
 * The search journal file: JSON Lines, append-only. Line 1 is a header (format, version, the search's
 * options and what the caller wants back on resume); every further line is one scored evaluation
 * `{"step", "request", "scores"}`, written with a single write() and fdatasync'd before the search goes
 * on, so that a SIGKILL (or a power cut) loses at most the line being written. Opening a journal drops
 * a torn last line and cuts it off the file, so appends continue on a clean line.
 *
 * Numbers round-trip exactly (JSON's shortest decimal form of a double reads back as the same double);
 * NaN, +-Infinity and -0, which JSON cannot write, are written as {"$number": "NaN"} and read back.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { TegnasError } from '../errors.js';
import type { TegScores } from '../scoring/indicators.js';
import type { Journal, JournalEntry } from './types.js';

export const JOURNAL_FORMAT = 'tegnas-search-journal';
export const JOURNAL_VERSION = 1;

export interface JournalHeader {
  format: typeof JOURNAL_FORMAT;
  version: number;
  /** When the search started (ISO 8601). */
  created: string;
  /** The search's options, resolved: a resumed search must have exactly these. */
  options: Record<string, unknown>;
  /** Anything else the caller wants back on resume (the CLI keeps its flags and the --out file). */
  meta?: Record<string, unknown>;
}

function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return { $number: Object.is(v, -0) ? '-0' : String(v) };
  return v;
}

function reviver(_key: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$number' && typeof o.$number === 'string') return Number(o.$number);
  }
  return v;
}

/** One journal line (with its newline). */
export function encodeJournalLine(value: unknown): string {
  return `${JSON.stringify(value, replacer)}\n`;
}

export function decodeJournalLine(line: string): unknown {
  return JSON.parse(line, reviver);
}

function isEntry(v: unknown): v is JournalEntry {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Partial<JournalEntry>;
  const s = e.scores as Partial<TegScores> | undefined;
  return Number.isInteger(e.step) && (e.step as number) >= 0 && typeof e.request === 'string' &&
    s !== null && typeof s === 'object' && typeof s.key === 'string' && typeof s.arch === 'string' && typeof s.regions === 'number';
}

function fsyncDir(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a folder; the rename itself is still atomic.
  }
}

export class FileJournal implements Journal {
  readonly replay: Map<number, JournalEntry>;
  #fd: number | undefined;
  #appended = 0;

  private constructor(
    readonly path: string,
    readonly header: JournalHeader,
    replay: Map<number, JournalEntry>,
    fd: number,
    /** Bytes of a torn last line cut off when the journal was opened. */
    readonly droppedBytes = 0,
  ) {
    this.replay = replay;
    this.#fd = fd;
  }

  /**
   * A new journal holding only its header. The file appears complete or not at all (written beside
   * it, synced, renamed into place); an existing file is an error.
   */
  static create(path: string, header: Omit<JournalHeader, 'format' | 'version' | 'created'> & { created?: string }): FileJournal {
    if (existsSync(path)) throw new TegnasError('E_JOURNAL', `the journal ${path} already exists`);
    const full: JournalHeader = { format: JOURNAL_FORMAT, version: JOURNAL_VERSION, created: header.created ?? new Date().toISOString(), options: header.options, ...(header.meta ? { meta: header.meta } : {}) };
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, encodeJournalLine(full));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      fsyncDir(path);
      return new FileJournal(path, full, new Map(), openSync(path, 'a'));
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new TegnasError('E_JOURNAL', `cannot write the journal ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Opens a journal to resume: its header and every complete entry; a torn last line is cut off. */
  static open(path: string): FileJournal {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      throw new TegnasError('E_JOURNAL', `cannot read the journal ${path}: ${why}`, { cause: e });
    }
    const lines: { text: string; end: number }[] = [];
    let start = 0;
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, start)) {
      lines.push({ text: bytes.toString('utf8', start, i), end: i + 1 });
      start = i + 1;
    }
    // Whatever follows the last newline is a line whose write was cut short.
    let good = start;
    const parsed: unknown[] = [];
    for (let n = 0; n < lines.length; n++) {
      try {
        parsed.push(decodeJournalLine(lines[n].text));
      } catch {
        // Only the last line may be damaged (a write cut short by a power cut can end in garbage).
        if (n === lines.length - 1 && n > 0) {
          good = lines[n - 1].end;
          break;
        }
        throw new TegnasError('E_JOURNAL', `${path}: line ${n + 1} is not valid JSON (not a tegnas search journal, or corrupt)`);
      }
    }
    const header = parsed[0] as Partial<JournalHeader> | undefined;
    if (!header || header.format !== JOURNAL_FORMAT) throw new TegnasError('E_JOURNAL', `${path} is not a tegnas search journal`);
    if (header.version !== JOURNAL_VERSION)
      throw new TegnasError('E_JOURNAL', `${path}: journal version ${header.version}, this tegnas reads version ${JOURNAL_VERSION}`);
    if (header.options === null || typeof header.options !== 'object') throw new TegnasError('E_JOURNAL', `${path}: the header has no search options`);
    const replay = new Map<number, JournalEntry>();
    parsed.slice(1).forEach((e, n) => {
      if (!isEntry(e)) throw new TegnasError('E_JOURNAL', `${path}: line ${n + 2} is not a journal entry`);
      if (!replay.has(e.step)) replay.set(e.step, e);
    });
    let fd: number;
    try {
      fd = openSync(path, 'a');
      if (good < bytes.length) ftruncateSync(fd, good);
    } catch (e) {
      throw new TegnasError('E_JOURNAL', `cannot append to the journal ${path}: ${(e as Error).message}`, { cause: e });
    }
    return new FileJournal(path, header as JournalHeader, replay, fd, bytes.length - good);
  }

  /** Entries written by this process. */
  get appended(): number {
    return this.#appended;
  }

  append(entry: JournalEntry): void {
    if (this.#fd === undefined) throw new TegnasError('E_JOURNAL', `the journal ${this.path} is closed`);
    const line = Buffer.from(encodeJournalLine({ step: entry.step, request: entry.request, scores: entry.scores }));
    try {
      let off = 0;
      while (off < line.length) off += writeSync(this.#fd, line, off);
      fdatasyncSync(this.#fd);
    } catch (e) {
      throw new TegnasError('E_JOURNAL', `cannot write the journal ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.#appended++;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Closes and deletes the journal (its search is finished and its result written elsewhere). */
  remove(): void {
    this.close();
    rmSync(this.path, { force: true });
  }
}
