/** Synthetic inputs: images of independent standard normal N(0, 1) values, from a seeded generator. */
import { TegnasError } from '../errors.js';
import { Rng } from '../weights/rng.js';

function checkCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1)
    throw new TegnasError('E_INPUT', `synthetic image count must be a positive integer, got ${JSON.stringify(count)}`);
  return count;
}

function checkShape(shape: unknown): readonly number[] {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1))
    throw new TegnasError('E_INPUT', `synthetic image shape must be a non-empty list of positive integers (e.g. [3, 32, 32]), got ${JSON.stringify(shape)}`);
  return shape as number[];
}

/**
 * `count` images of `shape` (e.g. [C, H, W]), each value an independent N(0, 1) draw of `rng` (or of a
 * generator seeded with `rng` when it is a number), in row-major order: count x shape float32.
 */
export function gaussianImages(count: number, shape: readonly number[], rng: Rng | number): Float32Array {
  const n = checkCount(count);
  const per = checkShape(shape).reduce((a, b) => a * b, 1);
  if (n * per > 2 ** 30) throw new TegnasError('E_INPUT', `${n} synthetic images of shape [${shape.join(', ')}] is too many values (${n * per})`);
  const g = typeof rng === 'number' ? new Rng(rng) : rng;
  if (!(g instanceof Rng)) throw new TegnasError('E_INPUT', 'gaussianImages needs an Rng or an integer seed');
  const out = new Float32Array(n * per);
  for (let i = 0; i < out.length; i++) out[i] = g.normal();
  return out;
}
