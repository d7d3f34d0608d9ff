/** The real CIFAR-10 images shipped in the package (data/cifar10), the default data of every command. */
import { fileURLToPath } from 'node:url';
import { type ImageSet, readCifar10 } from './cifar.js';

const dataDir = fileURLToPath(new URL('../../data/cifar10/', import.meta.url));

export function shippedCifar10(split: 'train' | 'test'): ImageSet {
  return readCifar10(dataDir + (split === 'train' ? 'train-first512.bin' : 'test-first256.bin'));
}
