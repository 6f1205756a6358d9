/**
 * Turning pixels of any size and colour mode into the model's input: RGB,
 * resized, float32 in [0, 1].
 *
 * Resizing is separable, axis by axis: an axis that shrinks uses area
 * averaging (each output pixel is the mean of the source pixels it covers,
 * partly covered ones weighted by their overlap, like OpenCV's
 * `INTER_AREA`), and an axis that grows uses bilinear interpolation with
 * half-pixel centres. An axis of equal size is copied exactly, so a 32x32
 * image reaches the model as `pixel / 255` unchanged.
 *
 * Both are linear in the source pixels, so {@linkcode InputAccumulator}
 * takes the source a row (or an Adam7 pass row) at a time in any order and
 * keeps only the output: memory follows the model's input, not the image.
 * Weights are rounded to float32 and sums made in the order the previous
 * whole-image implementation used, so rows given top to bottom give the
 * same floats as before.
 *
 * @module
 */

import { channelsOf, type Pixels } from "./pixels.ts";

/** Which source indices feed output `i` along one axis, and how much. */
class Axis {
  /** First source index of output `i`. */
  readonly start: Int32Array;
  /** Number of source indices of output `i`. */
  readonly count: Int32Array;
  readonly #scale: number;
  readonly #area: boolean;
  /** Where output `i`'s weights start in `weights` (tables only). */
  readonly offset: Int32Array;
  /** Packed weights (bilinear axes, and area axes built with a table). */
  readonly weights: Float32Array;

  /**
   * With `table`, every weight is precomputed (about `src + dst` floats, as
   * big as a source row): the horizontal pass reads them per pixel, which
   * took a 40 MP image from 7.0 to 4.5 s on this (loaded) VM.
   */
  constructor(readonly src: number, readonly dst: number, table = false) {
    this.start = new Int32Array(dst);
    this.count = new Int32Array(dst);
    this.offset = new Int32Array(dst);
    this.#scale = src / dst;
    this.#area = src >= dst;
    const list: number[] = [];
    for (let i = 0; i < dst; i++) {
      this.offset[i] = list.length;
      if (this.#area) {
        const lo = i * this.#scale, hi = lo + this.#scale;
        this.start[i] = Math.floor(lo);
        this.count[i] = Math.min(src - 1, Math.ceil(hi) - 1) - this.start[i]! +
          1;
        if (!table) continue;
        for (let k = 0; k < this.count[i]!; k++) {
          const s = this.start[i]! + k;
          list.push((Math.min(hi, s + 1) - Math.max(lo, s)) / this.#scale);
        }
        continue;
      }
      const x = Math.min(Math.max((i + 0.5) * this.#scale - 0.5, 0), src - 1);
      const s0 = Math.floor(x), frac = x - s0;
      this.start[i] = s0;
      if (frac > 0 && s0 + 1 < src) {
        this.count[i] = 2;
        list.push(1 - frac, frac);
      } else {
        this.count[i] = 1;
        list.push(1);
      }
    }
    this.weights = Float32Array.from(list);
  }

  /** The float32 weight of source `s` in output `i` (s within its range). */
  weight(i: number, s: number): number {
    if (!this.#area) {
      return this.weights[this.offset[i]! + s - this.start[i]!]!;
    }
    const lo = i * this.#scale, hi = lo + this.#scale;
    return Math.fround((Math.min(hi, s + 1) - Math.max(lo, s)) / this.#scale);
  }

  /** Writes the outputs source `s` feeds into `outs`; returns how many. */
  outputsOf(s: number, outs: Int32Array): number {
    // Shrinking: outputs span >= 1 source index, so `s` meets at most two
    // neighbours of floor(s / scale); growing: the axis is small, scan it.
    const from = this.#area ? Math.max(0, Math.floor(s / this.#scale) - 1) : 0;
    const to = this.#area
      ? Math.min(this.dst - 1, Math.floor(s / this.#scale) + 2)
      : this.dst - 1;
    let n = 0;
    for (let i = from; i <= to; i++) {
      if (s >= this.start[i]! && s < this.start[i]! + this.count[i]!) {
        outs[n++] = i;
      }
    }
    return n;
  }
}

/**
 * Builds the model input `height x width x 3` from source rows given one
 * at a time (see the module doc); a `RowSink` of the PNG decoder.
 */
export class InputAccumulator {
  #xs?: Axis;
  #ys?: Axis;
  #channels = 3;
  readonly #acc: Float64Array;
  readonly #row: Float32Array;
  readonly #outs: Int32Array;

  /** An accumulator for an output of `height x width` RGB pixels. */
  constructor(readonly height: number, readonly width: number) {
    this.#acc = new Float64Array(height * width * 3);
    this.#row = new Float32Array(width * 3);
    // A source row feeds at most every output row.
    this.#outs = new Int32Array(height);
  }

  /** Sets the source size and channels (1 grey, 2 grey+alpha, 3, 4). */
  begin(width: number, height: number, channels: 1 | 2 | 3 | 4): void {
    this.#xs = new Axis(width, this.width, true);
    this.#ys = new Axis(height, this.height);
    this.#channels = channels;
    this.#acc.fill(0);
  }

  /** Adds source pixels `x0, x0 + dx, …` (`n` of them) of row `y`. */
  row(
    y: number,
    x0: number,
    dx: number,
    _n: number,
    data: Uint8Array | Uint8ClampedArray,
  ): void {
    const xs = this.#xs!, ys = this.#ys!, ch = this.#channels;
    // Which source channel feeds R, G and B: grey feeds all three.
    const g1 = ch < 3 ? 0 : 1, b2 = ch < 3 ? 0 : 2;
    const h = this.#row;
    for (let j = 0; j < this.width; j++) {
      const s0 = xs.start[j]!, end = s0 + xs.count[j]!;
      let t = s0 <= x0 ? x0 : x0 + Math.ceil((s0 - x0) / dx) * dx;
      let r = 0, g = 0, b = 0;
      const w0 = xs.offset[j]! - s0;
      for (; t < end; t += dx) {
        const w = xs.weights[w0 + t]!;
        const p = ((t - x0) / dx) * ch;
        r += w * data[p]!;
        g += w * data[p + g1]!;
        b += w * data[p + b2]!;
      }
      h[j * 3] = r;
      h[j * 3 + 1] = g;
      h[j * 3 + 2] = b;
    }
    const line = this.width * 3, acc = this.#acc;
    const n = ys.outputsOf(y, this.#outs);
    for (let k = 0; k < n; k++) {
      const i = this.#outs[k]!, w = ys.weight(i, y), base = i * line;
      for (let q = 0; q < line; q++) acc[base + q] = acc[base + q]! + w * h[q]!;
    }
  }

  /** Writes the input, scaled to [0, 1], into `out` at `offset`. */
  finish(
    out: Float32Array = new Float32Array(this.#acc.length),
    offset = 0,
  ): Float32Array {
    if (offset + this.#acc.length > out.length) {
      throw new RangeError("the output buffer is too small for the image");
    }
    for (let q = 0; q < this.#acc.length; q++) {
      out[offset + q] = this.#acc[q]! / 255;
    }
    return out;
  }
}

/**
 * Writes `pixels` as the model input `height x width x 3` float32 in [0, 1]
 * into `out` at `offset`: alpha is dropped, grey is copied to R, G and B,
 * and the size is changed as this module describes. Returns `out`.
 */
export function pixelsToInput(
  pixels: Pixels,
  height: number,
  width: number,
  out: Float32Array = new Float32Array(height * width * 3),
  offset = 0,
): Float32Array {
  const channels = channelsOf(pixels);
  const { data, width: sw, height: sh } = pixels;
  if (offset + height * width * 3 > out.length) {
    throw new RangeError("the output buffer is too small for the image");
  }
  const acc = new InputAccumulator(height, width);
  acc.begin(sw, sh, channels);
  const line = sw * channels;
  for (let y = 0; y < sh; y++) {
    acc.row(y, 0, 1, sw, data.subarray(y * line, (y + 1) * line));
  }
  return acc.finish(out, offset);
}
