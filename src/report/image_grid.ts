/**
 * Pixel-level image helpers: slicing a batch, nearest-neighbour upscaling and
 * tiling into one picture.
 *
 * @module
 */

import type { Pixels } from "../image/pixels.ts";

/**
 * Image `index` of an `N × height × width × channels` uint8 batch, as a view
 * (no copy).
 */
export function imageAt(
  batch: Uint8Array | Uint8ClampedArray,
  index: number,
  height: number,
  width: number,
  channels: number,
): Pixels {
  const size = height * width * channels;
  const start = index * size;
  if (!Number.isInteger(index) || index < 0 || start + size > batch.length) {
    throw new RangeError(
      `image ${index} is outside a batch of ${
        Math.floor(batch.length / size)
      } images of ${height}x${width}x${channels}`,
    );
  }
  const bytes = batch instanceof Uint8Array
    ? batch
    : new Uint8Array(batch.buffer, batch.byteOffset, batch.length);
  return {
    data: bytes.subarray(start, start + size),
    width,
    height,
    channels: channels as Pixels["channels"],
  };
}

/**
 * Enlarges an image by a whole factor, each pixel becoming a `factor ×
 * factor` block, so 32×32 images stay sharp when shown large.
 */
export function upscaleNearest(image: Pixels, factor: number): Pixels {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(
      `upscale factor is ${factor}: pass a whole number >= 1`,
    );
  }
  if (factor === 1) return image;
  const { width, height, channels, data } = image;
  const outWidth = width * factor;
  const rowBytes = outWidth * channels;
  const out = new Uint8Array(rowBytes * height * factor);
  for (let y = 0; y < height; y++) {
    const row = out.subarray(
      y * factor * rowBytes,
      (y * factor + 1) * rowBytes,
    );
    for (let x = 0; x < width; x++) {
      const src = (y * width + x) * channels;
      for (let k = 0; k < factor; k++) {
        const dst = (x * factor + k) * channels;
        for (let c = 0; c < channels; c++) {
          row[dst + c] = data[src + c] as number;
        }
      }
    }
    // The other rows of the block repeat the first one.
    for (let k = 1; k < factor; k++) {
      out.set(row, (y * factor + k) * rowBytes);
    }
  }
  return { data: out, width: outWidth, height: height * factor, channels };
}

/**
 * Lays equally sized images out in rows of `columns`, `gap` pixels apart on
 * a background of `background` (one byte value for every channel).
 */
export function tileImages(
  images: readonly Pixels[],
  columns: number,
  gap: number = 0,
  background: number = 255,
): Pixels {
  const first = images[0];
  if (!first) throw new RangeError("no images to tile: pass at least one");
  const { width, height, channels } = first;
  for (const image of images) {
    if (
      image.width !== width || image.height !== height ||
      image.channels !== channels
    ) {
      throw new RangeError(
        `cannot tile a ${image.width}x${image.height}x${image.channels} image with ${width}x${height}x${channels} ones: all images must have one size`,
      );
    }
  }
  const cols = Math.max(1, Math.min(columns, images.length));
  const rows = Math.ceil(images.length / cols);
  const outWidth = cols * width + (cols - 1) * gap;
  const outHeight = rows * height + (rows - 1) * gap;
  const out = new Uint8Array(outWidth * outHeight * channels).fill(background);
  images.forEach((image, i) => {
    const left = (i % cols) * (width + gap);
    const top = Math.floor(i / cols) * (height + gap);
    for (let y = 0; y < height; y++) {
      out.set(
        image.data.subarray(y * width * channels, (y + 1) * width * channels),
        ((top + y) * outWidth + left) * channels,
      );
    }
  });
  return { data: out, width: outWidth, height: outHeight, channels };
}
