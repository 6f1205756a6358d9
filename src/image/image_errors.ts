/**
 * The error of every image that cannot be decoded, shared by the PNG and
 * JPEG readers (a module of its own so they need not import each other).
 *
 * @module
 */

/** An image that cannot be decoded; the one-line message says why. */
export class ImageDecodeError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImageDecodeError";
  }
}
