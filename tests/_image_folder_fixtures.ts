/**
 * Image folders built on the fly for the image-folder tests: PNGs (grey,
 * RGB, RGBA) and JPEGs of several sizes, so no binary is committed.
 */

import { encode as encodeJpegFile } from "jpeg-js";
import { encodePng } from "../src/image/png_encode.ts";

/** A PNG of `width x height` with `channels` (1, 3 or 4), a gradient seeded by `seed`. */
export function pngFile(
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  seed: number,
): Uint8Array {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 31) & 255;
  return encodePng({ data, width, height, channels });
}

/** A JPEG of `width x height`, a gradient seeded by `seed`. */
export function jpegFile(
  width: number,
  height: number,
  seed: number,
): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 3 + seed * 17) & 255;
  return new Uint8Array(encodeJpegFile({ data, width, height }, 90).data);
}

/** Writes `files` (relative path -> bytes) under `dir`, creating folders. */
export async function writeTree(
  dir: string,
  files: Record<string, Uint8Array>,
): Promise<void> {
  for (const [rel, bytes] of Object.entries(files)) {
    const path = `${dir}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, bytes);
  }
}

/**
 * A small dataset: `classes` each with `perClass` images of mixed formats,
 * sizes and colour types (`<class>/<i>.png|jpg`).
 */
export function mixedFolder(
  classes: string[],
  perClass: number,
): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  classes.forEach((name, c) => {
    for (let i = 0; i < perClass; i++) {
      const seed = c * 100 + i;
      if (i % 4 === 3) files[`${name}/${i}.JPG`] = jpegFile(20 + i, 24, seed);
      else {
        const channels = ([1, 3, 4] as const)[i % 3]!;
        files[`${name}/${i}.png`] = pngFile(
          16 + 8 * (i % 3),
          32,
          channels,
          seed,
        );
      }
    }
  });
  return files;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTemp(
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet-folder-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
