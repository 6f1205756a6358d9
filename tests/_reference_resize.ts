/**
 * The whole-image resize of simdnet before the streaming accumulator (kept
 * verbatim from commit 44fa43d) as the reference the new one must match.
 */

import type { Pixels } from "../src/image/pixels.ts";

/** Contributions of source pixels to each output pixel along one axis. */
interface AxisWeights {
  /** First source index of output `i`. */
  start: Int32Array;
  /** Number of source indices of output `i`. */
  count: Int32Array;
  /** `count[i]` weights per output, packed, starting at `offset[i]`. */
  offset: Int32Array;
  weights: Float32Array;
}

function axisWeights(src: number, dst: number): AxisWeights {
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const offset = new Int32Array(dst);
  const list: number[] = [];
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    offset[i] = list.length;
    if (src >= dst) {
      const lo = i * scale;
      const hi = lo + scale;
      const first = Math.floor(lo);
      const last = Math.min(src - 1, Math.ceil(hi) - 1);
      start[i] = first;
      count[i] = last - first + 1;
      for (let s = first; s <= last; s++) {
        list.push((Math.min(hi, s + 1) - Math.max(lo, s)) / scale);
      }
    } else {
      const x = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), src - 1);
      const s0 = Math.floor(x);
      const frac = x - s0;
      start[i] = s0;
      if (frac > 0 && s0 + 1 < src) {
        count[i] = 2;
        list.push(1 - frac, frac);
      } else {
        count[i] = 1;
        list.push(1);
      }
    }
  }
  return { start, count, offset, weights: Float32Array.from(list) };
}

/** The channel count of `pixels`, checked against its data length. */
function channelsOf(pixels: Pixels): 1 | 2 | 3 | 4 {
  const { width, height, data } = pixels;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1
  ) {
    throw new RangeError(
      `image size ${width}x${height} is not whole numbers >= 1`,
    );
  }
  const channels = pixels.channels ?? data.length / (width * height);
  if (
    ![1, 2, 3, 4].includes(channels) ||
    data.length !== width * height * channels
  ) {
    throw new RangeError(
      `pixel data has ${data.length} bytes, which is not ${width}x${height} ` +
        `pixels of 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels`,
    );
  }
  return channels as 1 | 2 | 3 | 4;
}

/**
 * Writes `pixels` as the model input `height x width x 3` float32 in [0, 1]
 * into `out` at `offset`: alpha is dropped, grey is copied to R, G and B,
 * and the size is changed as this module describes. Returns `out`.
 */
export function referencePixelsToInput(
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
  // Which source channel feeds R, G and B: grey feeds all three.
  const map = channels < 3 ? [0, 0, 0] : [0, 1, 2];
  const xs = axisWeights(sw, width);
  const ys = axisWeights(sh, height);
  // Horizontal pass: every source row to `width` RGB values.
  const rows = new Float32Array(sh * width * 3);
  for (let y = 0; y < sh; y++) {
    const srcRow = y * sw * channels;
    const dstRow = y * width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      const s0 = xs.start[x]!, n = xs.count[x]!, w0 = xs.offset[x]!;
      for (let k = 0; k < n; k++) {
        const w = xs.weights[w0 + k]!;
        const p = srcRow + (s0 + k) * channels;
        r += w * data[p + map[0]!]!;
        g += w * data[p + map[1]!]!;
        b += w * data[p + map[2]!]!;
      }
      rows[dstRow + x * 3] = r;
      rows[dstRow + x * 3 + 1] = g;
      rows[dstRow + x * 3 + 2] = b;
    }
  }
  // Vertical pass, scaling to [0, 1] at the end.
  const line = width * 3;
  for (let y = 0; y < height; y++) {
    const s0 = ys.start[y]!, n = ys.count[y]!, w0 = ys.offset[y]!;
    const dst = offset + y * line;
    for (let i = 0; i < line; i++) {
      let v = 0;
      for (let k = 0; k < n; k++) {
        v += ys.weights[w0 + k]! * rows[(s0 + k) * line + i]!;
      }
      out[dst + i] = v / 255;
    }
  }
  return out;
}
