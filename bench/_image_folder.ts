/**
 * The image folder of bench/transfer.ts: CIFAR-10 images written as PNG
 * files into `DIR/<split>/<class>/<n>.png` (one folder per class, as Keras'
 * `image_dataset_from_directory` reads them), and read back.
 *
 * @module
 */

import type { ImageSet } from "../src/data/image_set.ts";
import { decodeImage } from "../src/image/image_decode.ts";
import { encodePng } from "../src/image/png_encode.ts";

/**
 * Writes the images of `set` at `indices` as PNGs into
 * `dir/<className>/<n>.png`, `className` from each image's label.
 */
export async function writeImageFolder(
  dir: string,
  set: ImageSet,
  indices: readonly number[],
  classNames: readonly string[],
): Promise<void> {
  const [height, width, channels] = set.shape;
  const size = height * width * channels;
  const counts = new Map<string, number>();
  for (const i of indices) {
    const name = classNames[set.labels[i]!]!;
    const n = counts.get(name) ?? 0;
    counts.set(name, n + 1);
    if (n === 0) await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    const png = encodePng({
      data: set.images.subarray(i * size, (i + 1) * size),
      width,
      height,
      channels: channels as 1 | 3 | 4,
    });
    await Deno.writeFile(
      `${dir}/${name}/${String(n).padStart(5, "0")}.png`,
      png,
    );
  }
}

/**
 * Reads `dir/<class>/*.png` back into an {@linkcode ImageSet} of RGB
 * images of `shape`, classes in sorted folder order.
 *
 * TODO(image folders): switch to `loadImageFolder` (and train through
 * `deno task train --data DIR`) once folder loading lands on this branch;
 * this local reader only serves the benchmark until then.
 */
export async function readImageFolder(
  dir: string,
  shape: readonly [number, number, number],
): Promise<{ set: ImageSet; classNames: string[] }> {
  const classNames: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) classNames.push(e.name);
  }
  classNames.sort();
  const files: Array<{ path: string; label: number }> = [];
  for (const [label, name] of classNames.entries()) {
    const names: string[] = [];
    for await (const e of Deno.readDir(`${dir}/${name}`)) {
      if (e.isFile && e.name.endsWith(".png")) names.push(e.name);
    }
    names.sort();
    for (const n of names) files.push({ path: `${dir}/${name}/${n}`, label });
  }
  const size = shape[0] * shape[1] * shape[2];
  const images = new Uint8Array(files.length * size);
  const labels = new Uint8Array(files.length);
  for (const [i, f] of files.entries()) {
    const px = decodeImage(await Deno.readFile(f.path));
    if (
      px.width !== shape[1] || px.height !== shape[0] ||
      px.channels !== shape[2]
    ) {
      throw new Error(
        `${f.path} is ${px.width}x${px.height}x${px.channels}, not ` +
          `${shape[1]}x${shape[0]}x${shape[2]}; rebuild the folder`,
      );
    }
    images.set(px.data, i * size);
    labels[i] = f.label;
  }
  return {
    set: { images, labels, count: files.length, shape },
    classNames,
  };
}
