import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nb201ClassRepresentatives } from '../src/benchmarks/nb201-classes.js';
import { TegnasError } from '../src/errors.js';
import type { TegScores } from '../src/scoring/indicators.js';
import { Scorer, type ScorerOptions } from '../src/scoring/scorer.js';
import { runSearch } from '../src/search/run.js';
import { nb201CanonicalKey } from '../src/spaces/nb201.js';
import { precompute } from '../src/store/precompute.js';
import { ScoreDb } from '../src/store/score-db.js';

// Small and cheap: one network per indicator, one engine thread (tests run side by side).
const FAST = ['--repeat', '1', '--threads', '1'];
const FAST_OPTIONS: ScorerOptions = { space: 'nas-bench-201', repeat: 1, threads: 1 };

const root = fileURLToPath(new URL('../', import.meta.url));
const cliArgs = (args: string[]) => ['--import', 'tsx', 'src/cli/main.ts', ...args];
const cli = (...args: string[]) => spawnSync(process.execPath, cliArgs(args), { cwd: root, encoding: 'utf8' });
const tempFile = (name: string) => join(mkdtempSync(join(tmpdir(), 'tegnas-db-')), name);
const reps = nb201ClassRepresentatives();

/** The same JSON without timings (`seconds` anywhere). */
const untimed = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (k, v: unknown) => (k === 'seconds' ? undefined : v)));

function readDb<T>(file: string, f: (db: ScoreDb) => T): T {
  const db = ScoreDb.open(file);
  try {
    return f(db);
  } finally {
    db.close();
  }
}

test('the representatives: 5,425 classes, lowest official index first, each key once', (t) => {
  t.is(reps.length, 5425);
  t.is(new Set(reps.map((r) => r.key)).size, 5425);
  t.is(reps.reduce((a, r) => a + r.members, 0), 15625);
  t.is(reps[0].index, 0);
  for (let i = 1; i < reps.length; i++) t.true(reps[i].index > reps[i - 1].index);
  for (const r of reps.slice(0, 50)) t.is(nb201CanonicalKey(r.arch), r.key);
});

test('precompute --limit scores the first classes in order, and a rerun adds only new ones', (t) => {
  const file = tempFile('scores.sqlite');
  const first = cli('precompute', '--limit', '3', '--out', file, ...FAST);
  t.is(first.status, 0, first.stderr);
  t.regex(first.stdout, /scored 3 architectures in [\d.]+ s \([\d.]+ archs\/s/);
  t.regex(first.stdout, /holds 3 of 5,425 classes; the other 5,422 would take about/);
  t.regex(first.stdout, /projected time for the whole space \(5,425 classes\) at this rate: \S/);
  t.regex(first.stderr, /precompute: 3\/3 \(3\/5425 stored\) [\d.]+ archs\/s/);
  const before = readDb(file, (db) => {
    t.is(db.count(), 3);
    t.is(db.meta.repeat, 1);
    t.is(db.meta.seed, 0);
    t.is(db.meta.space, 'nas-bench-201');
    return db.all();
  });
  t.deepEqual(before.map((s) => s.arch), reps.slice(0, 3).map((r) => r.arch));
  t.false(existsSync(`${file}.lock`), 'a finished run releases its lock');

  const again = cli('precompute', '--limit', '2', '--out', file, ...FAST);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /3 of 5,425 classes stored/);
  t.regex(again.stdout, /scored 2 architectures/);
  const after = readDb(file, (db) => db.all());
  t.deepEqual(after.map((s) => s.key), reps.slice(0, 5).map((r) => r.key));
  t.deepEqual(after.slice(0, 3), before, 'the stored scores are untouched');
});

test('a score written then read back is the Scorer\'s result, field for field and in order', async (t) => {
  const file = tempFile('scores.sqlite');
  const archs = [
    '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', // dead: bad, with a reason, null cond
    '|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|',
    '|skip_connect~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|',
  ];
  const scorer = new Scorer({ ...FAST_OPTIONS, db: file });
  const scored: TegScores[] = [];
  for (const a of archs) scored.push(await scorer.score(a));
  t.is(scorer.evaluations, 3);
  scorer.close();
  t.true(scored[0].bad && scored[0].cond === null && typeof scored[0].badReason === 'string');

  const db = ScoreDb.open(file);
  try {
    t.is(db.count(), 3);
    for (const s of scored) t.is(JSON.stringify(db.get(s.key)), JSON.stringify(s));
    t.is(JSON.stringify(db.all()), JSON.stringify(scored));
    // Lookup by arch canonicalises: another member of the class finds the row (arch: the one scored).
    const member = '|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|';
    t.is(nb201CanonicalKey(member), scored[1].key);
    t.deepEqual(db.getByArch(member), scored[1]);
    t.is(db.getByArch('|nor_conv_1x1~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|'), undefined);
    t.true(db.has(scored[2].key));
    t.is(db.keys().size, 3);

    // Values that plain JSON would lose survive in the repeats.
    const odd: TegScores = {
      ...scored[2],
      arch: '|avg_pool_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|',
      key: nb201CanonicalKey('|avg_pool_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|'),
      repeats: [{ cond: Number.POSITIVE_INFINITY, condBad: true, mse: Number.NaN, mseBad: true, regions: 3, naswot: -0, reason: 'repeat 0: odd' }],
    };
    t.true(db.put(odd));
    t.false(db.put(odd), 'a stored class is not overwritten');
    const back = db.get(odd.key)!;
    t.is(back.repeats[0].cond, Number.POSITIVE_INFINITY);
    t.true(Number.isNaN(back.repeats[0].mse));
    t.true(Object.is(back.repeats[0].naswot, -0));
    t.throws(() => db.put({ ...odd, key: 'a=made-up;out=a' }), { code: 'E_DB' });
    t.throws(() => db.put({ ...odd, arch: scored[1].arch, key: scored[1].key, regions: Number.NaN }), { message: /regions is NaN/ });
  } finally {
    db.close();
  }
});

test('a Scorer with a database returns stored classes without scoring; dbExact only the very arch', async (t) => {
  const file = tempFile('scores.sqlite');
  const stored = '|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|';
  const member = '|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|'; // same class, conv on another edge
  const writer = new Scorer({ ...FAST_OPTIONS, db: file });
  const original = await writer.score(stored);
  writer.close();

  // Members of a class put their ops on other edges, so other initial weights: exact lookups score them.
  const own = await new Scorer(FAST_OPTIONS).score(member);
  t.not(own.cond, original.cond);
  // A class hit: the stored member's NTK indicators, the asked arch's own regions, NASWOT and cost.
  const withOwnStructure = (from: TegScores, mine: TegScores, cached: boolean) =>
    untimed({
      ...from,
      arch: mine.arch,
      regions: mine.regions,
      naswot: mine.naswot,
      params: mine.params,
      flops: mine.flops,
      repeats: from.repeats.map((r, i) => ({ ...r, regions: mine.repeats[i].regions, naswot: mine.repeats[i].naswot })),
      cached,
    });

  const reader = new Scorer({ ...FAST_OPTIONS, db: file });
  const s = await reader.score(member);
  t.is(reader.evaluations, 0);
  t.is(reader.dbHits, 1);
  t.deepEqual(untimed(s), withOwnStructure(original, own, false));
  t.deepEqual(untimed(await reader.score(stored)), untimed({ ...original, cached: true }), 'then the in-memory cache answers');
  reader.close();

  const exact = new Scorer({ ...FAST_OPTIONS, db: file, dbExact: true });
  t.deepEqual(untimed(await exact.score(member)), untimed(own));
  // Then the class is in the in-memory cache, which answers for every member as a Scorer without a database would.
  t.deepEqual(untimed(await exact.score(stored)), withOwnStructure(own, original, true));
  t.is(exact.evaluations, 1);
  t.is(exact.dbHits, 0);
  exact.close();
  t.is(readDb(file, (db) => db.count()), 1, 'an exact miss does not replace the stored member');
});

test('a database made with other options is refused with what it holds and what came', (t) => {
  const file = tempFile('scores.sqlite');
  new Scorer({ ...FAST_OPTIONS, db: file }).close();
  const e = t.throws(() => new Scorer({ ...FAST_OPTIONS, repeat: 2, seed: 7, db: file }), { instanceOf: TegnasError });
  t.is(e?.code, 'E_DB');
  t.regex(e!.message, /seed: the database has 0, this run has 7; repeat: the database has 1, this run has 2/);
  t.regex(e!.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds scores computed with other options`));
  t.throws(() => new Scorer({ ...FAST_OPTIONS, init: 'kaiming-fanin', db: file }), { message: /init: the database has "torch-default", this run has "kaiming-fanin"/ });
  t.throws(() => new Scorer({ ...FAST_OPTIONS, precision: 'float64', db: file }), { message: /precision: the database has "float32", this run has "float64"/ });
  t.throws(() => new Scorer({ ...FAST_OPTIONS, mse: false, db: file }), { message: /mse: the database has true, this run has false/ });
  // An open ScoreDb is checked the same way.
  const db = ScoreDb.open(file);
  t.throws(() => new Scorer({ ...FAST_OPTIONS, batchSize: 32, db }), { message: /batchSize: the database has 64, this run has 32/ });
  t.throws(() => new Scorer({ ...FAST_OPTIONS, db: file }), { message: /in use by this process/ });
  db.close();
  new Scorer({ ...FAST_OPTIONS, db: file }).close();

  // On the command line: one line, exit code 2, before any search work.
  const r = cli('search', '--db', file, '--steps', '1', '--population', '1');
  t.is(r.status, 2, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1);
  t.regex(r.stderr, /repeat: the database has 1, this run has 3\. Use the database's options, or another file/);
  const p = cli('precompute', '--out', file, '--seed', '5', ...FAST);
  t.is(p.status, 2, p.stderr);
  t.regex(p.stderr, /seed: the database has 0, this run has 5/);

  const text = tempFile('notes.sqlite');
  writeFileSync(text, 'not a database\n');
  t.throws(() => ScoreDb.open(text), { code: 'E_DB', message: /not an SQLite database/ });
  t.throws(() => ScoreDb.open(tempFile('missing.sqlite')), { code: 'E_DB', message: /no score database at/ });
});

test('tegnas precompute rejects bad flags with one line and exit code 2', (t) => {
  const bad = (args: string[], pattern: RegExp) => {
    const r = cli('precompute', ...args);
    t.is(r.status, 2, `precompute ${args.join(' ')}: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, pattern);
  };
  bad(['--space', 'darts'], /--space darts cannot be precomputed: only nas-bench-201/);
  bad(['--space', 'nats'], /--space must be one of/);
  bad(['--limit', '0'], /--limit must be between 1 and 5425/);
  bad(['--limit', 'ten'], /--limit must be an integer/);
  bad(['--dataset', 'mnist'], /--dataset must be one of/);
  bad(['--out', '/nonexistent/folder/scores.sqlite'], /the folder \/nonexistent\/folder does not exist/);
  bad(['--out', tmpdir()], /is not a file/);
  bad(['--repeat', '0'], /--repeat must be between 1 and 100/);
  bad(['--data-dir', '/nonexistent/folder'], /--data-dir \/nonexistent\/folder is not a readable folder/);
  bad(['--frobnicate'], /Unknown option/);
  const help = cli('--help');
  t.regex(help.stdout, /tegnas precompute \[options\]/);
});

// Serial (ava runs serial tests first): the other tests' spawnSync calls would block this one's event
// loop, so it could not see the child's progress in time to kill it mid-run.
test.serial('a precompute killed mid-run loses nothing and a rerun completes it', async (t) => {
  const file = tempFile('scores.sqlite');
  const limit = 8;
  const child = spawn(process.execPath, cliArgs(['precompute', '--limit', String(limit), '--out', file, ...FAST]), { cwd: root });
  let stderr = '';
  const reported = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const done = [...stderr.matchAll(/precompute: (\d+)\/\d+/g)].map((m) => Number(m[1]));
      if (done.length && done[done.length - 1] >= 2) {
        if (child.exitCode !== null) reject(new Error(`precompute finished before it could be killed: ${stderr}`));
        child.kill('SIGKILL');
        resolve(done[done.length - 1]);
      }
    });
    child.on('exit', () => reject(new Error(`precompute ended before it was killed: ${stderr}`)));
  });
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)));
  t.is(child.signalCode, 'SIGKILL');
  t.true(existsSync(`${file}.lock`) && existsSync(`${file}.owner`), 'the killed process left its lock behind');

  // Opening clears the dead process's lock and recovers every committed score.
  const kept = readDb(file, (db) => db.all());
  t.true(kept.length >= reported && kept.length < limit, `${kept.length} kept, ${reported} reported`);
  t.deepEqual(kept.map((s) => s.key), reps.slice(0, kept.length).map((r) => r.key));

  const rerun = cli('precompute', '--limit', String(limit - kept.length), '--out', file, ...FAST);
  t.is(rerun.status, 0, rerun.stderr);
  t.regex(rerun.stdout, new RegExp(`${kept.length} of 5,425 classes stored`));
  const all = readDb(file, (db) => db.all());
  t.deepEqual(all.map((s) => s.key), reps.slice(0, limit).map((r) => r.key));
  t.deepEqual(all.slice(0, kept.length), kept);
  t.false(existsSync(`${file}.lock`));
});

test('tegnas search --db gives the same JSON as without it, and a rerun reads every class from the database', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-db-'));
  const db = join(dir, 'scores.sqlite');
  const args = ['search', '--algo', 'evolution', '--steps', '6', '--population', '4', '--sample', '2', ...FAST];
  const json = (name: string, extra: string[]) => {
    const out = join(dir, name);
    const r = cli(...args, '--out', out, ...extra);
    t.is(r.status, 0, r.stderr);
    return { stdout: r.stdout, json: JSON.parse(readFileSync(out, 'utf8')) as { unique: number } };
  };
  const plain = json('plain.json', []);
  const filling = json('filling.json', ['--db', db]);
  t.regex(filling.stdout, new RegExp(`score database .*: 0 classes read from it, ${plain.json.unique} scored`));
  const reading = json('reading.json', ['--db', db]);
  t.regex(reading.stdout, new RegExp(`score database .*: ${plain.json.unique} classes read from it, 0 scored`));
  t.deepEqual(untimed(filling.json), untimed(plain.json));
  t.deepEqual(untimed(reading.json), untimed(plain.json));
});

test('with dbExact a search over a database of other class members gives the same result as without it', async (t) => {
  const opts = { seed: 3, steps: 6, population: 4, sample: 2 };
  const plain = await runSearch('evolution', new Scorer(FAST_OPTIONS), opts);
  // A database holding, for the classes the search visits, the visited member for half of them and
  // another member of the class for the other half.
  const file = tempFile('scores.sqlite');
  const filler = new Scorer({ ...FAST_OPTIONS, db: file });
  const firstSeen = [...new Map(plain.history.map((e) => [e.scores.key, e.arch])).values()];
  const members = (arch: string) => reps.find((r) => r.key === nb201CanonicalKey(arch))!;
  let other = 0;
  for (const [i, arch] of firstSeen.entries()) {
    const rep = members(arch);
    if (i % 2 === 1 && rep.members > 1 && rep.arch !== arch) {
      await filler.score(rep.arch);
      other++;
    } else await filler.score(arch);
  }
  filler.close();
  t.true(other > 0, 'some classes hold another member');

  const exact = new Scorer({ ...FAST_OPTIONS, db: file, dbExact: true });
  const result = await runSearch('evolution', exact, opts);
  exact.close();
  t.deepEqual(untimed(result), untimed(plain));
  t.is(exact.dbHits, firstSeen.length - other);
  t.is(exact.evaluations, other);

  // Without dbExact every visited class comes from the database (the scores of the stored members).
  const byClass = new Scorer({ ...FAST_OPTIONS, db: file });
  await runSearch('evolution', byClass, opts);
  byClass.close();
  t.true(byClass.dbHits >= firstSeen.length - other);
});

test('precompute() as a library: limits, progress and resume', async (t) => {
  const file = tempFile('scores.sqlite');
  const scorer = new Scorer({ ...FAST_OPTIONS, db: file, cache: false });
  const seen: number[] = [];
  const r = await precompute(scorer, { limit: 2, onProgress: (p) => seen.push(p.done) });
  t.deepEqual(seen, [1, 2]);
  t.is(r.scored, 2);
  t.is(r.stored, 2);
  t.is(r.classes, 5425);
  t.true(r.rate > 0);
  const none = await precompute(scorer, { limit: 0 });
  t.is(none.scored, 0);
  const ac = new AbortController();
  ac.abort();
  t.is((await precompute(scorer, { limit: 3, signal: ac.signal })).scored, 0);
  scorer.close();
  await t.throwsAsync(() => precompute(new Scorer(FAST_OPTIONS)), { code: 'E_INPUT', message: /needs a Scorer with a score database/ });
});
