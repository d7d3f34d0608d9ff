/**
 * ImageNet-1k as a torchvision ImageFolder directory: root/train/<class>/<images> and
 * root/val/<class>/<images> (JPEG or PNG, found by content; nested folders are walked as torchvision
 * does). Classes are the sorted folder names, numbered 0..classes-1; samples are in torchvision's order
 * (sorted folder path, then sorted file name).
 *
 * Images are decoded with jpeg-js and pngjs, converted to RGB as PIL's convert('RGB') does (grey
 * replicated, alpha dropped), then transformed like the TE-NAS reference:
 * - 'train' (and transform 'resize'): Resize((32, 32)), bilinear;
 * - 'val' (and transform 'resize-crop'): Resize(40) of the shorter side, then CenterCrop(32).
 * The bilinear resize reproduces PIL's Image.resize(BILINEAR) (antialiased when shrinking, 8-bit
 * fixed-point, horizontal pass then vertical), which torchvision's Resize calls for PIL images.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { TegnasError } from '../errors.js';
import type { ImageSet } from './cifar.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** An RGB image, `data` height x width x 3 bytes (interleaved, row-major). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface ImageFolderSample {
  path: string;
  label: number;
}

export interface ImageFolderListing {
  /** The split's folder (root/train or root/val). */
  dir: string;
  /** Class folder names, sorted; the index is the label. */
  classNames: string[];
  samples: ImageFolderSample[];
}

export type ImageFolderTransform = 'resize' | 'resize-crop';

export interface ImageFolderOptions {
  /** Read only the first `limit` samples (in ImageFolder order). */
  limit?: number;
  /** Read exactly these sample indices (into {@link listImageFolder}'s samples), in this order. */
  indices?: readonly number[];
  /** 'resize' = Resize((32, 32)); 'resize-crop' = Resize(40) + CenterCrop(32). Default: by split. */
  transform?: ImageFolderTransform;
  /** A listing of this root and split from {@link listImageFolder}, to skip walking the folders again. */
  listing?: ImageFolderListing;
}

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

function folderOf(root: string, split: string): string {
  if (split === 'train') return join(root, 'train');
  if (split === 'val' || split === 'test') return join(root, 'val');
  throw new TegnasError('E_INPUT', `unknown ImageFolder split '${split}' (expected train, val or test)`);
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Code-unit order, as Python's sorted() on str for the names met in practice. */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The classes and samples of a split without decoding anything: class folders of root/train (split
 * 'train') or root/val ('val' or 'test'), each walked recursively for .jpg/.jpeg/.png files (any case).
 * Throws E_DATA for a missing folder, a folder without class folders, or a class folder without images.
 */
export function listImageFolder(root: string, split: 'train' | 'val' | 'test'): ImageFolderListing {
  const dir = folderOf(root, split);
  if (!isDir(dir)) throw new TegnasError('E_DATA', `ImageFolder ${split} folder ${dir} does not exist (expected ${dir}/<class>/<images>)`);
  const classNames = readdirSync(dir)
    .filter((name) => isDir(join(dir, name)))
    .sort(byCodeUnit);
  if (classNames.length === 0) throw new TegnasError('E_DATA', `ImageFolder ${split} folder ${dir} has no class folders`);
  const samples: ImageFolderSample[] = [];
  const empty: string[] = [];
  classNames.forEach((name, label) => {
    // torchvision: sorted(os.walk(class_dir)) then sorted(file names) in each folder
    const folders: { path: string; files: string[] }[] = [];
    const walk = (path: string): void => {
      const files: string[] = [];
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        const full = join(path, entry.name);
        let dir = entry.isDirectory();
        let file = entry.isFile();
        if (entry.isSymbolicLink()) {
          try {
            const st = statSync(full); // followed, as torchvision's os.walk(followlinks=True)
            dir = st.isDirectory();
            file = st.isFile();
          } catch {
            continue; // a dangling link
          }
        }
        if (dir) walk(full);
        else if (file && IMAGE_EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext))) files.push(entry.name);
      }
      folders.push({ path, files: files.sort(byCodeUnit) });
    };
    walk(join(dir, name));
    folders.sort((a, b) => byCodeUnit(a.path, b.path));
    const before = samples.length;
    for (const f of folders) for (const file of f.files) samples.push({ path: join(f.path, file), label });
    if (samples.length === before) empty.push(name);
  });
  if (empty.length > 0)
    throw new TegnasError(
      'E_DATA',
      `ImageFolder ${split} folder ${dir}: no .jpg, .jpeg or .png images for class${empty.length > 1 ? 'es' : ''} ${empty.slice(0, 5).join(', ')}${empty.length > 5 ? `, ... (${empty.length} in all)` : ''}`,
    );
  return { dir, classNames, samples };
}

/** Decodes a JPEG or PNG (recognised by content, not name) to RGB; E_DATA naming `source` otherwise. */
export function decodeImage(bytes: Uint8Array, source = '<image>'): RgbImage {
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!isJpeg && !isPng) throw new TegnasError('E_DATA', `cannot decode image ${source}: not a JPEG or PNG file`);
  let img: RgbImage;
  try {
    if (isJpeg) {
      const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
      img = { width: d.width, height: d.height, data: d.data };
    } else {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      const n = png.width * png.height;
      const rgba = png.data;
      if (rgba.length < n * 4) throw new Error(`decoded ${rgba.length} bytes for ${png.width}x${png.height} RGBA`);
      const data = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) {
        data[3 * i] = rgba[4 * i];
        data[3 * i + 1] = rgba[4 * i + 1];
        data[3 * i + 2] = rgba[4 * i + 2];
      }
      img = { width: png.width, height: png.height, data };
    }
  } catch (e) {
    throw new TegnasError('E_DATA', `cannot decode image ${source}: ${(e as Error).message}`, { cause: e });
  }
  if (!(img.width > 0 && img.height > 0) || img.data.length < img.width * img.height * 3)
    throw new TegnasError('E_DATA', `cannot decode image ${source}: empty or incomplete image`);
  return img;
}

// ---- PIL's bilinear resampling (Pillow src/libImaging/Resample.c), for 8-bit RGB ----

const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // xmin, count per output pixel
  kk: Int32Array; // fixed-point weights, ksize per output pixel
}

function precomputeCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale; // bilinear (triangle) filter support 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? k[x] / ww : 0;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  const x = v >> PRECISION_BITS;
  return x < 0 ? 0 : x > 255 ? 255 : x;
}

/**
 * Resizes an RGB image as PIL's `Image.resize((outWidth, outHeight), Image.BILINEAR)` does (and so
 * torchvision's Resize on PIL images): a horizontal then a vertical pass of a triangle filter widened
 * by the scale factor when shrinking, with 8-bit fixed-point rounding.
 */
export function resizeBilinear(img: RgbImage, outWidth: number, outHeight: number): RgbImage {
  const { width: w, height: h, data } = img;
  if (!(Number.isInteger(outWidth) && Number.isInteger(outHeight) && outWidth > 0 && outHeight > 0))
    throw new TegnasError('E_INPUT', `invalid resize target ${outWidth}x${outHeight}`);
  if (outWidth === w && outHeight === h) return { width: w, height: h, data: data.slice(0, w * h * 3) };
  const half = 1 << (PRECISION_BITS - 1);
  const horiz = precomputeCoeffs(w, outWidth);
  const vert = precomputeCoeffs(h, outHeight);
  // rows the vertical pass reads
  const yFirst = vert.bounds[0];
  const yLast = vert.bounds[outHeight * 2 - 2] + vert.bounds[outHeight * 2 - 1];
  let src = data;
  let srcW = w;
  let rowOffset = 0;
  if (outWidth !== w) {
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(rows * outWidth * 3);
    const { ksize, bounds, kk } = horiz;
    for (let y = 0; y < rows; y++) {
      const inRow = (y + yFirst) * w * 3;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1];
        let s0 = half, s1 = half, s2 = half;
        for (let x = 0; x < xmax; x++) {
          const kv = kk[xx * ksize + x];
          const p = inRow + (x + xmin) * 3;
          s0 += data[p] * kv;
          s1 += data[p + 1] * kv;
          s2 += data[p + 2] * kv;
        }
        const o = (y * outWidth + xx) * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    srcW = outWidth;
    rowOffset = yFirst;
  }
  if (outHeight === h) return { width: outWidth, height: h, data: src };
  const out = new Uint8Array(outWidth * outHeight * 3);
  const { ksize, bounds, kk } = vert;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2] - rowOffset, ymax = bounds[yy * 2 + 1];
    for (let xx = 0; xx < outWidth; xx++) {
      let s0 = half, s1 = half, s2 = half;
      for (let y = 0; y < ymax; y++) {
        const kv = kk[yy * ksize + y];
        const p = ((y + ymin) * srcW + xx) * 3;
        s0 += src[p] * kv;
        s1 += src[p + 1] * kv;
        s2 += src[p + 2] * kv;
      }
      const o = (yy * outWidth + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

/** Python's round(): halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision Resize(size) with an int: the shorter side becomes `size`, the longer int(size * long / short). */
export function resizeShorter(img: RgbImage, size: number): RgbImage {
  const { width: w, height: h } = img;
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? resizeBilinear(img, size, newLong) : resizeBilinear(img, newLong, size);
}

/** torchvision CenterCrop(size) of an image at least `size` on each side. */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  const { width: w, height: h, data } = img;
  if (w < size || h < size) throw new TegnasError('E_INPUT', `cannot center-crop ${size}x${size} from a ${w}x${h} image`);
  const top = roundHalfEven((h - size) / 2);
  const left = roundHalfEven((w - size) / 2);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) out.set(data.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + size) * 3), y * size * 3);
  return { width: size, height: size, data: out };
}

/** The reference transform of one decoded image to 32 x 32, written planar (3 x 32 x 32) into `out` at `offset`. */
export function transformImage(img: RgbImage, transform: ImageFolderTransform, out: Uint8Array, offset = 0): void {
  const t = transform === 'resize' ? resizeBilinear(img, 32, 32) : centerCrop(resizeShorter(img, 40), 32);
  const plane = 32 * 32;
  for (let i = 0; i < plane; i++) {
    out[offset + i] = t.data[3 * i];
    out[offset + plane + i] = t.data[3 * i + 1];
    out[offset + 2 * plane + i] = t.data[3 * i + 2];
  }
}

/**
 * Images of an ImageFolder split (root/train or root/val; 'test' reads val), decoded and transformed to
 * 3 x 32 x 32 as the reference does: Resize((32, 32)) for train, Resize(40) + CenterCrop(32) for val
 * (override with `transform`). `classes` is the number of class folders; labels are sorted-folder
 * indices. `limit` reads the first samples only, `indices` exactly the given samples (indices into
 * {@link listImageFolder}'s samples; pass that listing as `listing` to avoid walking a large tree twice). E_DATA for missing or empty folders and undecodable images (naming the file).
 */
export function readImageFolder(root: string, split: 'train' | 'val' | 'test', options: ImageFolderOptions = {}): ImageSet {
  const listing = options.listing ?? listImageFolder(root, split);
  const transform = options.transform ?? (split === 'train' ? 'resize' : 'resize-crop');
  if (transform !== 'resize' && transform !== 'resize-crop')
    throw new TegnasError('E_INPUT', `unknown ImageFolder transform '${String(transform)}' (expected resize or resize-crop)`);
  let picked: ImageFolderSample[];
  if (options.indices !== undefined) {
    picked = options.indices.map((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= listing.samples.length)
        throw new TegnasError('E_INPUT', `sample index ${i} is out of range: ${listing.dir} has ${listing.samples.length} images`);
      return listing.samples[i];
    });
  } else picked = listing.samples;
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new TegnasError('E_INPUT', `limit must be a positive integer, got ${options.limit}`);
    picked = picked.slice(0, options.limit);
  }
  const classes = listing.classNames.length;
  const count = picked.length;
  const per = 3 * 32 * 32;
  const pixels = new Uint8Array(count * per);
  const labels = classes > 256 ? new Uint16Array(count) : new Uint8Array(count);
  picked.forEach((s, n) => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(s.path);
    } catch (e) {
      throw new TegnasError('E_DATA', `cannot read image ${s.path}: ${(e as Error).message}`, { cause: e });
    }
    transformImage(decodeImage(bytes, s.path), transform, pixels, n * per);
    labels[n] = s.label;
  });
  return { count, channels: 3, height: 32, width: 32, classes, pixels, labels };
}
