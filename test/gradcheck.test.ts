import test from 'ava';
import { buildDartsNetwork } from '../src/plan/darts-network.js';
import { buildTinyNetwork } from '../src/plan/tiny-network.js';
import type { NetworkPlan, ParamSpec, PlanNode } from '../src/plan/types.js';
import { gradCheck } from './helpers/gradcheck.js';

// Every op's backward (and the batched multi-seed backward) against central differences in float64.

const TOL = 1e-6;

function single(input: [number, number, number], params: ParamSpec[], nodes: PlanNode[]): NetworkPlan {
  return { version: 1, input, params, nodes: [{ op: 'input' }, ...nodes], output: nodes.length };
}

const convW = (co: number, ci: number, k: number): ParamSpec => ({ name: 'w.weight', shape: [co, ci, k, k], kind: 'conv-weight' });

const cases: [string, NetworkPlan][] = [
  ['conv 3x3 stride 1 pad 1', single([3, 6, 6], [convW(4, 3, 3)], [{ op: 'conv2d', input: 0, weight: 0, padding: 1 }])],
  ['conv 3x3 stride 2 pad 1', single([3, 7, 7], [convW(2, 3, 3)], [{ op: 'conv2d', input: 0, weight: 0, stride: 2, padding: 1 }])],
  ['conv 3x3 dilation 2 pad 2', single([2, 6, 6], [convW(3, 2, 3)], [{ op: 'conv2d', input: 0, weight: 0, dilation: 2, padding: 2 }])],
  ['conv 1x1 pointwise', single([3, 4, 4], [convW(5, 3, 1)], [{ op: 'conv2d', input: 0, weight: 0 }])],
  ['conv 1x1 stride 2', single([3, 5, 5], [convW(2, 3, 1)], [{ op: 'conv2d', input: 0, weight: 0, stride: 2 }])],
  ['conv depthwise 5x5 dilation 2 stride 2', single([3, 9, 9], [convW(3, 1, 5)], [{ op: 'conv2d', input: 0, weight: 0, stride: 2, padding: 4, dilation: 2, groups: 3 }])],
  ['conv 2 groups with bias, rectangular padding', single([4, 5, 6], [convW(6, 2, 3), { name: 'b.bias', shape: [6], kind: 'linear-bias' }], [
    { op: 'conv2d', input: 0, weight: 0, bias: 1, groups: 2, padding: [1, 0] },
  ])],
  ['batchnorm (train mode)', single([3, 4, 4], [
    { name: 'bn.weight', shape: [3], kind: 'bn-weight' },
    { name: 'bn.bias', shape: [3], kind: 'bn-bias' },
  ], [{ op: 'batchnorm', input: 0, weight: 0, bias: 1 }])],
  ['relu', single([2, 3, 3], [], [{ op: 'relu', input: 0 }])],
  ['avgpool 3x3 s1 p1 (padding not counted)', single([2, 5, 5], [], [{ op: 'avgpool', input: 0, kernel: 3, stride: 1, padding: 1 }])],
  ['avgpool 3x3 s2 p1', single([2, 6, 6], [], [{ op: 'avgpool', input: 0, kernel: 3, stride: 2, padding: 1 }])],
  ['avgpool 2x2 s2', single([2, 6, 6], [], [{ op: 'avgpool', input: 0, kernel: 2, stride: 2, padding: 0 }])],
  ['maxpool 3x3 s1 p1', single([2, 5, 5], [], [{ op: 'maxpool', input: 0, kernel: 3, stride: 1, padding: 1 }])],
  ['maxpool 3x3 s2 p1', single([2, 6, 6], [], [{ op: 'maxpool', input: 0, kernel: 3, stride: 2, padding: 1 }])],
  ['global average pool', single([3, 4, 5], [], [{ op: 'global_avgpool', input: 0 }])],
  ['linear over a flattened map, with bias', single([2, 3, 3], [
    { name: 'fc.weight', shape: [4, 18], kind: 'linear-weight' },
    { name: 'fc.bias', shape: [4], kind: 'linear-bias' },
  ], [{ op: 'linear', input: 0, weight: 0, bias: 1 }])],
  ['add and concat', single([2, 4, 4], [convW(2, 2, 3)], [
    { op: 'conv2d', input: 0, weight: 0, padding: 1 },
    { op: 'relu', input: 0 },
    { op: 'add', inputs: [1, 2, 0] },
    { op: 'concat', inputs: [3, 1, 0] },
  ])],
  ['zero (gradient 0) beside a conv', single([2, 4, 4], [convW(2, 2, 1)], [
    { op: 'conv2d', input: 0, weight: 0 },
    { op: 'zero', input: 1, channels: 2, stride: 1 },
    { op: 'add', inputs: [2, 0] },
  ])],
  ['zero stride 2 with new channel count', single([2, 5, 5], [], [{ op: 'zero', input: 0, channels: 3, stride: 2 }])],
  // The stride-2 3x3 data gradient works on 2x2 input blocks and whole tiles of 8 columns, and adds a 2x2
  // pool shortcut's gradient as it stores: an odd height and a partial last tile (10 columns), and odd
  // both ways with the pool not covering the last row and column.
  ['reduction block: ReLU, 3x3 stride-2 conv, 2x2 pool shortcut (6 x 10)', single([2, 6, 10], [convW(3, 2, 3), convW(3, 2, 1)], [
    { op: 'relu', input: 0 },
    { op: 'conv2d', input: 1, weight: 0, stride: 2, padding: 1 },
    { op: 'avgpool', input: 0, kernel: 2, stride: 2, padding: 0 },
    { op: 'conv2d', input: 3, weight: 1 },
    { op: 'add', inputs: [2, 4] },
  ])],
  ['ReLU, 3x3 stride-2 conv and 2x2 pool of one odd-sized input (7 x 9)', single([2, 7, 9], [convW(3, 2, 3), convW(3, 2, 1)], [
    { op: 'relu', input: 0 },
    { op: 'conv2d', input: 1, weight: 0, stride: 2, padding: 1 },
    { op: 'avgpool', input: 0, kernel: 2, stride: 2, padding: 0 },
    { op: 'conv2d', input: 3, weight: 1 },
    { op: 'global_avgpool', input: 2 },
    { op: 'global_avgpool', input: 4 },
    { op: 'add', inputs: [5, 6] },
  ])],
  ['shift (FactorizedReduce second path)', single([2, 5, 4], [], [{ op: 'shift', input: 0 }])],
];

for (const [name, plan] of cases) {
  test(`finite differences: ${name}`, (t) => {
    const r = gradCheck(plan, { batch: 3, seeds: 2 });
    t.true(r.checked > 0);
    t.true(r.maxRelErr < TOL, `max relative error ${r.maxRelErr} at ${r.worst}`);
  });
}

test('finite differences: NAS-Bench-201 tiny network (conv, pool, skip, none, reduction blocks)', (t) => {
  const plan = buildTinyNetwork('|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|', {
    C: 2, N: 1, classes: 3, inputSize: [8, 8],
  });
  const r = gradCheck(plan, { batch: 4, seeds: 2, samples: 4 });
  t.true(r.maxRelErr < 1e-5, `max relative error ${r.maxRelErr} at ${r.worst}`);
});

test('finite differences: DARTS network with every op kind', (t) => {
  const g = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_3x3', 0), ('dil_conv_5x5', 2), ('avg_pool_3x3', 1), ('max_pool_3x3', 3), ('skip_connect', 0), ('sep_conv_3x3', 4)], normal_concat=[2, 3, 4, 5], reduce=[('skip_connect', 0), ('max_pool_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_5x5', 2), ('sep_conv_5x5', 1), ('skip_connect', 3), ('dil_conv_3x3', 4), ('max_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])";
  const plan = buildDartsNetwork(g, { C: 2, N: 1, classes: 3, depth: 2, inputSize: [8, 8] });
  const r = gradCheck(plan, { batch: 3, seeds: 2, samples: 3 });
  t.true(r.maxRelErr < 1e-5, `max relative error ${r.maxRelErr} at ${r.worst}`);
});
