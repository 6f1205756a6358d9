/**
 * One image file of an image-folder dataset turned into the bytes the
 * trainer takes: decoded through `src/image/`'s bounded decoders and its
 * model-input resize (`decodeImageToInput`: area average down, bilinear up,
 * alpha dropped, grey expanded), then rounded to uint8 HWC.
 *
 * Rounding: the float path gives `v = sum / 255` in [0, 1]; the byte is
 * `round(v * 255)` (half away from zero, clamped to 0..255), so it differs
 * from the float input by at most 0.5/255 and an image already at the model
 * size comes back bit for bit. `toFloatBatch` later divides by 255 again.
 *
 * @module
 */

import {
  decodeImageToInput,
  type DecodeOptions,
  DEFAULT_MAX_PIXELS,
  sniffImageFormat,
} from "../image/image_decode.ts";
import { ImageDecodeError } from "../image/image_errors.ts";
import { JPEG_DEFAULTS, scanJpeg } from "../image/jpeg_guard.ts";

/** What a decoded file was: format, size and colour type. */
export interface ImageFileInfo {
  /** `png` or `jpeg`. */
  format: "png" | "jpeg";
  width: number;
  height: number;
  /**
   * Colour type as stored: `grey`, `grey+alpha`, `RGB`, `RGBA`, `palette`
   * (PNG), or `CMYK` (JPEG); with the PNG bit depth when it is not 8.
   */
  colour: string;
}

/** Default of {@linkcode ImageFileLimits.maxFileBytes}: 64 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Limits of one file: the decoder's, plus the file size read at all. */
export interface ImageFileLimits extends DecodeOptions {
  /** Largest file read, in bytes; default 64 MiB. Bigger files are skipped. */
  maxFileBytes?: number;
}

const PNG_COLOURS: Record<number, string> = {
  0: "grey",
  2: "RGB",
  3: "palette",
  4: "grey+alpha",
  6: "RGBA",
};
const JPEG_COLOURS: Record<number, string> = {
  1: "grey",
  3: "RGB",
  4: "CMYK",
};

/** The float input `v` in [0, 1] as a byte, rounded to nearest. */
export function inputToByte(v: number): number {
  const b = Math.round(v * 255);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}

/**
 * Writes `floats` (the model input in [0, 1]) as bytes into `out` at
 * `offset`, with {@linkcode inputToByte}'s rounding.
 */
export function inputToBytes(
  floats: Float32Array,
  out: Uint8Array,
  offset = 0,
): void {
  for (let i = 0; i < floats.length; i++) {
    out[offset + i] = inputToByte(floats[i]!);
  }
}

// The header fields come from bytes the decoder has just validated.
function pngInfo(bytes: Uint8Array): ImageFileInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const depth = bytes[24]!, type = bytes[25]!;
  const colour = PNG_COLOURS[type] ?? `type ${type}`;
  return {
    format: "png",
    width: view.getUint32(16),
    height: view.getUint32(20),
    colour: depth === 8 ? colour : `${colour} ${depth}-bit`,
  };
}

function jpegInfo(bytes: Uint8Array, limits: ImageFileLimits): ImageFileInfo {
  const info = scanJpeg(bytes, {
    maxPixels: limits.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxScans: limits.maxJpegScans ?? JPEG_DEFAULTS.maxScans,
    maxBlockScans: limits.maxJpegBlockScans ?? JPEG_DEFAULTS.maxBlockScans,
  });
  return {
    format: "jpeg",
    width: info.width,
    height: info.height,
    colour: JPEG_COLOURS[info.components] ?? `${info.components} components`,
  };
}

/**
 * Decodes `bytes` (PNG or JPEG, any size or colour type) to the `height x
 * width x 3` model input as uint8 HWC into `out` at `offset`, using
 * `scratch` (`height * width * 3` floats) for the float path. Returns what
 * the file was. Throws an `ImageDecodeError` for anything undecodable or
 * above `limits`.
 */
export function decodeImageToBytes(
  bytes: Uint8Array,
  height: number,
  width: number,
  out: Uint8Array,
  offset: number,
  scratch: Float32Array,
  limits: ImageFileLimits = {},
): ImageFileInfo {
  decodeImageToInput(bytes, height, width, limits, scratch, 0);
  inputToBytes(scratch.subarray(0, height * width * 3), out, offset);
  const format = sniffImageFormat(bytes);
  if (format === null) throw new ImageDecodeError("unknown image format");
  return format === "png" ? pngInfo(bytes) : jpegInfo(bytes, limits);
}
