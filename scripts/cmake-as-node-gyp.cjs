#!/usr/bin/env node
// prebuildify drives node-gyp; this stands in for it so prebuilt binaries come from the CMake build
// (with the CUDA backend where nvcc works). prebuildify's node-gyp arguments name a Node target for
// header downloads, which an N-API build with cmake-js does not need, so they are ignored.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const debug = process.argv.includes('--debug');
const args = [cmakeJs, 'rebuild', `--CDTEGNAS_CUDA=${process.env.TEGNAS_CUDA || 'AUTO'}`];
if (debug) args.push('--debug');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
