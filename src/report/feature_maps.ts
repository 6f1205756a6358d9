/**
 * Feature-map pictures, normalised and coloured as the seed notebook's
 * `display_activations` and `imshow(..., cmap='viridis')` do.
 *
 * @module
 */

import { numpySum } from "../util/numpy_sum.ts";
import { colormapIndex, VIRIDIS } from "./colormap.ts";
import { tileImages, upscaleNearest } from "./image_grid.ts";
import type { Pixels } from "../image/pixels.ts";
import type { FeatureLayer } from "./types.ts";

const f32 = Math.fround;
/** The seed shows this many channels per layer. */
export const FEATURE_CHANNELS = 16;

function meanF32(values: Float32Array): number {
  return f32(numpySum(values, f32) / values.length);
}

/**
 * Maps one channel of activations to bytes exactly as the seed does:
 * `x -= x.mean(); x /= x.std() + 1e-5; x *= 64; x += 128;
 * np.clip(x, 0, 255).astype('uint8')`.
 *
 * Arithmetic is float32, as NumPy does on Keras' float32 activations
 * (pairwise sums, population std of the centred values, NumPy 2 scalar
 * rules); `astype('uint8')` truncates. NaN activations give 0.
 */
export function normalizeFeatureChannel(values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  if (n === 0) {
    throw new RangeError("feature channel is empty: pass height*width values");
  }
  const x = Float32Array.from(values);
  const mean = meanF32(x);
  for (let i = 0; i < n; i++) x[i] = (x[i] as number) - mean;
  // std() of the centred values recentres them once more, as NumPy's _var does.
  const centre = meanF32(x);
  const squares = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const d = f32((x[i] as number) - centre);
    squares[i] = d * d;
  }
  const std = f32(Math.sqrt(f32(numpySum(squares, f32) / n)));
  const divisor = f32(std + f32(1e-5));
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = f32(f32(f32((x[i] as number) / divisor) * 64) + 128);
    out[i] = v > 0 ? Math.trunc(Math.min(v, 255)) : 0;
  }
  return out;
}

/** Channel `c` of an HWC activation tensor, as `height × width` values. */
export function featureChannel(layer: FeatureLayer, c: number): Float32Array {
  const { height, width, channels, data } = layer;
  const out = new Float32Array(height * width);
  for (let i = 0; i < out.length; i++) {
    out[i] = data[i * channels + c] as number;
  }
  return out;
}

/** Throws unless the layer's data matches its declared shape. */
export function checkFeatureLayer(layer: FeatureLayer, where: string): void {
  const { height, width, channels, data } = layer;
  for (
    const [key, v] of [["height", height], ["width", width], [
      "channels",
      channels,
    ]] as const
  ) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(
        `${where}.${key} is ${v}: pass the layer's output ${key} as a whole number >= 1`,
      );
    }
  }
  if (!data || data.length !== height * width * channels) {
    throw new RangeError(
      `${where}.data has ${
        data?.length ?? 0
      } values but ${height}x${width}x${channels} needs ${
        height * width * channels
      }: pass one image's activations in HWC order (drop the batch axis)`,
    );
  }
}

/**
 * Colours a grey byte image with viridis after stretching its own min..max
 * to the whole map, as `imshow` does by default.
 */
export function applyViridis(gray: Pixels): Pixels {
  let min = 255;
  let max = 0;
  for (const v of gray.data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min;
  const out = new Uint8Array(gray.data.length * 3);
  gray.data.forEach((v, i) => {
    const k = colormapIndex(span === 0 ? 0 : (v - min) / span) * 3;
    out.set(VIRIDIS.lut.subarray(k, k + 3), i * 3);
  });
  return { data: out, width: gray.width, height: gray.height, channels: 3 };
}

/** A layer's first channels side by side, as the seed's `display_grid`. */
export interface FeatureStrip {
  /** Viridis RGB strip, each map enlarged by `scale`. */
  image: Pixels;
  /** How many channels the strip shows. */
  shown: number;
  /** Nearest-neighbour factor applied to each map. */
  scale: number;
}

/**
 * The seed's feature-map row for one layer: the first `maxChannels` channels,
 * each normalised by {@linkcode normalizeFeatureChannel}, side by side with
 * no gap, coloured by {@linkcode applyViridis} over the whole row, and
 * enlarged so each map is at least `minMapSize` pixels.
 */
export function featureStrip(
  layer: FeatureLayer,
  maxChannels: number = FEATURE_CHANNELS,
  minMapSize: number = 64,
): FeatureStrip {
  checkFeatureLayer(layer, `layer "${layer.name}"`);
  const shown = Math.min(maxChannels, layer.channels);
  const maps: Pixels[] = [];
  for (let c = 0; c < shown; c++) {
    maps.push({
      data: normalizeFeatureChannel(featureChannel(layer, c)),
      width: layer.width,
      height: layer.height,
      channels: 1,
    });
  }
  const row = applyViridis(tileImages(maps, shown));
  const scale = Math.max(
    1,
    Math.ceil(minMapSize / Math.max(layer.height, layer.width)),
  );
  return { image: upscaleNearest(row, scale), shown, scale };
}
