import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

test('correlate --db reads every stored class instead of scoring, and rejects a missing file', (t) => {
  const db = join(mkdtempSync(join(tmpdir(), 'tegnas-corr-')), 's.sqlite');
  execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'precompute', '--out', db, '--limit', '4', '--repeat', '1'], { encoding: 'utf8' });
  const r = cli(['correlate', '--db', db, '--json']);
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { samples: number; correlations: unknown[]; rows: unknown[] };
  t.is(j.samples, 4);
  t.is(j.rows.length, 4);
  t.true(j.correlations.length > 0);
  const missing = cli(['correlate', '--db', `${db}.nope`]);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /no such file/);
});
