import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportCheckFixtures } from '../scripts/export-check-fixtures.js';

// The native check executable (native/check/, npm run check:native) reads plans exported by the
// TypeScript builders. When a builder changes, the committed export must follow.
const dir = fileURLToPath(new URL('./fixtures/check/', import.meta.url));

test('test/fixtures/check (the plans of tegnas-check) is what the builders write today', (t) => {
  const files = exportCheckFixtures();
  const stale = [...files].filter(([name, text]) => {
    try {
      return readFileSync(join(dir, name), 'utf8') !== text;
    } catch {
      return true;
    }
  });
  t.deepEqual(stale.map(([n]) => n), [], 'stale or missing: run npx tsx scripts/export-check-fixtures.ts');
  const plans = [...files.keys()].filter((n) => n.startsWith('plans/')).map((n) => n.slice('plans/'.length));
  t.deepEqual(readdirSync(join(dir, 'plans')).sort(), plans.sort(), 'plans no case uses: run npx tsx scripts/export-check-fixtures.ts');
});
