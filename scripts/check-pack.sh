#!/usr/bin/env bash
# npm pack, install the tarball into an empty project, and use it from import and require with only
# node on PATH (no compiler, no cmake): the prebuilt binary inside the tarball must be what loads.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
tgz="$(npm pack --pack-destination "$work" 2>/dev/null | tail -n 1)"
mkdir -p "$work/app" "$work/bin"
ln -s "$(command -v node)" "$work/bin/node"
cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund "$work/$tgz" >/dev/null
tar -tzf "$work/$tgz" > "$work/listing"
grep -q 'package/prebuilds/.*\.node$' "$work/listing" || { echo "no prebuilt binary in $tgz" >&2; exit 1; }
cat > esm.mjs <<'JS'
import { Network } from 'tegnas';
const net = Network.nb201('|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|', { C: 3, N: 1, classes: 10 }).init('torch-default', 0);
const x = new Float32Array(4 * net.inputSize).map((_, i) => Math.sin(i));
const r = net.perSampleGradients(x, 4);
if (r.grads.length !== 4 * r.columns.reduce((a, c) => a + c.numel, 0) || !r.grads.some((v) => v !== 0)) throw new Error('bad gradients');
console.log('import: ok');
JS
cat > cjs.cjs <<'JS'
const { Network, backendInfo } = require('tegnas');
const net = Network.darts("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])", { C: 1, N: 1, classes: 10, depth: 2 }).init('torch-default', 0);
const x = new Float32Array(3 * net.inputSize).map((_, i) => Math.cos(i));
if (!net.perSampleGradients(x, 3).grads.some((v) => v !== 0)) throw new Error('bad gradients');
console.log('require: ok', JSON.stringify(backendInfo()));
JS
PATH="$work/bin" node esm.mjs
PATH="$work/bin" node cjs.cjs
PATH="$work/bin" node node_modules/tegnas/dist/cli/main.js ntk --batch 8 >/dev/null
echo "pack check passed ($tgz)"
