import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
// Asynchronous, so that a test polling a journal is never held up by another test's run.
function run(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

// A small real search: 32 evaluations of NAS-Bench-201 networks (one network per indicator, NTK batch 16).
const SEARCH = ['search', '--population', '8', '--sample', '3', '--steps', '24', '--repeat', '1', '--batch-size', '16', '--seed', '3'];

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

function strip(file: string) {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  delete j.seconds;
  delete j.best.scores.seconds;
  return j;
}

/** Runs `args` uninterrupted, then again killed with SIGKILL after `killAfter` journaled evaluations. */
async function killed(t: { true: (v: boolean, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void; false: (v: boolean, m?: string) => void }, args: string[], killAfter: number, total: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-resume-'));
  const a = await run(...args, '--out', join(dir, 'a.json'));
  t.is(a.status, 0, a.stderr);
  t.false(existsSync(join(dir, 'a.journal.jsonl')), 'the journal is removed once the result is written');
  t.is(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')).history.length, total);

  const out = join(dir, 'b.json'), journal = join(dir, 'b.journal.jsonl');
  const child = spawn(process.execPath, [...CLI, ...args, '--out', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 60_000;
  while (lines(journal) < killAfter + 1 && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  t.is(await exited, 'SIGKILL', `the search ended by itself: ${stderr}`);
  t.false(existsSync(out), 'killed before it finished');
  const journaled = lines(journal) - 1;
  t.true(journaled >= killAfter && journaled < total, `${journaled} of ${total} evaluations journaled`);
  return { dir, a, out, journal, journaled };
}

const untimed = (s: string) => s.replace(/, [\d.]+ s$/m, '');

test.serial('a search killed with SIGKILL mid-run and resumed ends exactly as an uninterrupted run', async (t) => {
  const { dir, a, out, journal, journaled } = await killed(t, SEARCH, 5, 32);
  const differ = await run('search', '--resume', journal, '--seed', '4');
  t.is(differ.status, 2, differ.stderr);
  t.is(differ.stderr.trim().split('\n').length, 1, differ.stderr);
  t.regex(differ.stderr, /the journal is of a search with seed 3, the command line asks for seed 4/);
  const fresh = await run(...SEARCH, '--out', out);
  t.is(fresh.status, 2, fresh.stderr);
  t.regex(fresh.stderr, /continue it with 'tegnas search --resume .*b\.journal\.jsonl'/);

  // Flags equal to the journal's are accepted; --out comes from the journal.
  const b = await run('search', '--resume', journal, '--seed', '3', '--repeat', '1');
  t.is(b.status, 0, b.stderr);
  t.regex(b.stderr, new RegExp(`resuming .*: ${journaled} evaluations journaled`));
  t.deepEqual(strip(out), strip(join(dir, 'a.json')));
  t.is(untimed(b.stdout), untimed(a.stdout));
  t.false(existsSync(journal));
  const gone = await run('search', '--resume', journal);
  t.is(gone.status, 2);
  t.regex(gone.stderr, /cannot read the journal .*: no such file/);
});

test.serial('TE-NAS pruning and a DARTS REINFORCE search resume exactly too', async (t) => {
  for (const [args, killAfter, total] of [
    [['search', '--algo', 'prune', '--repeat', '1', '--batch-size', '8'], 12, 58],
    [['search', '--space', 'darts', '--algo', 'reinforce', '--steps', '20', '--repeat', '1', '--batch-size', '16', '--seed', '1'], 6, 20],
  ] as const) {
    const { dir, out, journal } = await killed(t, [...args], killAfter, total);
    const b = await run('search', '--resume', journal);
    t.is(b.status, 0, b.stderr);
    t.deepEqual(strip(out), strip(join(dir, 'a.json')), args.join(' '));
  }
});
