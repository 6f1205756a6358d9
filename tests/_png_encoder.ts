/**
 * A small PNG encoder for the decoder tests: any depth and colour type,
 * plain or Adam7 interlaced, with every filter type used in turn, so the
 * decoder can be checked against the samples it was given.
 */

import { deflateSync } from "node:zlib";
import type { Rng } from "../src/util/random.ts";
import { type Chunk, ihdr, pngFile } from "./_hostile_images.ts";

/** Raw samples of an image, `samples` per pixel, at `depth` bits. */
export interface RawImage {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** Row-major sample values (palette indexes for colour type 3). */
  values: Uint16Array;
  palette?: Uint8Array;
  /** Alpha of the first palette entries (tRNS). */
  paletteAlpha?: Uint8Array;
}

/** Samples per pixel of each colour type. */
export const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

function packRow(img: RawImage, y: number, x0: number, dx: number): Uint8Array {
  const spp = SAMPLES[img.colorType]!, depth = img.depth;
  const cols = Math.ceil((img.width - x0) / dx);
  const out = new Uint8Array(Math.ceil((cols * spp * depth) / 8));
  let i = 0;
  for (let x = x0; x < img.width; x += dx) {
    for (let s = 0; s < spp; s++, i++) {
      const v = img.values[(y * img.width + x) * spp + s]!;
      if (depth === 16) {
        out[2 * i] = v >> 8;
        out[2 * i + 1] = v & 255;
      } else if (depth === 8) {
        out[i] = v;
      } else {
        const bit = i * depth;
        out[bit >> 3]! |= v << (8 - depth - (bit & 7));
      }
    }
  }
  return out;
}

function filterRow(
  raw: Uint8Array,
  prev: Uint8Array,
  type: number,
  bpp: number,
) {
  const out = new Uint8Array(raw.length + 1);
  out[0] = type;
  for (let i = 0; i < raw.length; i++) {
    const a = i >= bpp ? raw[i - bpp]! : 0, b = prev[i] ?? 0;
    const c = i >= bpp ? prev[i - bpp] ?? 0 : 0;
    const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b);
    const pc = Math.abs(p - c);
    const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    const pred = [0, a, b, (a + b) >> 1, paeth][type]!;
    out[i + 1] = (raw[i]! - pred) & 255;
  }
  return out;
}

/** The filtered scanlines (all passes), before compression. */
export function scanlines(img: RawImage, interlace: boolean): Uint8Array {
  const bpp = Math.max(1, (SAMPLES[img.colorType]! * img.depth) >> 3);
  const passes = interlace ? ADAM7 : [[0, 0, 1, 1]];
  const parts: Uint8Array[] = [];
  for (const [x0, y0, dx, dy] of passes as number[][]) {
    if (x0! >= img.width || y0! >= img.height) continue;
    let prev: Uint8Array = new Uint8Array(0);
    for (let y = y0!, r = 0; y < img.height; y += dy!, r++) {
      const raw = packRow(img, y, x0!, dx!);
      parts.push(filterRow(raw, prev, (r + y0!) % 5, bpp));
      prev = raw;
    }
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** A PNG file of `img`, interlaced or not, IDAT split in `idatParts`. */
export function encodeRaw(
  img: RawImage,
  interlace = false,
  idatParts = 1,
): Uint8Array {
  const z = deflateSync(scanlines(img, interlace));
  const chunks: Chunk[] = [
    [
      "IHDR",
      ihdr(img.width, img.height, img.depth, img.colorType, interlace ? 1 : 0),
    ],
  ];
  if (img.palette) chunks.push(["PLTE", img.palette]);
  if (img.paletteAlpha) chunks.push(["tRNS", img.paletteAlpha]);
  const step = Math.ceil(z.length / idatParts);
  for (let at = 0; at < z.length; at += step) {
    chunks.push(["IDAT", z.subarray(at, at + step)]);
  }
  chunks.push(["IEND", new Uint8Array(0)]);
  return pngFile(chunks);
}

/** What a decoder should return for `img`: 8-bit samples and channels. */
export function expected(
  img: RawImage,
): { data: Uint8Array; channels: number } {
  const n = img.width * img.height;
  if (img.colorType === 3) {
    const ch = img.paletteAlpha ? 4 : 3;
    const data = new Uint8Array(n * ch);
    for (let i = 0; i < n; i++) {
      const v = img.values[i]!;
      data.set(img.palette!.subarray(3 * v, 3 * v + 3), i * ch);
      if (ch === 4) data[i * ch + 3] = img.paletteAlpha![v] ?? 255;
    }
    return { data, channels: ch };
  }
  const max = (1 << img.depth) - 1;
  const data = Uint8Array.from(
    img.values,
    (v) => img.depth === 16 ? v >> 8 : img.depth === 8 ? v : (v * 255) / max,
  );
  return { data, channels: SAMPLES[img.colorType]! };
}

/** A random image of this shape (palette of `2^depth` or fewer entries). */
export function randomImage(
  rng: Rng,
  width: number,
  height: number,
  depth: number,
  colorType: number,
): RawImage {
  const spp = SAMPLES[colorType]!;
  const entries = colorType === 3 ? 1 + rng.int(Math.min(256, 1 << depth)) : 0;
  const max = colorType === 3 ? entries : 1 << depth;
  const values = new Uint16Array(width * height * spp);
  for (let i = 0; i < values.length; i++) values[i] = rng.int(max);
  const img: RawImage = { width, height, depth, colorType, values };
  if (colorType === 3) {
    img.palette = Uint8Array.from({ length: entries * 3 }, () => rng.int(256));
    if (rng.int(2)) {
      img.paletteAlpha = Uint8Array.from(
        { length: 1 + rng.int(entries) },
        () => rng.int(256),
      );
    }
  }
  return img;
}
