/**
 * A streaming PNG decoder in TypeScript: IDAT is inflated a slice at a time
 * and unfiltered row by row, keeping only the previous scanline, and each
 * row is handed to a {@linkcode RowSink} as 8-bit samples. Memory is a few
 * scanlines plus whatever the sink keeps, never the whole inflated image.
 *
 * Every depth (1, 2, 4, 8, 16; 16 keeps the high byte), every colour type
 * and Adam7 interlacing are read. Inflation stops with an error as soon as
 * it produces more bytes than the header declares (filter bytes plus
 * scanlines of every pass), so a deflate bomb costs at most one slice.
 *
 * @module
 */

import { Inflate } from "fflate";
import { ImageDecodeError } from "./image_errors.ts";
import {
  checkChunk,
  chunkState,
  parseIhdr,
  pngChunks,
  type PngHeader,
  type PngLimits,
} from "./png_chunks.ts";

/** Receives decoded rows. */
export interface RowSink {
  /** Called once before any row: the size and channels of what follows. */
  begin(width: number, height: number, channels: 1 | 2 | 3 | 4): void;
  /**
   * Pixels `x0, x0 + dx, …` (`n` of them) of row `y`, `channels` 8-bit
   * samples each. `data` is reused after the call returns.
   */
  row(y: number, x0: number, dx: number, n: number, data: Uint8Array): void;
}

// Adam7: x0, y0, dx, dy of the seven passes.
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  cols: number;
  rows: number;
  rowBytes: number;
}

// Deflate expands at most about 1032:1, so a slice of n bytes inflates to
// at most about n KiB before the size check sees it. Slices follow what the
// image still needs, between 256 B (a 264 KiB overshoot: a 1x1 PNG's
// 4.8 GB bomb is refused after one slice; with a fixed 2 KiB slice that
// first push took 100-250 ms here) and 4 KiB (about 4 MiB of output per
// push for large images; 16 KiB was no faster on a 40 MP file, within this
// VM's noise, and holds 16 MiB).
const MIN_SLICE = 256;
const MAX_SLICE = 4 * 1024;
// Two scanlines of this size at most: 8.4 million RGBA 16-bit pixels.
const MAX_ROW_BYTES = 64 * 1024 * 1024;

function fail(what: string): never {
  throw new ImageDecodeError(`the PNG file cannot be decoded: ${what}`);
}

function passesOf(h: PngHeader): Pass[] {
  const bits = h.samples * h.depth;
  const list = h.interlaced ? ADAM7 : [[0, 0, 1, 1] as const];
  const out: Pass[] = [];
  for (const [x0, y0, dx, dy] of list) {
    const cols = Math.ceil(Math.max(0, h.width - x0) / dx);
    const rows = Math.ceil(Math.max(0, h.height - y0) / dy);
    if (cols === 0 || rows === 0) continue;
    const rowBytes = Math.ceil((cols * bits) / 8);
    out.push({ x0, y0, dx, dy, cols, rows, rowBytes });
  }
  return out;
}

/** Reverses the five PNG filters in place on `line` (filter byte at 0). */
function unfilter(line: Uint8Array, prev: Uint8Array, n: number, bpp: number) {
  const type = line[0]!;
  // Both buffers hold the filter byte at 0, so pixel bytes start at 1.
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = 1 + bpp; i <= n; i++) line[i] = line[i]! + line[i - bpp]!;
      return;
    case 2:
      for (let i = 1; i <= n; i++) line[i] = line[i]! + prev[i]!;
      return;
    case 3:
      for (let i = 1; i <= n; i++) {
        const left = i > bpp ? line[i - bpp]! : 0;
        line[i] = line[i]! + ((left + prev[i]!) >> 1);
      }
      return;
    case 4:
      for (let i = 1; i <= n; i++) {
        const a = i > bpp ? line[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i > bpp ? prev[i - bpp]! : 0;
        const pa = Math.abs(b - c), pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        line[i] = line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      return;
    default:
      fail(`filter type ${type} does not exist`);
  }
}

/** Turns unfiltered scanlines into 8-bit samples and hands them on. */
class Rows {
  readonly channels: 1 | 2 | 3 | 4;
  readonly expected: number;
  received = 0;
  #passes: Pass[];
  #pass = 0;
  #row = 0;
  #fill = 0;
  #cur: Uint8Array;
  #prev: Uint8Array;
  #out: Uint8Array;
  #bpp: number;

  constructor(readonly header: PngHeader, readonly sink: RowSink) {
    const h = header;
    this.#passes = passesOf(h);
    const widest = Math.max(...this.#passes.map((p) => p.rowBytes));
    if (widest > MAX_ROW_BYTES) {
      fail(`a scanline of ${widest} bytes is above the ${MAX_ROW_BYTES} limit`);
    }
    this.expected = this.#passes.reduce(
      (s, p) => s + p.rows * (1 + p.rowBytes),
      0,
    );
    this.#cur = new Uint8Array(1 + widest);
    this.#prev = new Uint8Array(1 + widest);
    this.channels = h.colorType === 3
      ? (h.paletteAlpha ? 4 : 3)
      : (h.samples as 1 | 2 | 3 | 4);
    this.#out = new Uint8Array(h.width * this.channels);
    this.#bpp = Math.max(1, (h.samples * h.depth) >> 3);
  }

  get done(): boolean {
    return this.#pass >= this.#passes.length;
  }

  /** Consumes inflated bytes; fails on more than the header declares. */
  push(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (this.received > this.expected) {
      fail(
        `the image data inflates to more than the ${this.expected} bytes ` +
          `its ${this.header.width}x${this.header.height} header declares`,
      );
    }
    let at = 0;
    while (at < chunk.length) {
      const pass = this.#passes[this.#pass]!;
      const need = 1 + pass.rowBytes - this.#fill;
      const take = Math.min(need, chunk.length - at);
      this.#cur.set(chunk.subarray(at, at + take), this.#fill);
      this.#fill += take;
      at += take;
      if (this.#fill === 1 + pass.rowBytes) this.#finishRow(pass);
    }
  }

  #finishRow(pass: Pass): void {
    unfilter(this.#cur, this.#prev, pass.rowBytes, this.#bpp);
    const data = this.#samples(pass);
    this.sink.row(
      pass.y0 + this.#row * pass.dy,
      pass.x0,
      pass.dx,
      pass.cols,
      data,
    );
    [this.#cur, this.#prev] = [this.#prev, this.#cur];
    this.#fill = 0;
    if (++this.#row === pass.rows) {
      this.#row = 0;
      this.#pass++;
      this.#prev.fill(0);
    }
  }

  #samples(pass: Pass): Uint8Array {
    const { depth, colorType } = this.header;
    const line = this.#cur, out = this.#out;
    const count = pass.cols * this.header.samples;
    if (colorType === 3) return this.#palette(pass.cols);
    if (depth === 8) return line.subarray(1, 1 + count);
    if (depth === 16) {
      for (let i = 0; i < count; i++) out[i] = line[1 + 2 * i]!;
      return out;
    }
    const max = (1 << depth) - 1, scale = 255 / max;
    for (let i = 0; i < count; i++) {
      const bit = i * depth;
      out[i] = ((line[1 + (bit >> 3)]! >> (8 - depth - (bit & 7))) & max) *
        scale;
    }
    return out;
  }

  #palette(cols: number): Uint8Array {
    const { depth, palette, paletteAlpha } = this.header;
    const line = this.#cur, out = this.#out, ch = this.channels;
    const entries = palette!.length / 3, max = (1 << depth) - 1;
    for (let x = 0; x < cols; x++) {
      const bit = x * depth;
      const index = depth === 8
        ? line[1 + x]!
        : (line[1 + (bit >> 3)]! >> (8 - depth - (bit & 7))) & max;
      if (index >= entries) {
        fail(`palette index ${index} is out of range (${entries} entries)`);
      }
      out[x * ch] = palette![3 * index]!;
      out[x * ch + 1] = palette![3 * index + 1]!;
      out[x * ch + 2] = palette![3 * index + 2]!;
      if (ch === 4) out[x * ch + 3] = paletteAlpha![index] ?? 255;
    }
    return out;
  }
}

/**
 * Feeds IDAT data through a zlib header check and a sliced inflate. Data is
 * gathered into slices first: every push copies fflate's 32 KiB window, so
 * pushing one-byte IDAT chunks one by one cost 73 µs each (a 5 MB body of
 * them, 30 s); gathered, they cost what one large chunk costs.
 */
class IdatStream {
  #header = new Uint8Array(2);
  #headerFill = 0;
  #inflate: Inflate;
  #pending = new Uint8Array(MAX_SLICE);
  #fill = 0;

  constructor(readonly rows: Rows) {
    this.#inflate = new Inflate((chunk) => rows.push(chunk));
  }

  push(data: Uint8Array): void {
    let at = 0;
    while (this.#headerFill < 2 && at < data.length) {
      this.#header[this.#headerFill++] = data[at++]!;
      if (this.#headerFill === 2) this.#checkHeader();
    }
    while (at < data.length) {
      const left = (this.rows.expected - this.rows.received) / 1032;
      const slice = Math.min(MAX_SLICE, Math.max(MIN_SLICE, Math.floor(left)));
      const take = Math.min(slice - this.#fill, data.length - at);
      if (take > 0) {
        this.#pending.set(data.subarray(at, at + take), this.#fill);
        this.#fill += take;
        at += take;
      }
      if (this.#fill >= slice) this.flush();
    }
  }

  /** Inflates what is gathered (at IEND, or when a slice is full). */
  flush(): void {
    if (this.#fill === 0) return;
    // fflate copies what it keeps of its input, so the buffer is reusable.
    this.#inflate.push(this.#pending.subarray(0, this.#fill));
    this.#fill = 0;
  }

  #checkHeader(): void {
    const [cmf, flg] = this.#header as unknown as [number, number];
    if ((cmf & 15) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) {
      fail("the image data is not a zlib stream");
    }
    if (flg & 32) fail("the image data asks for a preset dictionary");
  }
}

/**
 * Decodes a PNG file (signature already checked) into `sink`, row by row.
 * Throws an {@linkcode ImageDecodeError} for anything invalid or above
 * `limits`, and for any failure of the inflater.
 */
export function decodePngRows(
  bytes: Uint8Array,
  limits: PngLimits,
  sink: RowSink,
): void {
  try {
    const chunks = pngChunks(bytes);
    const first = chunks.next();
    if (first.done) fail("there is no IHDR chunk");
    const header = parseIhdr(bytes, first.value, limits);
    const state = chunkState();
    let rows: Rows | undefined, idat: IdatStream | undefined;
    for (const chunk of chunks) {
      if (!checkChunk(bytes, chunk, header, state, limits)) continue;
      if (!rows) {
        rows = new Rows(header, sink);
        sink.begin(header.width, header.height, rows.channels);
        idat = new IdatStream(rows);
      }
      idat!.push(bytes.subarray(chunk.start, chunk.end));
    }
    idat?.flush();
    if (!rows || !rows.done) {
      fail(
        `the image data is truncated (${rows?.received ?? 0} of ` +
          `${rows?.expected ?? "?"} bytes)`,
      );
    }
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    // fflate's errors ("invalid block type", "unexpected EOF", ...).
    throw new ImageDecodeError(
      `the PNG file cannot be decoded: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
}
