/**
 * Images: simdnet's one pixel type, the PNG/JPEG decoders (bounded by
 * limits checked before any work), the PNG encoder, and the resize to a
 * model's input.
 *
 * ```ts
 * import { decodeImage, encodePng, pixelsToInput } from "@simdnet/simdnet/image";
 *
 * const png = encodePng({ data: new Uint8Array(4 * 3 * 3), width: 4, height: 3, channels: 3 });
 * const pixels = decodeImage(png);
 * console.log(pixels.width, pixels.height, pixels.channels); // 4 3 3
 * console.log(pixelsToInput(pixels, 32, 32).length); // 3072: 32x32x3 floats in [0, 1]
 * ```
 *
 * @module
 */

export { channelsOf, type Pixels } from "./pixels.ts";
export {
  decodeImage,
  decodeImageToInput,
  type DecodeOptions,
  DEFAULT_MAX_PIXELS,
  type ImageFormat,
  sniffImageFormat,
} from "./image_decode.ts";
export { ImageDecodeError } from "./image_errors.ts";
export { encodePng, pngDataUri } from "./png_encode.ts";
export { pixelsToInput } from "./resize.ts";
