import test from 'ava';
import { NativeNet } from '../src/native.js';
import { buildTinyNetwork } from '../src/plan/tiny-network.js';
import { planCost } from '../src/scoring/cost.js';

const cost = (arch: string, classes = 10, size = 32) => {
  const plan = buildTinyNetwork(arch, { C: 16, N: 5, classes, inputSize: [size, size] });
  return planCost(plan, new NativeNet(plan).info);
};

test('parameters and FLOPs of the NAS-Bench-201 evaluation network match the official figures', (t) => {
  const largest = cost('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|');
  t.is(Math.round(largest.params * 1e4) / 1e4, 1.5315);
  t.true(Math.abs(largest.flops - 220.11969) < 1e-4, `flops ${largest.flops}`);
  const smallest = cost('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|');
  t.is(Math.round(smallest.params * 1e4) / 1e4, 0.0733);
  // 100 classes add 100 x 64 + 100 classifier parameters over 10 classes' 10 x 64 + 10.
  t.is(Math.round((cost('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', 100).params - smallest.params) * 1e6), 90 * 65);
  // ImageNet16 images are 16 x 16: a quarter of the convolution FLOPs.
  t.true(cost('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|', 120, 16).flops < 60);
});
