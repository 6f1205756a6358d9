/**
 * PNG encoding, through `fast-png` (pure JavaScript, no Node APIs, so it
 * runs unchanged in Deno and browsers).
 *
 * @module
 */

import { encode } from "fast-png";
import type { Raster } from "./types.ts";

function checkRaster(image: Raster): void {
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
export function encodePng(image: Raster): Uint8Array {
  checkRaster(image);
  return encode({
    width: image.width,
    height: image.height,
    data: image.data,
    channels: image.channels,
    depth: 8,
  });
}

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  // btoa takes a binary string; build it in chunks to stay within argument limits.
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** A `data:image/png;base64,…` URI of PNG bytes, for inlining in HTML or SVG. */
export function pngDataUri(png: Uint8Array): string {
  return "data:image/png;base64," + toBase64(png);
}
