/**
 * One representative architecture per canonical class of NAS-Bench-201 (5,425 classes): the member
 * with the lowest official index, the classes ordered by that index. The order is fixed by the
 * shipped table, so a run that scores "the first N classes" is reproducible, and since the official
 * index is unrelated to the cell's structure, the first N are a fair timed sample of the space.
 */
import { nb201CanonicalKey } from '../spaces/nb201.js';
import { nb201Table } from './nb201.js';

export interface Nb201ClassRepresentative {
  /** Official NAS-Bench-201 index of the representative. */
  index: number;
  arch: string;
  /** Canonical key of its class (`nb201CanonicalKey`). */
  key: string;
  /** Architectures in the class. */
  members: number;
}

let cached: readonly Nb201ClassRepresentative[] | undefined;

/** Every class's representative, lowest official index first (computed once, about 0.3 s). */
export function nb201ClassRepresentatives(): readonly Nb201ClassRepresentative[] {
  if (!cached) {
    const table = nb201Table();
    const byKey = new Map<string, Nb201ClassRepresentative>();
    for (let index = 0; index < table.size; index++) {
      const arch = table.byIndex(index).arch;
      const key = nb201CanonicalKey(arch);
      const rep = byKey.get(key);
      if (rep) rep.members++;
      else byKey.set(key, { index, arch, key, members: 1 });
    }
    cached = Object.freeze([...byKey.values()].map((r) => Object.freeze(r)));
  }
  return cached;
}
