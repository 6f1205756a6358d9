/**
 * simdnet's one image type: 8-bit pixels in HWC order (row, column,
 * channel). Decoders return it, the encoder and the resizer take it, the
 * report draws it and the classifier accepts it.
 *
 * @module
 */

/** 8-bit pixels in HWC order: 1 grey, 2 grey+alpha, 3 RGB or 4 RGBA channels. */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Channels per pixel. */
  channels: 1 | 2 | 3 | 4;
}

/**
 * The channel count of `pixels`, checked against its size and data length
 * (pixels can come from users as plain objects). Throws a `RangeError`
 * naming the sizes when they disagree.
 *
 * @example
 * ```ts
 * import { channelsOf } from "./pixels.ts";
 * console.log(channelsOf({ data: new Uint8Array(12), width: 2, height: 2, channels: 3 })); // 3
 * ```
 */
export function channelsOf(pixels: Pixels): 1 | 2 | 3 | 4 {
  const { width, height, data } = pixels;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1
  ) {
    throw new RangeError(
      `image size ${width}x${height} is not whole numbers >= 1`,
    );
  }
  const channels: number = pixels.channels;
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
