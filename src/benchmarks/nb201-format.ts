/**
 * The shipped NAS-Bench-201 table's binary format (data/nb201/nb201-200ep.bin), little-endian:
 *   bytes 0-7   magic "TGNB201\0"
 *   u32         version (1)
 *   u32         rows (15,625, in official index order)
 *   u32         columns (5 accuracies)
 *   u32         FNV-1a 32-bit checksum of everything after the 24-byte header
 *   rows x u16  the architecture: its 6 ops as base-5 digits in NB201_OPS order, edge 1<-0 first
 *   padding to a multiple of 8
 *   rows x columns x f64  accuracies in percent, in NB201_COLUMNS order
 */
export const NB201_MAGIC = 'TGNB201\0';
export const NB201_VERSION = 1;
export const NB201_HEADER = 24;

export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function accuracyOffset(rows: number): number {
  return NB201_HEADER + Math.ceil((rows * 2) / 8) * 8;
}
