#!/usr/bin/env node
// Install step for the native addon: use a bundled prebuilt binary when one loads, else build from
// source with cmake-js, else with node-gyp (binding.gyp, CPU only), else fail with one message.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = process.env;
const forceBuild = env.TEGNAS_BUILD_FROM_SOURCE === '1' || env.npm_config_build_from_source === 'true';
const log = (m) => process.stderr.write(`tegnas install: ${m}\n`);

function loads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

function run(cmd, args) {
  log(`${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  return r.status === 0;
}

function resolveBin(mod, rel) {
  try {
    return require.resolve(path.join(mod, rel), { paths: [root] });
  } catch {
    return null;
  }
}

function hasCommand(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

if (!forceBuild && loads()) {
  log('the native addon loads (a bundled prebuild or an earlier build); set TEGNAS_BUILD_FROM_SOURCE=1 to rebuild');
  process.exit(0);
}

const tried = [];
const cmakeJs = resolveBin('cmake-js', 'bin/cmake-js');
if (cmakeJs && hasCommand('cmake')) {
  const cuda = env.TEGNAS_CUDA || 'AUTO';
  if (run(process.execPath, [cmakeJs, 'compile', `--CDTEGNAS_CUDA=${cuda}`]) && loads()) process.exit(0);
  tried.push('cmake-js (cmake build failed)');
} else {
  tried.push(cmakeJs ? 'cmake-js (cmake not found on PATH)' : 'cmake-js (not installed)');
}

const nodeGyp = (env.npm_config_node_gyp && fs.existsSync(env.npm_config_node_gyp) && env.npm_config_node_gyp) ||
  resolveBin('node-gyp', 'bin/node-gyp.js');
if (nodeGyp) {
  if (run(process.execPath, [nodeGyp, 'rebuild']) && loads()) process.exit(0);
  tried.push('node-gyp (build failed)');
} else {
  tried.push('node-gyp (not found)');
}

log(
  `no prebuilt binary for ${process.platform}-${process.arch} (N-API 8) and the build from source failed; tried: ` +
    `${tried.join(', ')}. Install cmake (>= 3.18) and a C++17 compiler, or python3, make and a C++17 compiler for node-gyp, then run npm rebuild tegnas.`,
);
process.exit(1);
