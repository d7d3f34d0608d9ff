import test from 'ava';
import { Scorer } from '../src/scoring/scorer.js';
import { nb201CanonicalKey } from '../src/spaces/nb201.js';

// One class: the output is a skip from the input; the second and third also run convs whose outputs
// nothing reads (node 1 feeds no later edge), which the reference runs, and so counts.
const PLAIN = '|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|';
const DANGLING = '|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|';
const MORE = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|';

test('a class hit shares the NTK indicators but counts the regions, NASWOT and cost of the arch asked for', async (t) => {
  t.is(nb201CanonicalKey(DANGLING), nb201CanonicalKey(PLAIN));
  t.is(nb201CanonicalKey(MORE), nb201CanonicalKey(PLAIN));
  const options = { space: 'nas-bench-201' as const, seed: 1, repeat: 2, threads: 1 };
  const cached = new Scorer(options);
  const plain = await cached.score(PLAIN);
  const fresh = new Scorer({ ...options, cache: false });
  for (const arch of [DANGLING, MORE]) {
    const hit = await cached.score(arch);
    const own = await fresh.score(arch);
    t.true(hit.cached, arch);
    t.is(hit.arch, arch);
    // Regions, NASWOT (a forward pass of its own) and cost are this arch's, to the bit.
    t.is(hit.regions, own.regions);
    t.is(hit.naswot, own.naswot);
    t.deepEqual(hit.repeats.map((r) => [r.regions, r.naswot]), own.repeats.map((r) => [r.regions, r.naswot]));
    t.is(hit.params, own.params);
    t.is(hit.flops, own.flops);
    t.true(own.regions > plain.regions, `the dangling convs add ReLUs: ${own.regions} vs ${plain.regions}`);
    t.true(own.params > plain.params);
    // The condition number and regression error are the class's (the same function).
    t.is(hit.cond, plain.cond);
    t.is(hit.mse, plain.mse);
    t.deepEqual(hit.repeats.map((r) => [r.cond, r.mse]), plain.repeats.map((r) => [r.cond, r.mse]));
  }
  t.is(cached.evaluations, 1, 'the NTK networks ran once for the class');
  // Asked again, the arch's whole score comes from the cache.
  const again = await cached.score(MORE);
  t.true(again.cached);
  t.is(again.regions, (await fresh.score(MORE)).regions);
  t.is(again.seconds.total, 0);
});

test('side by side, members of one class in flight at once still get their own regions', async (t) => {
  const options = { space: 'nas-bench-201' as const, seed: 2, repeat: 1, threads: 2 };
  const [a, b] = await new Scorer(options).scoreMany([PLAIN, MORE], { concurrency: 2 });
  const own = await new Scorer({ ...options, cache: false }).score(MORE);
  t.is(b.regions, own.regions);
  t.is(b.params, own.params);
  t.is(b.cond, a.cond);
});
