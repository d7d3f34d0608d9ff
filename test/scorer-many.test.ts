import test from 'ava';
import { Scorer } from '../src/scoring/scorer.js';
import type { TegScores } from '../src/scoring/indicators.js';

const ARCHS = [
  '|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|',
  '|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|',
  '|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|',
  // the same canonical class as the first (a cached / in-flight duplicate)
  '|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|',
];

const values = (s: TegScores) => ({ key: s.key, cond: s.cond, mse: s.mse, regions: s.regions, naswot: s.naswot, bad: s.bad, repeats: s.repeats });

test('scoreMany (architectures side by side) gives exactly the scores of score() one by one, in input order', async (t) => {
  const one = new Scorer({ space: 'nas-bench-201', seed: 3, repeat: 1, threads: 1 });
  const seq: TegScores[] = [];
  for (const a of ARCHS) seq.push(await one.score(a));
  const many = await new Scorer({ space: 'nas-bench-201', seed: 3, repeat: 1, threads: 2 }).scoreMany(ARCHS);
  t.is(many.length, ARCHS.length);
  for (let i = 0; i < ARCHS.length; i++) {
    t.is(many[i].arch, seq[i].arch);
    t.deepEqual(values(many[i]), values(seq[i]));
  }
  t.true(many[3].cached, 'the duplicate class is scored once');
});

test('scoreMany rejects a bad concurrency', async (t) => {
  const s = new Scorer({ space: 'nas-bench-201', seed: 0, repeat: 1 });
  await t.throwsAsync(() => s.scoreMany(ARCHS, { concurrency: 0 }), { message: /concurrency must be a positive integer/ });
});
