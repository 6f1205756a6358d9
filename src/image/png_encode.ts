/**
 * PNG encoding, through `fast-png` (pure JavaScript, no Node APIs, so it
 * runs unchanged in Deno and browsers).
 *
 * @module
 */

import { encode } from "fast-png";
import { encodeBase64 } from "../util/base64.ts";
import type { Pixels } from "./pixels.ts";

function checkPixels(image: Pixels): void {
  const { width, height, channels, data } = image;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1
  ) {
    throw new RangeError(
      `image size is ${width}x${height}: width and height must be whole numbers >= 1`,
    );
  }
  if (![1, 3, 4].includes(channels)) {
    throw new RangeError(
      `image has ${channels} channels: pass 1 (grey), 3 (RGB) or 4 (RGBA)`,
    );
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `image data has ${data.length} bytes but ${width}x${height}x${channels} needs ${
        width * height * channels
      }: pass uint8 pixels in HWC order`,
    );
  }
}

/** Encodes a uint8 HWC image (grey, RGB or RGBA) as an 8-bit PNG file. */
export function encodePng(image: Pixels): Uint8Array {
  checkPixels(image);
  return encode({
    width: image.width,
    height: image.height,
    data: image.data,
    channels: image.channels,
    depth: 8,
  });
}

/** A `data:image/png;base64,…` URI of PNG bytes, for inlining in HTML or SVG. */
export function pngDataUri(png: Uint8Array): string {
  return "data:image/png;base64," + encodeBase64(png);
}
