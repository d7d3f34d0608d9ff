/**
 * Property-based tests of the two search-space parsers: NAS-Bench-201 arch strings (src/spaces/nb201.ts)
 * and DARTS genotypes (src/spaces/darts.ts). Valid texts round-trip exactly; anything else is an E_ARCH
 * TegnasError that says what was expected; nothing hangs.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  DARTS_GENOTYPE_OPS,
  DARTS_OPS,
  type DartsOp,
  type DartsPair,
  type Genotype,
  formatGenotype,
  genotypeKey,
  mutateGenotype,
  parseGenotype,
  validateGenotype,
} from '../../src/spaces/darts.js';
import {
  NB201_OPS,
  type Nb201Op,
  formatNb201,
  mutateNb201,
  nb201CanonicalKey,
  nb201Code,
  nb201FromCode,
  nb201ReferenceKey,
  parseNb201,
} from '../../src/spaces/nb201.js';
import { Rng } from '../../src/weights/rng.js';
import { acceptOrReject, anyValue, assertClearError, check, labelled, within } from './fuzz.js';

// ---- NAS-Bench-201 -------------------------------------------------------------------------------

const nb201Op = fc.constantFrom(...NB201_OPS);
const nb201Ops = fc.array(nb201Op, { minLength: 6, maxLength: 6 });

/** Edits of a text: insert, delete or replace characters drawn from `alphabet`. */
function mutatedText(base: fc.Arbitrary<string>, alphabet: string): fc.Arbitrary<string> {
  const edit = fc.record({ at: fc.nat(), kind: fc.integer({ min: 0, max: 3 }), ch: fc.constantFrom(...alphabet.split('')), len: fc.integer({ min: 1, max: 8 }) });
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([s, edits]) => {
    for (const e of edits) {
      const at = s.length ? e.at % (s.length + 1) : 0;
      if (e.kind === 0) s = s.slice(0, at) + e.ch + s.slice(at);
      else if (e.kind === 1) s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === 2) s = s.slice(0, at) + e.ch + s.slice(at + 1);
      else s = s.slice(0, at) + s.slice(at, at + e.len).repeat(2) + s.slice(at + e.len); // duplicate a chunk
    }
    return s;
  });
}

const NB201_ALPHABET = '|+~_0123456789abcdefghijklmnopqrstuvwxyz ,\n-';

test('NB201: every op list round-trips through its arch string, and every canonical string through its op list', (t) => {
  check(
    t,
    fc.property(nb201Ops, (ops) => {
      const s = formatNb201(ops as Nb201Op[]);
      const back = parseNb201(s);
      if (back.join() !== ops.join()) throw new Error(`${s} parsed to ${back.join()}`);
      if (formatNb201(back) !== s) throw new Error(`format(parse(${s})) = ${formatNb201(back)}`);
      const code = nb201Code(s);
      if (nb201FromCode(code).join() !== ops.join()) throw new Error(`code ${code} does not give back ${s}`);
      nb201CanonicalKey(s);
      nb201ReferenceKey(s);
    }),
  );
});

test('NB201: edited arch strings are either exact arch strings (format(parse(x)) == x) or a clear E_ARCH error', (t) => {
  const valid = nb201Ops.map((ops) => formatNb201(ops as Nb201Op[]));
  check(
    t,
    fc.property(fc.oneof(mutatedText(valid, NB201_ALPHABET), fc.string({ unit: fc.constantFrom(...NB201_ALPHABET.split('')), maxLength: 120 }), fc.string()), (s) => {
      const r = within(200, 'parseNb201', () => acceptOrReject(() => parseNb201(s), ['E_ARCH']));
      if (r.ok && formatNb201(r.value) !== s) throw new Error(`accepted ${JSON.stringify(s)} but it formats as ${formatNb201(r.value)}`);
      if (!r.ok && s.length < 200 && !r.error.message.includes(JSON.stringify(s))) throw new Error(`the message does not show the input: ${r.error.message}`);
    }),
  );
});

test('NB201: any JS value given as an arch (string, op list, code) is accepted or an E_ARCH error, never a TypeError', (t) => {
  check(
    t,
    fc.property(anyValue, (v) => {
      const calls: [string, () => unknown][] = [
        ['parseNb201', () => parseNb201(v as string)],
        ['formatNb201', () => formatNb201(v as Nb201Op[])],
        ['nb201Code', () => nb201Code(v as string)],
        ['nb201FromCode', () => nb201FromCode(v as number)],
        ['nb201CanonicalKey', () => nb201CanonicalKey(v as string)],
        ['mutateNb201', () => mutateNb201(v as string, new Rng(1))],
      ];
      for (const [name, f] of calls) labelled(name, () => acceptOrReject(f, ['E_ARCH']));
    }),
  );
});

test('NB201: a very long arch string is rejected quickly and its message stays short', (t) => {
  check(
    t,
    fc.property(fc.string({ unit: fc.constantFrom(...'|+~0a_'.split('')), minLength: 5000, maxLength: 50000 }), (s) => {
      const r = within(200, 'parseNb201', () => acceptOrReject(() => parseNb201(s), ['E_ARCH']));
      if (r.ok) throw new Error('a 5,000+ character string cannot be an arch string');
    }),
    0.2,
  );
});

// ---- DARTS ---------------------------------------------------------------------------------------

const dartsCell: fc.Arbitrary<DartsPair[]> = fc
  .array(
    fc.tuple(fc.constantFrom(...DARTS_OPS), fc.constantFrom(...DARTS_OPS), fc.nat(), fc.nat(), fc.boolean()),
    { minLength: 4, maxLength: 4 },
  )
  .map((nodes) =>
    nodes.flatMap(([a, b, i, j, swap], k) => {
      const n = k + 2;
      const x = i % n;
      const y = (x + 1 + (j % (n - 1))) % n; // a different state
      const pairs: DartsPair[] = [[a, x], [b, y]];
      return swap ? pairs.reverse() : pairs;
    }),
  );
const genotype: fc.Arbitrary<Genotype> = fc.record({ normal: dartsCell, reduce: dartsCell }).map(({ normal, reduce }) => ({
  normal,
  normalConcat: [2, 3, 4, 5],
  reduce,
  reduceConcat: [2, 3, 4, 5],
}));

/** The genotype's text with random (legal) whitespace and concat spellings. */
function looseText(g: Genotype, spaces: number[], ranges: [boolean, boolean]): string {
  let k = 0;
  const sp = () => ' \n\t  '.slice(0, spaces[k++ % spaces.length] % 4);
  const pairs = (ps: DartsPair[]) => `[${ps.map(([o, i]) => `${sp()}(${sp()}'${o}'${sp()},${sp()}${i}${sp()})`).join(`${sp()},`)}${sp()}]`;
  const concat = (r: boolean) => (r ? `range(${sp()}2,${sp()}6${sp()})` : `[2,${sp()}3, 4,${sp()}5]`);
  return `${sp()}Genotype${sp()}(${sp()}normal${sp()}=${sp()}${pairs(g.normal)}${sp()},${sp()}normal_concat=${concat(ranges[0])},${sp()}reduce=${pairs(g.reduce)},reduce_concat${sp()}=${sp()}${concat(ranges[1])}${sp()})${sp()}`;
}

test('DARTS: every genotype round-trips through its text (parse(format(g)) == g, format(parse(x)) == x)', (t) => {
  check(
    t,
    fc.property(genotype, fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), fc.tuple(fc.boolean(), fc.boolean()), (g, spaces, ranges) => {
      validateGenotype(g);
      const s = formatGenotype(g);
      const back = parseGenotype(s);
      if (JSON.stringify(back) !== JSON.stringify(g)) throw new Error(`${s} parsed to ${JSON.stringify(back)}`);
      if (formatGenotype(back) !== s) throw new Error('format(parse(x)) != x');
      const loose = looseText(g, spaces, ranges);
      const fromLoose = parseGenotype(loose);
      if (formatGenotype(fromLoose) !== s) throw new Error(`${JSON.stringify(loose)} parsed to ${formatGenotype(fromLoose)}, not ${s}`);
      if (genotypeKey(fromLoose) !== genotypeKey(g)) throw new Error('genotypeKey differs');
    }),
  );
});

test('DARTS: mutateGenotype keeps every child valid and different', (t) => {
  check(
    t,
    fc.property(genotype, fc.nat(), (g, seed) => {
      const parent = { ...g, normal: g.normal.map(([o, i]): DartsPair => [o === 'none' ? 'skip_connect' : o, i]), reduce: g.reduce.map(([o, i]): DartsPair => [o === 'none' ? 'skip_connect' : o, i]) };
      const child = mutateGenotype(parent, new Rng(seed));
      validateGenotype(child);
      if (formatGenotype(child) === formatGenotype(parent)) throw new Error('the child equals its parent');
      if (![...child.normal, ...child.reduce].every(([o]) => (DARTS_GENOTYPE_OPS as readonly DartsOp[]).includes(o))) throw new Error('none in a child');
    }),
  );
});

const DARTS_ALPHABET = "Genotype(normal=[('sep_conv_3x3', 0), ],_concat range)0123456789 \n'\"abcdefgklmnoprstuvxyz";

test('DARTS: edited genotype texts parse to a valid genotype that re-parses identically, or give a clear E_ARCH error', (t) => {
  const valid = genotype.map((g) => formatGenotype(g));
  check(
    t,
    fc.property(fc.oneof(mutatedText(valid, DARTS_ALPHABET), fc.string({ unit: fc.constantFrom(...DARTS_ALPHABET.split('')), maxLength: 300 }), fc.string()), (s) => {
      const r = within(200, 'parseGenotype', () => acceptOrReject(() => parseGenotype(s), ['E_ARCH']));
      if (r.ok) {
        validateGenotype(r.value);
        const canonical = formatGenotype(r.value);
        if (formatGenotype(parseGenotype(canonical)) !== canonical) throw new Error(`${canonical} does not round-trip`);
      }
    }),
  );
});

test('DARTS: adversarial texts (long, bracket-heavy, huge ranges) are answered quickly', (t) => {
  const head = fc.constantFrom('Genotype(normal=', 'Genotype(normal=[', 'Genotype(normal=[],normal_concat=', 'Genotype(reduce_concat=range(');
  const body = fc.string({ unit: fc.constantFrom('[', ']', ',', ' ', '(', ')', "'", '0', '9', 'range(2, 6)', ']]', '=', 'normal=', 'a'), minLength: 100, maxLength: 4000 });
  const hugeRange = fc.tuple(fc.nat({ max: 1e9 }), fc.nat({ max: 1e15 })).map(([a, b]) => `Genotype(normal=[], normal_concat=range(${a}, ${b}), reduce=[], reduce_concat=[2, 3, 4, 5])`);
  check(
    t,
    fc.property(fc.oneof(fc.tuple(head, body, fc.constantFrom('', ')', '])', ')]')).map((p) => p.join('')), hugeRange), (s) => {
      within(300, 'parseGenotype', () => acceptOrReject(() => parseGenotype(s), ['E_ARCH']));
    }),
    0.5,
  );
});

test('DARTS: any JS value given as a genotype or genotype text is accepted or an E_ARCH error, never a TypeError', (t) => {
  const corrupt = fc.tuple(genotype, fc.constantFrom('normal', 'reduce', 'normalConcat', 'reduceConcat'), fc.nat(), fc.nat({ max: 1 }), anyValue).map(([g, field, i, j, v]) => {
    const c = JSON.parse(JSON.stringify(g)) as Record<string, unknown[]>;
    const arr = c[field];
    if (field.endsWith('Concat')) arr[i % arr.length] = v;
    else (arr[i % arr.length] as unknown[])[j] = v;
    return c as unknown as Genotype;
  });
  check(
    t,
    fc.property(fc.oneof(anyValue, corrupt), (v) => {
      labelled('validateGenotype', () => acceptOrReject(() => validateGenotype(v as Genotype), ['E_ARCH']));
      labelled('parseGenotype', () => acceptOrReject(() => parseGenotype(v as string), ['E_ARCH']));
      labelled('formatGenotype', () => acceptOrReject(() => formatGenotype(v as Genotype), ['E_ARCH']));
      labelled('genotypeKey', () => acceptOrReject(() => genotypeKey(v as Genotype), ['E_ARCH']));
    }),
  );
});

test('regressions: parser errors on unprintable values and long inputs stay TegnasErrors with short messages', (t) => {
  assertClearError(t.throws(() => parseNb201(12n as unknown as string)), ['E_ARCH'], ['12n']);
  assertClearError(t.throws(() => nb201FromCode(7n as unknown as number)), ['E_ARCH'], ['7n']);
  assertClearError(t.throws(() => formatNb201([1n] as unknown as Nb201Op[])), ['E_ARCH']);
  const g = JSON.parse(JSON.stringify(validateGenotype({ normal: [['skip_connect', 0], ['skip_connect', 1], ['skip_connect', 0], ['skip_connect', 1], ['skip_connect', 0], ['skip_connect', 1], ['skip_connect', 0], ['skip_connect', 1]], normalConcat: [2, 3, 4, 5], reduce: [['skip_connect', 0], ['skip_connect', 1], ['skip_connect', 0], ['skip_connect', 1], ['skip_connect', 0], ['skip_connect', 1], ['skip_connect', 0], ['skip_connect', 1]], reduceConcat: [2, 3, 4, 5] }))) as Genotype;
  (g.normal[3] as unknown[])[1] = 3n;
  assertClearError(t.throws(() => validateGenotype(g)), ['E_ARCH'], ['3n']);
  const huge = '|none~0|'.repeat(100000);
  const e = t.throws(() => parseNb201(huge)) as Error;
  assertClearError(e, ['E_ARCH']);
  t.true(e.message.length < 600, `message of ${e.message.length} characters`);
  // A huge range() in a concat field is refused before it is expanded.
  assertClearError(t.throws(() => parseGenotype('Genotype(normal=[], normal_concat=range(0, 1000000000000), reduce=[], reduce_concat=[])')), ['E_ARCH'], ['range(0, 1000000000000)']);
  // Leading zeros are not the official format.
  assertClearError(t.throws(() => parseNb201('|none~00|+|none~0|none~1|+|none~0|none~1|none~2|')), ['E_ARCH'], ['none~00']);
});
