import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// docs/api.md is generated from the types by scripts/api-docs.ts (npm run docs:api). When an export, a
// signature or a documentation comment of the public API changes, the committed reference must follow.
const root = fileURLToPath(new URL('../', import.meta.url));
const readDocs = () => readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');

test('docs/api.md is what scripts/api-docs.ts writes today', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/api-docs.ts', '--check'], { cwd: root, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr || 'stale: run npm run docs:api');
});

test('the API reference documents known exports with their signatures', (t) => {
  const docs = readDocs();
  for (const heading of ['### class Scorer', '### class TegnasError', '### function evolution', '### function backendInfo', '### interface ScorerOptions', '### const NB201_OPS'])
    t.true(docs.includes(`\n${heading}\n`), heading);
  t.regex(docs, /\n  score\(arch: Architecture, options\?: \{ threads\?: number; \}\): Promise<TegScores>;\n/);
  t.regex(docs, /\nfunction evolution\(evaluator: Evaluator, options\?: EvolutionOptions\): Promise<SearchResult>;\n/);
  t.regex(docs, /\nclass TegnasError extends Error \{\n/);
  // JSDoc text comes along, and private (#) members stay out.
  t.true(docs.includes('The one error class of the package.'));
  t.false(/\n  #|\n  readonly #/.test(docs));
  t.false(docs.includes(root), 'no absolute paths');
});

test('every name src/index.ts exports has an entry', (t) => {
  const index = readFileSync(new URL('../src/index.ts', import.meta.url), 'utf8');
  const names = [...index.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((m) =>
    m[1].split(',').map((s) => s.trim().split(/\s+as\s+/).pop()!).filter((s) => s),
  );
  t.true(names.length > 100);
  const docs = readDocs();
  const missing = names.filter((n) => !new RegExp(`\\n### (class|function|interface|type|const) ${n}\\n`).test(docs));
  t.deepEqual(missing, []);
});
