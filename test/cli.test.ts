import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });

function usageError(t: { is: (a: unknown, b: unknown, m?: string) => void; regex: (s: string, r: RegExp) => void }, args: string[], pattern: RegExp) {
  const r = run(...args);
  t.is(r.status, 2, `exit code of tegnas ${args.join(' ')}: ${r.stderr}`);
  t.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  t.regex(r.stderr, pattern);
}

test('tegnas score rejects a bad arch, an unknown op, a wrong dataset and a corrupt data file with one line and exit code 2', (t) => {
  usageError(t, ['score', '--arch', 'resnet'], /invalid NAS-Bench-201 arch string/);
  usageError(t, ['score', '--arch', '|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|'], /unknown op 'conv_7x7'/);
  usageError(t, ['score', '--arch', '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', '--dataset', 'mnist'], /--dataset must be one of/);
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-'));
  writeFileSync(join(dir, 'data_batch_1.bin'), new Uint8Array(1000));
  writeFileSync(join(dir, 'test_batch.bin'), new Uint8Array(3073));
  usageError(t, ['score', '--arch', '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', '--data-dir', dir], /data_batch_1\.bin/);
  usageError(t, ['score'], /--arch is required/);
  usageError(t, ['score', '--arch', 'x', '--repeat=-1'], /--repeat must be/);
  usageError(t, ['score', '--arch', 'x', '--repeat', '-1'], /--repeat/);
  usageError(t, ['frobnicate'], /unknown command/);
});

test('tegnas score --json prints the indicators of a fresh install, offline', (t) => {
  const r = run('score', '--arch', '|skip_connect~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|', '--repeat', '1', '--json');
  t.is(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  for (const k of ['arch', 'cond', 'mse', 'regions', 'naswot', 'params', 'flops', 'bad', 'seconds']) t.true(k in s, `missing ${k}`);
  t.true(s.cond > 1 && Number.isFinite(s.cond));
  t.true(s.mse > 0);
  t.true(s.regions > 1);
  t.false(s.bad);
});

test('an all-none architecture is flagged bad with a reason, and nothing is NaN', (t) => {
  const r = run('score', '--arch', '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', '--repeat', '1', '--json');
  t.is(r.status, 0, r.stderr);
  t.false(r.stdout.includes('NaN'));
  const s = JSON.parse(r.stdout);
  t.true(s.bad);
  t.regex(s.badReason, /zero/);
  t.is(s.cond, null);
  t.is(s.regions, 1);
});

test('tegnas search rejects bad flags with one line and exit code 2, before any work', (t) => {
  usageError(t, ['search', '--algo', 'hillclimb'], /--algo must be one of/);
  usageError(t, ['search', '--steps=-5'], /--steps must be between 1/);
  usageError(t, ['search', '--population', '20000'], /--population must be between 1 and 15625/);
  usageError(t, ['search', '--population', '8', '--sample', '9'], /--sample must be between 1 and 8/);
  usageError(t, ['search', '--space', 'darts', '--population', '100000000'], /--population must be between 1 and 1000000, got 100000000/);
  usageError(t, ['search', '--data-dir', '/nonexistent/folder'], /--data-dir \/nonexistent\/folder is not a readable folder/);
  usageError(t, ['search', '--lr', 'fast'], /--lr must be a number/);
});

test('a small search prints the architecture with its NAS-Bench-201 accuracies, and the same seed repeats it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tegnas-'));
  const args = ['search', '--population', '4', '--sample', '2', '--steps', '2', '--repeat', '1', '--seed', '3'];
  const a = run(...args, '--out', join(dir, 'a.json'));
  t.is(a.status, 0, a.stderr);
  t.regex(a.stdout, /best {8}\|/);
  t.regex(a.stdout, /cifar100 +\d+\.\d\d %/);
  const b = run(...args, '--out', join(dir, 'b.json'));
  t.is(b.status, 0, b.stderr);
  const strip = (f: string) => {
    const j = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    delete j.seconds;
    delete j.best.scores.seconds;
    return j;
  };
  const ja = strip('a.json'), jb = strip('b.json');
  t.deepEqual(ja, jb);
  for (const k of ['algo', 'space', 'dataset', 'seed', 'best', 'evaluations', 'history']) t.true(k in ja, k);
  t.true('nb201' in ja.best);
  t.is(ja.history.length, 6);
});
