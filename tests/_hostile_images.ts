/**
 * Generators of hostile (and valid reference) PNG and JPEG files for the
 * decoder tests: built in memory at test time, never committed. Deflate
 * bombs are a hand-written dynamic-Huffman block whose body is all zero
 * bytes (each two bits copy 258 bytes), so a gigabyte takes a megabyte and
 * no time to make.
 */

import { deflateSync } from "node:zlib";
import { crc32 } from "../src/image/png_chunks.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A chunk: its type and data. */
export type Chunk = [type: string, data: Uint8Array];

/** A PNG file of these chunks, each given its length and CRC. */
export function pngFile(chunks: Chunk[]): Uint8Array {
  const size = 8 + chunks.reduce((s, [, d]) => s + 12 + d.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE);
  let pos = 8;
  for (const [type, data] of chunks) {
    view.setUint32(pos, data.length);
    for (let i = 0; i < 4; i++) out[pos + 4 + i] = type.charCodeAt(i);
    out.set(data, pos + 8);
    view.setUint32(
      pos + 8 + data.length,
      crc32(out, pos + 4, pos + 8 + data.length),
    );
    pos += 12 + data.length;
  }
  return out;
}

/** IHDR data. */
export function ihdr(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  interlace = 0,
): Uint8Array {
  const d = new Uint8Array(13);
  const view = new DataView(d.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  d.set([depth, colorType, 0, 0, interlace], 8);
  return d;
}

/**
 * A zlib stream that inflates to at least `bytes` zero bytes (one literal
 * zero, then copies of 258 bytes at distance 1, two bits each).
 */
export function zeroBomb(bytes: number): Uint8Array {
  const bits: number[] = [];
  const put = (value: number, n: number) => { // LSB first (header fields)
    for (let i = 0; i < n; i++) bits.push((value >> i) & 1);
  };
  const code = (value: number, n: number) => { // Huffman codes: MSB first
    for (let i = n - 1; i >= 0; i--) bits.push((value >> i) & 1);
  };
  put(1, 1); // final block
  put(2, 2); // dynamic Huffman
  put(29, 5); // 286 literal/length codes
  put(1, 5); // 2 distance codes
  put(14, 4); // 18 code-length codes
  // Code-length code lengths in RFC 1951 order 16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1:
  // 18 -> 1 bit (code 0), 1 -> 2 bits (10), 2 -> 2 bits (11).
  const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
  const clen: Record<number, number> = { 18: 1, 1: 2, 2: 2 };
  for (const s of order) put(clen[s] ?? 0, 3);
  const zeros = (n: number) => { // symbol 18: 11..138 zeros
    code(0, 1);
    put(n - 11, 7);
  };
  code(3, 2); // literal 0: length 2
  zeros(138);
  zeros(117); // literals 1..255
  code(3, 2); // 256 (end of block): length 2
  zeros(28); // 257..284
  code(2, 2); // 285 (length 258): length 1
  code(2, 2); // distance 0: length 1
  code(2, 2); // distance 1: length 1
  // Literal/length codes: 285 -> 0, literal 0 -> 10, 256 -> 11.
  code(2, 2); // one literal zero
  // Then copies (two zero bits each), literal zeros for the remainder,
  // and the end of block: the body is zero bytes, so it is made by sizing.
  const head = bits.length;
  const copies = Math.floor(Math.max(0, bytes - 1) / 258);
  const rest = Math.max(0, bytes - 1 - 258 * copies);
  let at = head + 2 * copies;
  const total = at + 2 * rest + 2;
  const out = new Uint8Array(2 + Math.ceil(total / 8) + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  const set = (i: number) => (out[2 + (i >> 3)]! |= 1 << (i & 7));
  bits.forEach((b, i) => b && set(i));
  for (let k = 0; k < rest; k++, at += 2) set(at); // literal 0: "10"
  set(at); // end of block: "11"
  set(at + 1);
  // Adler-32 of `bytes` zeros: a stays 1, b counts the bytes.
  const b = Math.max(1, bytes) % 65521;
  new DataView(out.buffer).setUint32(out.length - 4, ((b << 16) | 1) >>> 0);
  return out;
}

/** A 1x1 grey PNG whose IDAT inflates to `bytes` (default 4.8 GB). */
export function idatBomb(bytes = 4_800_000_000): Uint8Array {
  return pngFile([
    ["IHDR", ihdr(1, 1, 8, 0)],
    ["IDAT", zeroBomb(bytes)],
    ["IEND", new Uint8Array(0)],
  ]);
}

/** A valid 1x1 PNG with an iCCP profile that would inflate to `bytes`. */
export function iccpBomb(bytes = 1024 ** 3): Uint8Array {
  const name = new TextEncoder().encode("icc\0\0");
  const profile = zeroBomb(bytes);
  const data = new Uint8Array(name.length + profile.length);
  data.set(name);
  data.set(profile, name.length);
  return pngFile([
    ["IHDR", ihdr(1, 1, 8, 0)],
    ["iCCP", data],
    ["IDAT", deflateSync(new Uint8Array(2))],
    ["IEND", new Uint8Array(0)],
  ]);
}

/** A `width x height` grey PNG of zeros with an IDAT of exactly the right size. */
export function zeroPng(
  width: number,
  height: number,
  depth = 8,
  colorType = 0,
  before: Chunk[] = [],
): Uint8Array {
  const samples = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[
    colorType
  ]!;
  const rowBytes = Math.ceil((width * samples * depth) / 8);
  return pngFile([
    ...before,
    ["IHDR", ihdr(width, height, depth, colorType)],
    ...(colorType === 3 ? [["PLTE", new Uint8Array(3)] as Chunk] : []),
    ["IDAT", zeroBomb(height * (1 + rowBytes))],
    ["IEND", new Uint8Array(0)],
  ]);
}

/** The tall thin 1 x 40,000,000 grey PNG (within 40 MP, about 78 KB). */
export function tallThin(height = 40_000_000): Uint8Array {
  return zeroPng(1, height, 8, 0);
}

/** A first IHDR of 1x1, then the real one of 30000x30000 (900 MP). */
export function doubleIhdr(): Uint8Array {
  const real = zeroPng(30_000, 30_000);
  const first = pngFile([["IHDR", ihdr(1, 1, 8, 0)]]).subarray(8);
  const out = new Uint8Array(real.length + first.length);
  out.set(real.subarray(0, 8));
  out.set(first, 8);
  out.set(real.subarray(8), 8 + first.length);
  return out;
}

/** An unknown ancillary chunk before the real IHDR of a 900 MP image. */
export function chunkBeforeIhdr(): Uint8Array {
  return zeroPng(30_000, 30_000, 8, 0, [["abCd", new Uint8Array(4)]]);
}

/** 6324x6324 (40.0 MP) RGBA at 16 bits: 320 MB of samples in 310 KB. */
export function rgba16Big(): Uint8Array {
  return zeroPng(6324, 6324, 16, 6);
}

/** A 4x4 palette PNG of 2 entries whose pixels use index 7. */
export function paletteOutOfRange(): Uint8Array {
  const raw = new Uint8Array(4 * 5).fill(7);
  for (let y = 0; y < 4; y++) raw[y * 5] = 0;
  return pngFile([
    ["IHDR", ihdr(4, 4, 8, 3)],
    ["PLTE", new Uint8Array([0, 0, 0, 255, 255, 255])],
    ["IDAT", deflateSync(raw)],
    ["IEND", new Uint8Array(0)],
  ]);
}

/** A palette image declared at bit depth 16. */
export function palette16(): Uint8Array {
  return pngFile([
    ["IHDR", ihdr(2, 2, 16, 3)],
    ["PLTE", new Uint8Array(6)],
    ["IDAT", deflateSync(new Uint8Array(2 * 5))],
    ["IEND", new Uint8Array(0)],
  ]);
}

/** A palette image with two tRNS chunks. */
export function twoTrns(): Uint8Array {
  return pngFile([
    ["IHDR", ihdr(2, 2, 8, 3)],
    ["PLTE", new Uint8Array(6)],
    ["tRNS", new Uint8Array([0])],
    ["tRNS", new Uint8Array([0, 0])],
    ["IDAT", deflateSync(new Uint8Array(2 * 3))],
    ["IEND", new Uint8Array(0)],
  ]);
}

/** Bits to bytes for JPEG entropy data, MSB first, 0xFF stuffed with 0x00. */
class JpegBits {
  bytes: number[] = [];
  #acc = 0;
  #n = 0;
  put(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      this.#acc = (this.#acc << 1) | ((value >> i) & 1);
      if (++this.#n === 8) this.#flush();
    }
  }
  end(): number[] {
    while (this.#n !== 0) this.put(1, 1); // pad with ones
    const out = this.bytes;
    this.bytes = [];
    return out;
  }
  #flush(): void {
    this.bytes.push(this.#acc);
    if (this.#acc === 0xff) this.bytes.push(0);
    this.#acc = 0;
    this.#n = 0;
  }
}

function segment(marker: number, body: number[]): number[] {
  const n = body.length + 2;
  return [0xff, marker, n >> 8, n & 255, ...body];
}

/**
 * A grey progressive JPEG of `width x height` with a DC scan and then
 * `scans` AC scans, each an end-of-band run over every block (15 bits per
 * 32,767 blocks): jpeg-js still visits every block in every scan.
 */
export function progressiveBomb(
  width: number,
  height: number,
  scans: number,
): Uint8Array {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const out: number[] = [0xff, 0xd8];
  // Loops, not spreads: the DC scan of a large image overflows the stack.
  const append = (part: number[]) => {
    for (const b of part) out.push(b);
  };
  out.push(...segment(0xdb, [0, ...new Array(64).fill(1)]));
  out.push(
    ...segment(0xc2, [
      8,
      height >> 8,
      height & 255,
      width >> 8,
      width & 255,
      1,
      1,
      0x11,
      0,
    ]),
  );
  // DC table 0 and AC table 0: one 1-bit code each (DC category 0; AC
  // 0xE0, an end-of-band run of 2^14 + 14 extra bits).
  const one = [1, ...new Array(15).fill(0)];
  out.push(...segment(0xc4, [0x00, ...one, 0x00, 0x10, ...one, 0xe0]));
  const bits = new JpegBits();
  for (let b = 0; b < blocks; b++) bits.put(0, 1);
  append(segment(0xda, [1, 1, 0x00, 0, 0, 0x00]));
  append(bits.end());
  for (let b = 0; b < blocks; b += 32767) bits.put(0x3fff, 15);
  const ac = bits.end();
  const header = segment(0xda, [1, 1, 0x00, 1, 63, 0x00]);
  for (let s = 0; s < scans; s++) append(header), append(ac);
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

/**
 * A valid `side x side` grey PNG of random (incompressible) pixels whose
 * zlib stream is cut into one-byte IDAT chunks: 13 bytes of file per byte
 * of data, each chunk a separate push to the inflater.
 */
export function tinyIdats(side = 600, seed = 1): Uint8Array {
  const raw = new Uint8Array(side * (side + 1));
  let x = seed;
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13; // xorshift32
    x ^= x >>> 17;
    x ^= x << 5;
    raw[i] = i % (side + 1) === 0 ? 0 : x & 255;
  }
  const z = deflateSync(raw);
  const chunks: Chunk[] = [["IHDR", ihdr(side, side, 8, 0)]];
  for (let i = 0; i < z.length; i++) {
    chunks.push(["IDAT", z.subarray(i, i + 1)]);
  }
  chunks.push(["IEND", new Uint8Array(0)]);
  return pngFile(chunks);
}
