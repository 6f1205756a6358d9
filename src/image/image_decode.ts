/**
 * Decoding PNG and JPEG files that a user or an attacker hands us, in pure
 * TypeScript (no native code, no file or network access, so it runs in
 * `deno compile`d programs and edge isolates), with limits checked before
 * memory or time is spent:
 *
 * - PNG: simdnet's own streaming decoder (`png_decode.ts`, `png_chunks.ts`):
 *   chunk order, lengths and CRCs checked, IHDR validated and the size
 *   limits applied before anything is allocated, ancillary chunks capped
 *   and never inflated, IDAT inflated a slice at a time and refused the
 *   moment it exceeds what the header declares.
 * - JPEG: the markers are walked first (`jpeg_guard.ts`: size, scans and
 *   the block work they imply), then `jpeg-js` decodes with its memory cap.
 *
 * {@linkcode decodeImageToInput} feeds PNG rows straight into the model
 * input's area-averaging accumulator, so memory follows the model's input
 * size, not the image's.
 *
 * @module
 */

import { decode as decodeJpeg } from "jpeg-js";
import { ImageDecodeError } from "./image_errors.ts";
import { JPEG_DEFAULTS, scanJpeg } from "./jpeg_guard.ts";
import { PNG_DEFAULTS, type PngLimits } from "./png_chunks.ts";
import { decodePngRows, type RowSink } from "./png_decode.ts";
import { InputAccumulator, pixelsToInput } from "./resize.ts";

export { ImageDecodeError } from "./image_errors.ts";
import type { Pixels } from "./pixels.ts";

/** Image file formats that {@linkcode decodeImage} reads. */
export type ImageFormat = "png" | "jpeg";

/** Options of {@linkcode decodeImage}; every limit is checked before decoding. */
export interface DecodeOptions {
  /**
   * Largest image accepted, in pixels; default 40 million. Checked before
   * any pixel memory is allocated, so a small file cannot ask for gigabytes.
   */
  maxPixels?: number;
  /** Largest width or height; default 65,535 (JPEG's own limit). */
  maxDimension?: number;
  /**
   * Most bytes a PNG's image data may inflate to; default 128 MiB (40 MP
   * RGB at 8 bits fits). Checked from the header, before inflating.
   */
  maxPngDataBytes?: number;
  /** Most JPEG scans; default 64 (encoders write 1 to about 10). */
  maxJpegScans?: number;
  /**
   * Most 8x8 blocks a JPEG's scans decode in all (blocks x scans); default
   * 12 million, at most about 0.36 s of scan work in jpeg-js here.
   */
  maxJpegBlockScans?: number;
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

function pngLimits(options: DecodeOptions): PngLimits {
  return {
    ...PNG_DEFAULTS,
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxDimension: options.maxDimension ?? PNG_DEFAULTS.maxDimension,
    maxDataBytes: options.maxPngDataBytes ?? PNG_DEFAULTS.maxDataBytes,
  };
}

/** Keeps every row: the whole image (what `decodeImage` returns). */
class FullImage implements RowSink {
  pixels: Pixels = {
    data: new Uint8Array(0),
    width: 0,
    height: 0,
    channels: 1,
  };
  #channels = 1;

  begin(width: number, height: number, channels: 1 | 2 | 3 | 4): void {
    const data = new Uint8Array(width * height * channels);
    this.pixels = { data, width, height, channels };
    this.#channels = channels;
  }

  row(y: number, x0: number, dx: number, n: number, data: Uint8Array): void {
    const ch = this.#channels, out = this.pixels.data;
    const base = (y * this.pixels.width + x0) * ch;
    if (dx === 1) {
      out.set(data.subarray(0, n * ch), base);
      return;
    }
    for (let k = 0; k < n; k++) {
      for (let c = 0; c < ch; c++) {
        out[base + k * dx * ch + c] = data[k * ch + c]!;
      }
    }
  }
}

function jpegPixels(bytes: Uint8Array, options: DecodeOptions): Pixels {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  scanJpeg(bytes, {
    maxPixels,
    maxScans: options.maxJpegScans ?? JPEG_DEFAULTS.maxScans,
    maxBlockScans: options.maxJpegBlockScans ?? JPEG_DEFAULTS.maxBlockScans,
  });
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
    const why = String((error as Error)?.message ?? error).split("\n")[0];
    throw new ImageDecodeError(`the JPEG file cannot be decoded: ${why}`, {
      cause: error,
    });
  }
  return {
    data: image.data,
    width: image.width,
    height: image.height,
    channels: 3,
  };
}

function formatOf(bytes: Uint8Array): ImageFormat {
  if (bytes.length === 0) {
    throw new ImageDecodeError("the image is empty (0 bytes)");
  }
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new ImageDecodeError(
      "the data is neither a PNG nor a JPEG file (unknown signature)",
    );
  }
  return format;
}

/**
 * Decodes a PNG (any bit depth, grey, grey+alpha, RGB, RGBA or palette,
 * interlaced or not) or a baseline/progressive JPEG (grey, YCbCr or CMYK;
 * returned as RGB) to 8-bit pixels. Throws an {@linkcode ImageDecodeError}
 * for anything else or anything above the limits of `options`.
 *
 * @example
 * ```ts
 * import { encodePng } from "./png_encode.ts";
 * const png = encodePng({ data: new Uint8Array(2 * 2 * 3), width: 2, height: 2, channels: 3 });
 * const { width, channels } = decodeImage(png);
 * console.log(width, channels); // 2 3
 * ```
 */
export function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Pixels {
  if (formatOf(bytes) === "jpeg") return jpegPixels(bytes, options);
  const sink = new FullImage();
  decodePngRows(bytes, pngLimits(options), sink);
  return sink.pixels;
}

/**
 * Decodes an image file straight into the model input `height x width x 3`
 * float32 in [0, 1] (as `pixelsToInput` resizes), written into `out` at
 * `offset`. PNG rows are accumulated as they are decoded, so memory does
 * not grow with the image; JPEGs are decoded whole (within the limits).
 */
export function decodeImageToInput(
  bytes: Uint8Array,
  height: number,
  width: number,
  options: DecodeOptions = {},
  out: Float32Array = new Float32Array(height * width * 3),
  offset = 0,
): Float32Array {
  if (offset + height * width * 3 > out.length) {
    throw new RangeError("the output buffer is too small for the image");
  }
  if (formatOf(bytes) === "jpeg") {
    return pixelsToInput(
      jpegPixels(bytes, options),
      height,
      width,
      out,
      offset,
    );
  }
  const sink = new InputAccumulator(height, width);
  decodePngRows(bytes, pngLimits(options), sink);
  return sink.finish(out, offset);
}
