import test from 'ava';
import { readFileSync } from 'node:fs';
import { backendInfo, nativeVersion } from '../src/native.js';

const root = new URL('../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

test('binding.gyp builds the same CPU sources as CMake', (t) => {
  const gyp = JSON.parse(read('binding.gyp')) as { targets: { sources: string[] }[] };
  const gypSources = gyp.targets[0].sources.filter((s) => s !== 'native/addon.cc').sort();
  const cmake = read('cmake/TegnasSources.cmake');
  const block = /set\(TEGNAS_CPU_SOURCES([^)]*)\)/.exec(cmake);
  t.truthy(block, 'TEGNAS_CPU_SOURCES not found');
  const cmakeSources = block![1].split(/\s+/).filter(Boolean).sort();
  t.deepEqual(gypSources, cmakeSources);
});

test('the addon loads, reports its version and explains its backend choice', (t) => {
  const pkg = JSON.parse(read('package.json')) as { version: string };
  t.is(nativeVersion(), pkg.version);
  const info = backendInfo();
  t.true(info.cpu);
  t.is(typeof info.cudaBuilt, 'boolean');
  t.true(info.cudaReason.length > 10, 'a reason is given when the GPU is not used');
  t.true(info.threads >= 1);
});
