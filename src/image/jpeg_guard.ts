/**
 * A walk over a JPEG file's markers before `jpeg-js` sees it: the frame
 * header (size, components, sampling), the number of scans and the work
 * they imply. `jpeg-js` visits every block of a scan's components once per
 * scan, even when an end-of-band run in a few bytes covers them all, so a
 * progressive file of thousands of scans costs minutes; the bound here
 * rejects it in microseconds.
 *
 * @module
 */

import { ImageDecodeError } from "./image_errors.ts";

/** What the marker walk found. */
export interface JpegInfo {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
  /** Number of SOS segments. */
  scans: number;
  /** Sum over scans of the 8x8 blocks each one decodes. */
  blockScans: number;
}

/** Limits of {@linkcode scanJpeg}; defaults in {@linkcode JPEG_DEFAULTS}. */
export interface JpegLimits {
  maxPixels: number;
  /** Most SOS segments. */
  maxScans: number;
  /** Most block visits over all scans (blocks of a scan x scans). */
  maxBlockScans: number;
}

/**
 * Defaults. Encoders write 1 scan (baseline) or about 10 (libjpeg's and
 * mozjpeg's progressive scripts), so 64 leaves room for custom scripts.
 *
 * The block bound, measured with jpeg-js 0.4.4 in fresh processes on this
 * 2-core VM (load about 5; `tests/_hostile_images.ts` `progressiveBomb`):
 * a 2048x2048 grey progressive file took 1.04 s with 1 scan, 1.13 s with
 * 64 and 1.55 s with 256 scans of end-of-band runs (16.8 M block visits),
 * so a visit costs about 30 ns and 12 M visits add at most about 0.36 s to
 * what the image's pixels cost anyway. The attack files had 6,500 scans of
 * 262,144 blocks (1.7 G visits, about a minute). A 40 MP 4:2:0 baseline
 * photo is 0.94 M visits and a 10-scan progressive one about 9 M, so both
 * stay accepted.
 */
export const JPEG_DEFAULTS: JpegLimits = {
  maxPixels: 40_000_000,
  maxScans: 64,
  maxBlockScans: 12_000_000,
};

function fail(what: string): never {
  throw new ImageDecodeError(`the JPEG file cannot be decoded: ${what}`);
}

interface Frame {
  info: JpegInfo;
  /** Blocks of each component id (padded to whole MCUs, as jpeg-js does). */
  blocks: Map<number, number>;
}

function parseFrame(
  bytes: Uint8Array,
  at: number,
  length: number,
  marker: number,
  limits: JpegLimits,
): Frame {
  if (marker > 0xc2) {
    fail(
      `the coding process SOF${marker - 0xc0} (lossless, hierarchical or ` +
        `arithmetic) is not supported; save it as baseline or progressive`,
    );
  }
  const count = bytes[at + 5] ?? 0;
  if (length !== 8 + 3 * count || count < 1 || count > 4) {
    fail(`the frame header is invalid (${count} components)`);
  }
  if (bytes[at] !== 8) fail(`sample precision ${bytes[at]} is not 8 bits`);
  const height = (bytes[at + 1]! << 8) | bytes[at + 2]!;
  const width = (bytes[at + 3]! << 8) | bytes[at + 4]!;
  if (width < 1 || height < 1) {
    fail(`the image size ${width}x${height} is invalid`);
  }
  if (width * height > limits.maxPixels) {
    throw new ImageDecodeError(
      `the image is ${width}x${height}, more than the limit of ${limits.maxPixels} pixels`,
    );
  }
  const ids: number[] = [], hs: number[] = [], vs: number[] = [];
  for (let c = 0; c < count; c++) {
    const p = at + 6 + 3 * c;
    ids.push(bytes[p]!);
    hs.push(bytes[p + 1]! >> 4);
    vs.push(bytes[p + 1]! & 15);
    if (!(hs[c]! >= 1 && hs[c]! <= 4 && vs[c]! >= 1 && vs[c]! <= 4)) {
      fail(`component ${c} has invalid sampling factors`);
    }
  }
  const mcusX = Math.ceil(width / (8 * Math.max(...hs)));
  const mcusY = Math.ceil(height / (8 * Math.max(...vs)));
  const blocks = new Map<number, number>();
  ids.forEach((id, c) => blocks.set(id, mcusX * hs[c]! * mcusY * vs[c]!));
  return {
    info: {
      width,
      height,
      components: count,
      progressive: marker === 0xc2,
      scans: 0,
      blockScans: 0,
    },
    blocks,
  };
}

/** Index of the marker after entropy-coded data starting at `at`. */
function skipEntropyData(bytes: Uint8Array, at: number): number {
  for (let i = at; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const next = bytes[i + 1]!;
    // 0xFF00 is a stuffed byte, RSTn markers belong to the scan, and
    // 0xFFFF is fill before a marker.
    if (next !== 0 && next !== 0xff && (next < 0xd0 || next > 0xd7)) return i;
  }
  return bytes.length;
}

function countScan(
  frame: Frame,
  bytes: Uint8Array,
  at: number,
  length: number,
) {
  const n = bytes[at] ?? 0;
  if (n < 1 || n > 4 || length !== 6 + 2 * n) {
    fail(`a scan header is invalid (${n} components)`);
  }
  let blocks = 0;
  for (let c = 0; c < n; c++) {
    const id = bytes[at + 1 + 2 * c]!;
    const b = frame.blocks.get(id);
    if (b === undefined) fail(`a scan names component ${id}, not in the frame`);
    blocks += b;
  }
  frame.info.scans++;
  frame.info.blockScans += blocks;
}

/**
 * Walks the markers of a JPEG file (SOI already checked) and checks the
 * frame and scans against `limits`. Throws an {@linkcode ImageDecodeError}
 * naming the limit or the fault.
 */
export function scanJpeg(bytes: Uint8Array, limits: JpegLimits): JpegInfo {
  let frame: Frame | undefined;
  let pos = 2;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0xff) fail(`no marker at byte ${pos}`);
    while (bytes[pos] === 0xff) pos++; // fill bytes
    const marker = bytes[pos++];
    if (marker === undefined) break;
    if (marker === 0xd9) break; // EOI
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (pos + 2 > bytes.length) fail("the file is truncated in a marker");
    const length = (bytes[pos]! << 8) | bytes[pos + 1]!;
    if (length < 2 || pos + length > bytes.length) {
      fail(`the segment at byte ${pos - 2} is truncated or has a bad length`);
    }
    const body = pos + 2;
    pos += length;
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
      marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (frame) fail("there are two frame (SOF) headers");
      frame = parseFrame(bytes, body, length, marker, limits);
    } else if (marker === 0xda) {
      if (!frame) fail("a scan comes before the frame header");
      countScan(frame, bytes, body, length);
      if (frame.info.scans > limits.maxScans) {
        fail(`more than ${limits.maxScans} scans`);
      }
      if (frame.info.blockScans > limits.maxBlockScans) {
        fail(
          `its scans decode more than ${limits.maxBlockScans} blocks in all ` +
            `(${frame.info.scans} scans of a ${frame.info.width}x${frame.info.height} image)`,
        );
      }
      pos = skipEntropyData(bytes, pos);
    }
  }
  if (!frame) fail("there is no frame header (SOF)");
  if (frame.info.scans === 0) fail("there is no scan (no pixels)");
  return frame.info;
}
