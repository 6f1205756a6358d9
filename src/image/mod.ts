/**
 * Images: simdnet's one pixel type, the PNG/JPEG decoders (bounded by
 * limits checked before any work), the PNG encoder, and the resize to a
 * model's input.
 *
 * ```ts
 * import { decodeImage, encodePng } from "./mod.ts";
 *
 * const png = encodePng({ data: new Uint8Array(4 * 3 * 3), width: 4, height: 3, channels: 3 });
 * const { width, height, channels } = decodeImage(png);
 * console.log(width, height, channels); // 4 3 3
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
