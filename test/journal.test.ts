import test from 'ava';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TegScores } from '../src/scoring/indicators.js';
import type { Architecture } from '../src/scoring/scorer.js';
import { FileJournal, decodeJournalLine, encodeJournalLine } from '../src/search/journal.js';
import { runSearch } from '../src/search/run.js';
import { type AlgoName, type Evaluator, type JournalEntry, MemoryJournal, type SearchResult, requestText } from '../src/search/types.js';
import { type Genotype, formatGenotype, genotypeKey } from '../src/spaces/darts.js';
import { nb201CanonicalKey } from '../src/spaces/nb201.js';

// A fast stand-in for the Scorer with its caching behaviour: scores from a hash of the canonical key,
// a cache by key (hits say `cached`), in-batch duplicates cached, scoreMany finishing in reverse order
// (so a journal is written out of step order), and remember() as the Scorer does it.
function hash(text: string, salt: number): number {
  let h = (2166136261 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 13)) / 4294967296;
}

class FakeScorer implements Evaluator {
  readonly #cache = new Map<string, TegScores>();
  calls = 0;
  constructor(readonly space: 'nas-bench-201' | 'darts', readonly salt = 0) {}

  #key(a: Architecture): { text: string; key: string } {
    if (typeof a === 'string' && this.space === 'nas-bench-201' && !a.includes(',')) return { text: a, key: nb201CanonicalKey(a) };
    if (typeof a === 'object' && !Array.isArray(a) && Array.isArray((a as Genotype).normal)) return { text: formatGenotype(a as Genotype), key: genotypeKey(a as Genotype) };
    const text = requestText(a);
    return { text, key: `supernet:${text}` };
  }

  #score(a: Architecture): TegScores {
    const { text, key } = this.#key(a);
    const hit = this.#cache.get(key);
    if (hit) return { ...hit, arch: text, cached: true };
    this.calls++;
    const u = [1, 2, 3, 4].map((s) => hash(key, s + 10 * this.salt));
    const bad = key === '#' || u[0] < 0.05;
    const s: TegScores = {
      arch: text,
      key,
      cond: bad ? null : 10 + 1000 * u[0],
      mse: bad ? null : 0.5 + u[1],
      regions: Math.round(100 + 900 * u[2]),
      naswot: u[3] < 0.02 ? Number.NaN : 500 + u[3],
      params: u[3],
      flops: -0,
      bad,
      ...(bad ? { badReason: 'fake' } : {}),
      repeats: [],
      seconds: { ntk: 0, regions: 0, naswot: 0, total: 0 },
      cached: false,
    };
    this.#cache.set(key, s);
    return s;
  }

  async score(a: Architecture): Promise<TegScores> {
    return this.#score(a);
  }

  async scoreMany(archs: readonly Architecture[], options: { each?: (i: number, s: TegScores) => void } = {}): Promise<TegScores[]> {
    const out = archs.map((a) => this.#score(a));
    for (let i = out.length - 1; i >= 0; i--) options.each?.(i, out[i]);
    return out;
  }

  remember(s: TegScores): void {
    if (!s.cached && !this.#cache.has(s.key)) this.#cache.set(s.key, s);
  }
}

const OPTIONS = { seed: 5, steps: 30, population: 20, sample: 5 };

function search(algo: AlgoName, space: 'nas-bench-201' | 'darts', journal: MemoryJournal, seed = OPTIONS.seed): { run: Promise<SearchResult>; scorers: FakeScorer[] } {
  const scorers: FakeScorer[] = [];
  const make = (salt: number) => {
    const f = new FakeScorer(space, salt);
    scorers.push(f);
    return f;
  };
  const main = make(0);
  const run = runSearch(algo, main, { ...OPTIONS, seed, steps: algo === 'random' ? 40 : OPTIONS.steps, journal, pruneEvaluator: (round) => make(round + 1) });
  return { run, scorers };
}

const comparable = (r: SearchResult) => JSON.stringify({ ...r, seconds: 0 }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));

for (const space of ['nas-bench-201', 'darts'] as const) {
  for (const algo of ['evolution', 'reinforce', 'random', 'prune'] as const) {
    test(`${algo} on ${space}: a search resumed from any prefix of its journal ends exactly as the uninterrupted run`, async (t) => {
      const full = new MemoryJournal();
      const a = search(algo, space, full);
      const ref = await a.run;
      const n = ref.history.length;
      t.is(full.entries.length, n, 'every step is journaled once');
      t.deepEqual(new Set(full.entries.map((e) => e.step)).size, n);
      const computed = a.scorers.reduce((s, f) => s + f.calls, 0);
      // Kill points: nothing written, one entry, a few in between, all but one, everything.
      const cuts = [...new Set([0, 1, 7, Math.floor(n / 3), Math.floor(n / 2), n - 1, n])].filter((k) => k <= n);
      for (const cut of cuts) {
        const journal = new MemoryJournal(full.entries.slice(0, cut));
        const b = search(algo, space, journal);
        const res = await b.run;
        t.is(comparable(res), comparable(ref), `resumed after ${cut} of ${n} journaled evaluations`);
        t.is(journal.entries.length, n - journal.replay.size, 'only the steps not journaled are journaled again');
        const recomputed = b.scorers.reduce((s, f) => s + f.calls, 0);
        t.true(recomputed <= computed, `no more scoring than the first run (${recomputed} vs ${computed})`);
        if (cut === n) t.is(recomputed, 0, 'a complete journal scores nothing');
        // Killed a second time: the first run's prefix plus part of what the resumed run wrote.
        if (cut > 0 && cut < n) {
          const twice = new MemoryJournal([...full.entries.slice(0, cut), ...journal.entries.slice(0, Math.ceil(journal.entries.length / 2))]);
          t.is(comparable(await search(algo, space, twice).run), comparable(ref), `killed twice (after ${cut})`);
        }
      }
    });
  }
}

test('a journal of another search is refused at the first step that differs', async (t) => {
  const full = new MemoryJournal();
  await search('evolution', 'nas-bench-201', full).run;
  const other = search('evolution', 'nas-bench-201', new MemoryJournal(full.entries), 6);
  await t.throwsAsync(other.run, { code: 'E_JOURNAL', message: /does not belong to this search: step \d+ evaluated/ });
});

const SCORES: TegScores = {
  arch: 'a',
  key: 'k',
  cond: 1234.5678901234567,
  mse: null,
  regions: 1,
  naswot: Number.NaN,
  params: Number.POSITIVE_INFINITY,
  flops: -0,
  bad: true,
  badReason: 'x',
  repeats: [{ cond: 0.1 + 0.2, condBad: false, mse: 5e-324, mseBad: false, regions: 3, naswot: Number.NEGATIVE_INFINITY }],
  seconds: { ntk: 0, regions: 0, naswot: 0, total: 0 },
  cached: false,
};

test('journal lines carry every double exactly, NaN, infinities and -0 included', (t) => {
  const back = decodeJournalLine(encodeJournalLine(SCORES)) as TegScores;
  t.is(back.cond, SCORES.cond);
  t.true(Number.isNaN(back.naswot));
  t.is(back.params, Number.POSITIVE_INFINITY);
  t.true(Object.is(back.flops, -0));
  t.is(back.repeats[0].cond, 0.1 + 0.2);
  t.is(back.repeats[0].mse, 5e-324);
  t.is(back.repeats[0].naswot, Number.NEGATIVE_INFINITY);
  t.is(back.mse, null);
});

test('a journal file reads back its header and entries; a torn last line is dropped and cut off', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-journal-'));
  const path = join(dir, 'j.jsonl');
  const j = FileJournal.create(path, { options: { seed: 1 }, meta: { out: null } });
  const entries: JournalEntry[] = [0, 2, 1].map((step) => ({ step, request: `r${step}`, scores: { ...SCORES, arch: `a${step}` } }));
  for (const e of entries) j.append(e);
  j.close();
  t.throws(() => FileJournal.create(path, { options: {} }), { code: 'E_JOURNAL', message: /already exists/ });

  // A write cut short by SIGKILL.
  const whole = readFileSync(path, 'utf8');
  appendFileSync(path, encodeJournalLine({ step: 3, request: 'r3', scores: SCORES }).slice(0, 40));
  const r = FileJournal.open(path);
  t.deepEqual(r.header.options, { seed: 1 });
  t.is(r.replay.size, 3);
  t.is(r.replay.get(2)?.request, 'r2');
  t.is(r.replay.get(1)?.scores.arch, 'a1');
  t.true(r.droppedBytes > 0);
  t.is(readFileSync(path, 'utf8'), whole, 'the torn line is cut off the file');
  r.append({ step: 3, request: 'r3', scores: SCORES });
  r.close();
  const again = FileJournal.open(path);
  t.is(again.replay.size, 4);
  t.is(again.droppedBytes, 0);
  again.remove();

  // A newline-terminated last line full of garbage (a power cut) is dropped too; garbage before it is an error.
  const p2 = join(dir, 'k.jsonl');
  FileJournal.create(p2, { options: {} }).close();
  appendFileSync(p2, '\u0000\u0000\u0000\n');
  t.is(FileJournal.open(p2).replay.size, 0);
  const p3 = join(dir, 'm.jsonl');
  FileJournal.create(p3, { options: {} }).close();
  appendFileSync(p3, '{"oops\n' + encodeJournalLine({ step: 0, request: 'r', scores: SCORES }));
  t.throws(() => FileJournal.open(p3), { code: 'E_JOURNAL', message: /line 2 is not valid JSON/ });
  writeFileSync(join(dir, 'n.jsonl'), '{"hello": 1}\n');
  t.throws(() => FileJournal.open(join(dir, 'n.jsonl')), { code: 'E_JOURNAL', message: /not a tegnas search journal/ });
  t.throws(() => FileJournal.open(join(dir, 'missing.jsonl')), { code: 'E_JOURNAL', message: /no such file/ });
});
