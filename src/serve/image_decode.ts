/**
 * Decoding PNG and JPEG files to 8-bit pixels with pure-JavaScript
 * libraries (`fast-png`, `jpeg-js`): no native code, no file or network
 * access, so decoding runs in `deno compile`d programs and edge isolates.
 *
 * @module
 */

import { convertIndexedToRgb, decode as decodePng } from "fast-png";
import { decode as decodeJpeg } from "jpeg-js";

/** 8-bit pixels in HWC order: 1 grey, 2 grey+alpha, 3 RGB or 4 RGBA channels. */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Channels per pixel; default `data.length / (width * height)`. */
  channels?: 1 | 2 | 3 | 4;
}

/** Image file formats that {@linkcode decodeImage} reads. */
export type ImageFormat = "png" | "jpeg";

/** An image that cannot be decoded; the message says why. */
export class ImageDecodeError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImageDecodeError";
  }
}

/** Options of {@linkcode decodeImage}. */
export interface DecodeOptions {
  /**
   * Largest image accepted, in pixels; default 40 million. Checked before
   * any pixel memory is allocated, so a small file cannot ask for gigabytes.
   */
  maxPixels?: number;
}

/** The default of {@linkcode DecodeOptions.maxPixels}. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format of an image file by its first bytes, or `null` when unknown. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  return null;
}

function checkSize(width: number, height: number, maxPixels: number): void {
  if (!(width >= 1 && height >= 1)) {
    throw new ImageDecodeError(`the image has no pixels (${width}x${height})`);
  }
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      `the image is ${width}x${height}, more than the limit of ${maxPixels} pixels`,
    );
  }
}

// Samples narrower than a byte are packed MSB first, each row starting on a
// fresh byte; scale them to 0..255.
function unpackBits(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  depth: number,
): Uint8Array {
  const perRow = Math.ceil((width * channels * depth) / 8);
  const max = (1 << depth) - 1;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++) {
      const bit = i * depth;
      const byte = data[y * perRow + (bit >> 3)] ?? 0;
      const v = (byte >> (8 - depth - (bit & 7))) & max;
      out[y * width * channels + i] = Math.round((v * 255) / max);
    }
  }
  return out;
}

function pngPixels(bytes: Uint8Array, maxPixels: number): Pixels {
  // IHDR (big-endian width and height) sits at a fixed offset right after
  // the signature: check the size before the decoder allocates anything.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) {
    throw new ImageDecodeError("the PNG file is truncated (no header)");
  }
  checkSize(view.getUint32(16), view.getUint32(20), maxPixels);
  let png;
  try {
    png = decodePng(bytes, { checkCrc: true });
  } catch (error) {
    throw new ImageDecodeError(
      `the PNG file cannot be decoded: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const { width, height, depth } = png;
  if (png.palette) {
    const data = convertIndexedToRgb(png);
    const channels = png.palette[0]?.length === 4 ? 4 : 3;
    return { data, width, height, channels };
  }
  const channels = png.channels as 1 | 2 | 3 | 4;
  let data: Uint8Array | Uint8ClampedArray;
  if (depth === 16) {
    const wide = png.data as Uint16Array;
    data = new Uint8Array(wide.length);
    for (let i = 0; i < wide.length; i++) data[i] = wide[i]! >> 8;
  } else if (depth < 8) {
    data = unpackBits(png.data as Uint8Array, width, height, channels, depth);
  } else {
    data = png.data as Uint8Array;
  }
  return { data, width, height, channels };
}

function jpegPixels(bytes: Uint8Array, maxPixels: number): Pixels {
  let image;
  try {
    image = decodeJpeg(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
      // Coefficients take about 8 bytes per pixel and component.
      maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 32) / 1e6)),
    });
  } catch (error) {
    throw new ImageDecodeError(
      `the JPEG file cannot be decoded: ${(error as Error).message}`,
      { cause: error },
    );
  }
  checkSize(image.width, image.height, maxPixels);
  return {
    data: image.data,
    width: image.width,
    height: image.height,
    channels: 3,
  };
}

/**
 * Decodes a PNG (any bit depth, grey, grey+alpha, RGB, RGBA or palette) or a
 * baseline/progressive JPEG (grey, YCbCr or CMYK; returned as RGB) to 8-bit
 * pixels. Throws an {@linkcode ImageDecodeError} for anything else.
 *
 * @example
 * ```ts
 * import { encodePng } from "../report/png.ts";
 * const png = encodePng({ data: new Uint8Array(2 * 2 * 3), width: 2, height: 2, channels: 3 });
 * const { width, channels } = decodeImage(png);
 * console.log(width, channels); // 2 3
 * ```
 */
export function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Pixels {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) {
    throw new ImageDecodeError("the image is empty (0 bytes)");
  }
  switch (sniffImageFormat(bytes)) {
    case "png":
      return pngPixels(bytes, maxPixels);
    case "jpeg":
      return jpegPixels(bytes, maxPixels);
    default:
      throw new ImageDecodeError(
        "the data is neither a PNG nor a JPEG file (unknown signature)",
      );
  }
}
