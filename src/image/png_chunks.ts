/**
 * PNG container checks: the chunk walk (lengths, CRCs, order) and the
 * validation of IHDR, PLTE and tRNS, done before any pixel memory exists.
 * Ancillary chunks are counted and skipped, never inflated: a compressed
 * iCCP, zTXt or iTXt chunk could otherwise ask for gigabytes.
 *
 * @module
 */

import { ImageDecodeError } from "./image_errors.ts";

/** Limits of the PNG container; defaults in {@linkcode PNG_DEFAULTS}. */
export interface PngLimits {
  /** Largest image in pixels (width x height). */
  maxPixels: number;
  /** Largest width or height in pixels. */
  maxDimension: number;
  /** Most ancillary (lower-case) chunks accepted. */
  maxAncillaryChunks: number;
  /** Most bytes of ancillary chunk data accepted, all chunks together. */
  maxAncillaryBytes: number;
  /** Most bytes the image data may inflate to (scanlines and filter bytes). */
  maxDataBytes: number;
}

/**
 * Defaults: 40 MP; 65,535 per side (JPEG's own format limit, so both formats
 * agree; it also bounds the per-row work of a 1-pixel-wide image, whose
 * 40 million rows took seconds); 256 ancillary chunks of 4 MiB in all
 * (real files carry a handful: an ICC profile is a few KB to a few hundred);
 * 128 MiB of inflated image data (40 MP RGB at 8 bits is 120 MB), because
 * inflating is the one cost that grows with the file and not with the model
 * input: a 40 MP 16-bit RGBA file (320 MB) took 2-5 s in fflate on this
 * 2-core VM, while 128 MiB stays near 1 s.
 */
export const PNG_DEFAULTS: PngLimits = {
  maxPixels: 40_000_000,
  maxDimension: 65_535,
  maxAncillaryChunks: 256,
  maxAncillaryBytes: 4 * 1024 * 1024,
  maxDataBytes: 128 * 1024 * 1024,
};

/** The validated header and palette of a PNG file. */
export interface PngHeader {
  width: number;
  height: number;
  /** Bits per sample: 1, 2, 4, 8 or 16. */
  depth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: number;
  interlaced: boolean;
  /** Samples per pixel in the file (1 for palette images). */
  samples: number;
  /** Palette RGB triples (palette images only). */
  palette?: Uint8Array;
  /** Palette alpha from tRNS, one byte per entry it covers. */
  paletteAlpha?: Uint8Array;
}

const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes[start, end)` as PNG chunks use it. */
export function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** One chunk: its type and where its data lies in the file. */
export interface PngChunk {
  type: string;
  start: number;
  end: number;
}

function fail(what: string): never {
  throw new ImageDecodeError(`the PNG file cannot be decoded: ${what}`);
}

/**
 * The chunks of `bytes` (a file whose 8-byte signature was checked), in
 * order, each checked for its length, type letters and CRC before it is
 * returned. Ends after IEND; a file that ends earlier is truncated.
 */
export function* pngChunks(bytes: Uint8Array): Generator<PngChunk> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  for (;;) {
    if (pos + 12 > bytes.length) fail("the file is truncated (no IEND chunk)");
    const length = view.getUint32(pos);
    if (length > 0x7fffffff) fail(`a chunk length of ${length} is invalid`);
    const end = pos + 8 + length;
    if (end + 4 > bytes.length) fail("the file is truncated inside a chunk");
    let type = "";
    for (let i = pos + 4; i < pos + 8; i++) {
      const c = bytes[i]!;
      if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) {
        fail(`a chunk type at byte ${pos + 4} is not four letters`);
      }
      type += String.fromCharCode(c);
    }
    if (crc32(bytes, pos + 4, end) !== view.getUint32(end)) {
      fail(
        `the CRC of the ${type} chunk at byte ${pos} is wrong (corrupt file)`,
      );
    }
    yield { type, start: pos + 8, end };
    if (type === "IEND") return;
    pos = end + 4;
  }
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Refuses an image whose scanlines would inflate past `maxDataBytes`. */
function checkDataBytes(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  limits: PngLimits,
): void {
  const rowBytes = Math.ceil((width * CHANNELS[colorType]! * depth) / 8) + 1;
  const total = rowBytes * height;
  if (total > limits.maxDataBytes) {
    const mb = (n: number) => (n / (1024 * 1024)).toFixed(0);
    throw new ImageDecodeError(
      `the image's pixel data inflates to ${
        mb(total)
      } MiB (${width}x${height}, ` +
        `${depth}-bit), more than the limit of ${
          mb(limits.maxDataBytes)
        } MiB; ` +
        `send a smaller or 8-bit image`,
    );
  }
}

/** Parses and validates IHDR; checks the size limits before anything is allocated. */
export function parseIhdr(
  bytes: Uint8Array,
  chunk: PngChunk,
  limits: PngLimits,
): PngHeader {
  if (chunk.type !== "IHDR") fail(`the first chunk is ${chunk.type}, not IHDR`);
  if (chunk.end - chunk.start !== 13) fail("the IHDR chunk is not 13 bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset + chunk.start, 13);
  const width = view.getUint32(0), height = view.getUint32(4);
  const depth = view.getUint8(8), colorType = view.getUint8(9);
  if (width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    fail(`the image size ${width}x${height} is invalid`);
  }
  const side = Math.max(width, height);
  if (side > limits.maxDimension) {
    throw new ImageDecodeError(
      `the image is ${width}x${height}, wider or taller than the limit of ${limits.maxDimension} pixels`,
    );
  }
  if (width * height > limits.maxPixels) {
    throw new ImageDecodeError(
      `the image is ${width}x${height}, more than the limit of ${limits.maxPixels} pixels`,
    );
  }
  if (!DEPTHS[colorType]) fail(`colour type ${colorType} does not exist`);
  if (!DEPTHS[colorType]!.includes(depth)) {
    fail(`bit depth ${depth} is invalid for colour type ${colorType}`);
  }
  checkDataBytes(width, height, depth, colorType, limits);
  if (view.getUint8(10) !== 0) fail("the compression method is not 0");
  if (view.getUint8(11) !== 0) fail("the filter method is not 0");
  const interlace = view.getUint8(12);
  if (interlace > 1) fail(`interlace method ${interlace} does not exist`);
  return {
    width,
    height,
    depth,
    colorType,
    interlaced: interlace === 1,
    samples: SAMPLES[colorType]!,
  };
}

/** Counts of what the walk has seen, for the order rules. */
export interface ChunkState {
  ancillaryChunks: number;
  ancillaryBytes: number;
  seenIdat: boolean;
  /** A non-IDAT chunk came after IDAT: more IDAT is an error. */
  idatEnded: boolean;
  seenTrns: boolean;
}

/** A fresh {@linkcode ChunkState}. */
export function chunkState(): ChunkState {
  return {
    ancillaryChunks: 0,
    ancillaryBytes: 0,
    seenIdat: false,
    idatEnded: false,
    seenTrns: false,
  };
}

function parsePlte(bytes: Uint8Array, c: PngChunk, h: PngHeader): void {
  const n = (c.end - c.start) / 3;
  if (h.palette) fail("there are two PLTE chunks");
  if (h.colorType === 0 || h.colorType === 4) {
    fail("a grey image has a PLTE chunk");
  }
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    fail(`the PLTE chunk has ${c.end - c.start} bytes, not 3 to 768 in threes`);
  }
  if (h.colorType === 3 && n > 1 << h.depth) {
    fail(
      `the palette has ${n} entries, more than bit depth ${h.depth} indexes`,
    );
  }
  h.palette = bytes.slice(c.start, c.end);
}

function parseTrns(bytes: Uint8Array, c: PngChunk, h: PngHeader): void {
  const length = c.end - c.start;
  if (h.colorType === 3) {
    if (!h.palette) fail("the tRNS chunk comes before PLTE");
    if (length > h.palette.length / 3) {
      fail(`the tRNS chunk has ${length} entries, more than the palette`);
    }
    h.paletteAlpha = bytes.slice(c.start, c.end);
  } else if (h.colorType === 4 || h.colorType === 6) {
    fail("an image with an alpha channel has a tRNS chunk");
  } else if (length !== (h.colorType === 0 ? 2 : 6)) {
    fail(
      `the tRNS chunk has ${length} bytes, wrong for colour type ${h.colorType}`,
    );
  }
}

/**
 * Applies the order and count rules to one chunk after IHDR; returns true
 * for IDAT (whose data the caller inflates).
 */
export function checkChunk(
  bytes: Uint8Array,
  chunk: PngChunk,
  header: PngHeader,
  state: ChunkState,
  limits: PngLimits,
): boolean {
  const { type } = chunk;
  if (type === "IDAT") {
    if (state.idatEnded) fail("the IDAT chunks are not consecutive");
    if (header.colorType === 3 && !header.palette) {
      fail("a palette image has no PLTE chunk before IDAT");
    }
    state.seenIdat = true;
    return true;
  }
  if (state.seenIdat) state.idatEnded = true;
  if (type === "IHDR") fail("there are two IHDR chunks");
  if (type === "PLTE" || type === "tRNS") {
    if (state.seenIdat) fail(`the ${type} chunk comes after IDAT`);
    if (type === "PLTE") {
      if (state.seenTrns) fail("the PLTE chunk comes after tRNS");
      parsePlte(bytes, chunk, header);
    } else {
      if (state.seenTrns) fail("there are two tRNS chunks");
      state.seenTrns = true;
      parseTrns(bytes, chunk, header);
    }
    return false;
  }
  if (type === "IEND") {
    if (chunk.end !== chunk.start) fail("the IEND chunk is not empty");
    if (!state.seenIdat) fail("there is no IDAT chunk (no pixels)");
    return false;
  }
  if (type.charCodeAt(0) < 97) fail(`unknown critical chunk ${type}`);
  state.ancillaryChunks++;
  state.ancillaryBytes += chunk.end - chunk.start;
  if (state.ancillaryChunks > limits.maxAncillaryChunks) {
    fail(`more than ${limits.maxAncillaryChunks} ancillary chunks`);
  }
  if (state.ancillaryBytes > limits.maxAncillaryBytes) {
    fail(`ancillary chunks hold more than ${limits.maxAncillaryBytes} bytes`);
  }
  return false;
}
