/**
 * Seeded parameter initialisers (spec section 2):
 * - `torch-default`: PyTorch's own: conv and linear weights uniform in +-1/sqrt(fan_in), linear bias
 *   uniform in +-1/sqrt(fan_in of its weight), BN weight 1, BN bias 0;
 * - `kaiming-fanin`, `kaiming-fanout`: conv and linear weights normal(0, sqrt(2 / fan)) (Kaiming normal
 *   with the ReLU gain), linear bias 0, BN weight 1, BN bias 0.
 *
 * Fans follow PyTorch: fan_in = shape[1] * prod(shape[2:]), fan_out = shape[0] * prod(shape[2:]) (so a
 * depthwise conv weight (C, 1, k, k) has fan_in k * k).
 *
 * Each parameter draws from `new Rng(seed).fork(name)`, so its values depend only on (seed, init, name,
 * shape) and not on which other parameters exist: a single-architecture network and the supernet that
 * holds it get the same weights. (The two Kaiming variants draw the same normal deviates, scaled by
 * their own std.) Uniform values are drawn in double precision as lo + (hi - lo) * u and rounded to f32.
 */
import type { ParamSpec } from '../plan/types.js';
import { TegnasError } from '../errors.js';
import { Rng } from './rng.js';

export type InitName = 'torch-default' | 'kaiming-fanin' | 'kaiming-fanout';
export const INIT_NAMES: readonly InitName[] = ['torch-default', 'kaiming-fanin', 'kaiming-fanout'];

export function isInitName(v: unknown): v is InitName {
  return typeof v === 'string' && (INIT_NAMES as readonly string[]).includes(v);
}

const KINDS = ['conv-weight', 'bn-weight', 'bn-bias', 'linear-weight', 'linear-bias'] as const;

/** PyTorch's fan_in of a weight shape: shape[1] * prod(shape[2:]). */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) throw new TegnasError('E_SHAPE', `fan_in needs a weight shape of at least 2 dims, got [${shape.join(', ')}]`);
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/** PyTorch's fan_out of a weight shape: shape[0] * prod(shape[2:]). */
export function fanOut(shape: readonly number[]): number {
  if (shape.length < 2) throw new TegnasError('E_SHAPE', `fan_out needs a weight shape of at least 2 dims, got [${shape.join(', ')}]`);
  return shape[0] * shape.slice(2).reduce((a, b) => a * b, 1);
}

function checkSpec(spec: ParamSpec, index: number): void {
  const where = `parameter ${index} (${JSON.stringify(spec?.name)})`;
  if (typeof spec !== 'object' || spec === null || typeof spec.name !== 'string' || spec.name === '')
    throw new TegnasError('E_PLAN', `${where}: a parameter spec needs a non-empty name`);
  if (!(KINDS as readonly string[]).includes(spec.kind))
    throw new TegnasError('E_PLAN', `${where}: unknown kind ${JSON.stringify(spec.kind)}; expected one of ${KINDS.join(', ')}`);
  const { shape } = spec;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d > 0))
    throw new TegnasError('E_SHAPE', `${where}: invalid shape ${JSON.stringify(shape)}; dims must be positive integers`);
  const numel = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(numel) || numel > 2 ** 31) throw new TegnasError('E_SHAPE', `${where}: shape ${JSON.stringify(shape)} is too large`);
  const rank = spec.kind === 'conv-weight' ? 'at least 3 dims' : spec.kind === 'linear-weight' ? '2 dims' : '1 dim';
  const ok = spec.kind === 'conv-weight' ? shape.length >= 3 : spec.kind === 'linear-weight' ? shape.length === 2 : shape.length === 1;
  if (!ok) throw new TegnasError('E_SHAPE', `${where}: a ${spec.kind} needs ${rank}, got shape [${shape.join(', ')}]`);
}

/**
 * Initial values for every parameter spec, one Float32Array per spec, in order.
 * Throws TegnasError: E_INPUT for an unknown init name or a bad seed, E_SHAPE for an invalid shape,
 * E_PLAN for an invalid spec, a duplicated name, or a linear bias without its linear weight.
 */
export function initParams(specs: readonly ParamSpec[], init: InitName, seed: number | bigint): Float32Array[] {
  if (!isInitName(init)) throw new TegnasError('E_INPUT', `unknown init ${JSON.stringify(init)}; expected one of ${INIT_NAMES.join(', ')}`);
  if (typeof seed === 'number' ? !Number.isInteger(seed) : typeof seed !== 'bigint')
    throw new TegnasError('E_INPUT', `the init seed must be a finite integer (number or bigint), got ${String(seed)}`);
  if (!Array.isArray(specs)) throw new TegnasError('E_PLAN', 'initParams needs an array of parameter specs');
  const byName = new Map<string, ParamSpec>();
  specs.forEach((s, i) => {
    checkSpec(s, i);
    if (byName.has(s.name)) throw new TegnasError('E_PLAN', `parameter name ${JSON.stringify(s.name)} appears twice`);
    byName.set(s.name, s);
  });
  const root = new Rng(seed);

  return specs.map((spec): Float32Array => {
    const n = spec.shape.reduce((a: number, b: number) => a * b, 1);
    const out = new Float32Array(n);
    switch (spec.kind) {
      case 'bn-weight':
        out.fill(1);
        return out;
      case 'bn-bias':
        return out;
      case 'linear-bias': {
        if (init !== 'torch-default') return out;
        const weight = matchingWeight(spec, byName);
        const bound = 1 / Math.sqrt(fanIn(weight.shape));
        const rng = root.fork(spec.name);
        for (let i = 0; i < n; i++) out[i] = rng.uniformRange(-bound, bound);
        return out;
      }
      case 'conv-weight':
      case 'linear-weight': {
        const rng = root.fork(spec.name);
        if (init === 'torch-default') {
          const bound = 1 / Math.sqrt(fanIn(spec.shape));
          for (let i = 0; i < n; i++) out[i] = rng.uniformRange(-bound, bound);
        } else {
          const std = Math.sqrt(2 / (init === 'kaiming-fanin' ? fanIn(spec.shape) : fanOut(spec.shape)));
          for (let i = 0; i < n; i++) out[i] = rng.normal(0, std);
        }
        return out;
      }
      default:
        throw new TegnasError('E_PLAN', `unknown parameter kind ${JSON.stringify((spec as ParamSpec).kind)}`);
    }
  });
}

/** The linear weight `<prefix>.weight` of a linear bias `<prefix>.bias`, checked against the bias shape. */
function matchingWeight(bias: ParamSpec, byName: Map<string, ParamSpec>): ParamSpec {
  if (!bias.name.endsWith('.bias'))
    throw new TegnasError('E_PLAN', `linear bias ${JSON.stringify(bias.name)}: its name must end in '.bias' to find its weight`);
  const wname = `${bias.name.slice(0, -'.bias'.length)}.weight`;
  const w = byName.get(wname);
  if (!w || w.kind !== 'linear-weight')
    throw new TegnasError(
      'E_PLAN',
      `linear bias ${JSON.stringify(bias.name)}: torch-default needs the fan_in of its linear weight ${JSON.stringify(wname)}, which is not among the parameters`,
    );
  if (w.shape[0] !== bias.shape[0])
    throw new TegnasError('E_SHAPE', `linear bias ${JSON.stringify(bias.name)} has ${bias.shape[0]} values but its weight ${JSON.stringify(wname)} has ${w.shape[0]} outputs`);
  return w;
}
