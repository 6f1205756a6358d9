/**
 * Your own images as a dataset: a folder of class folders (Keras
 * `image_dataset_from_directory`, torchvision `ImageFolder`) decoded once
 * to the model's input size and kept as a uint8 {@linkcode ImageSet}, the
 * type the trainer, the evaluator and the report already take.
 *
 * @module
 */

import { ImageDecodeError } from "../image/image_errors.ts";
import { DataError, fsError } from "./errors.ts";
import {
  decodeImageToBytes,
  DEFAULT_MAX_FILE_BYTES,
  type ImageFileLimits,
} from "./image_file.ts";
import {
  cacheKey,
  readFolderCache,
  writeFolderCache,
} from "./image_folder_cache.ts";
import { type FolderClass, scanImageFolder } from "./image_folder_scan.ts";
import {
  addToStats,
  type DecodedFolder,
  emptyStats,
  type FolderStats,
  type SkippedFile,
} from "./image_folder_stats.ts";
import { imageBytes, type ImageSet, type ImageShape } from "./image_set.ts";
import { defaultCacheDir } from "./layout.ts";
import { stratifiedSplit } from "./stratified_split.ts";

/** Options of {@linkcode loadImageFolder}. */
export interface LoadImageFolderOptions {
  /** The dataset directory: `dir/<class name>/*.png|jpg|jpeg`. */
  dir: string;
  /** Model input side (square) or `[height, width]`; default 32. */
  imageSize?: number | readonly [number, number];
  /** Hold out this fraction of each class for validation, in (0, 1). */
  valSplit?: number;
  /** Seed of the validation split; default 42. */
  seed?: number;
  /** Read and write the decoded set in the cache; default false. */
  cache?: boolean;
  /** Cache directory; default `$XDG_CACHE_HOME/simdnet` or `~/.cache/simdnet`. */
  cacheDir?: string;
  /** Per-file limits (pixels, dimensions, JPEG work, file size). */
  limits?: ImageFileLimits;
  /** Called after each file with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Where an image folder's images came from. */
export interface ImageFolderSource {
  kind: "folder";
  /** The dataset directory. */
  path: string;
  /** Whether they were read from the cache instead of decoded. */
  cached: boolean;
}

/** What {@linkcode loadImageFolder} returns. */
export interface ImageFolderData {
  /** The images to train on (all of them without `valSplit`). */
  train: ImageSet;
  /** The held-out part, with `valSplit`. */
  validation?: ImageSet;
  /** Class names (folder names in NFC, code-point order): label i is `classNames[i]`. */
  classNames: string[];
  /** Files that could not be decoded, with reasons. */
  skipped: SkippedFile[];
  source: ImageFolderSource;
  /** Sizes and colour types of the images, before resizing. */
  stats: FolderStats;
}

function shapeOf(size: LoadImageFolderOptions["imageSize"]): ImageShape {
  const [h, w] = typeof size === "object" ? size : [size ?? 32, size ?? 32];
  if (![h, w].every((d) => Number.isInteger(d) && d >= 1 && d <= 4096)) {
    throw new DataError(
      "usage",
      `the image size must be whole numbers in 1..4096, got ${size}`,
      "pass e.g. imageSize 32 (--image-size 32)",
    );
  }
  return [h, w, 3];
}

function reasonOf(error: unknown): string | null {
  if (error instanceof ImageDecodeError) return error.message;
  if (error instanceof Deno.errors.NotFound) return "it disappeared";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "the operating system denied reading it";
  }
  return null;
}

async function decodeFolder(
  classes: FolderClass[],
  shape: ImageShape,
  options: LoadImageFolderOptions,
): Promise<DecodedFolder> {
  const limits = options.limits ?? {};
  const maxBytes = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const total = classes.reduce((n, c) => n + c.files.length, 0);
  const size = imageBytes(shape);
  const images = new Uint8Array(total * size), labels = new Uint8Array(total);
  const scratch = new Float32Array(size);
  const skipped: SkippedFile[] = [], stats = emptyStats();
  let count = 0, done = 0;
  for (const [label, cls] of classes.entries()) {
    const before = count;
    for (const file of cls.files) {
      try {
        if (file.size > maxBytes) {
          throw new ImageDecodeError(
            `the file has ${file.size} bytes, more than the ${maxBytes} limit`,
          );
        }
        const bytes = await Deno.readFile(file.path);
        const info = decodeImageToBytes(
          bytes,
          shape[0],
          shape[1],
          images,
          count * size,
          scratch,
          limits,
        );
        labels[count++] = label;
        addToStats(stats, info);
      } catch (error) {
        const reason = reasonOf(error);
        if (reason === null) throw fsError(error, "read", file.path);
        skipped.push({ path: file.path, rel: file.rel, reason });
      }
      options.onProgress?.(++done, total);
    }
    if (count === before) {
      throw new DataError(
        "format",
        `the class folder ${cls.dir} has no usable image (all ` +
          `${cls.files.length} could not be decoded)`,
        "replace its files with PNG or JPEG images, or remove the folder",
        { path: cls.dir },
      );
    }
  }
  return {
    set: {
      images: images.subarray(0, count * size),
      labels: labels.subarray(0, count),
      count,
      shape,
    },
    classNames: classes.map((c) => c.name),
    skipped,
    stats,
  };
}

async function decodeOrCached(
  dir: string,
  shape: ImageShape,
  options: LoadImageFolderOptions,
): Promise<{ folder: DecodedFolder; cached: boolean }> {
  const classes = await scanImageFolder(dir);
  if (!options.cache) {
    return {
      folder: await decodeFolder(classes, shape, options),
      cached: false,
    };
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const key = await cacheKey(classes, shape, options.limits ?? {});
  const hit = await readFolderCache(cacheDir, key, dir);
  if (hit) return { folder: hit, cached: true };
  const folder = await decodeFolder(classes, shape, options);
  await writeFolderCache(cacheDir, key, folder);
  return { folder, cached: false };
}

/**
 * Loads an image-folder dataset: `dir/<class name>/…/*.png|jpg|jpeg` (any
 * size, colour type and count per class; case-insensitive extensions;
 * names starting with "." skipped). Each image is decoded within `limits`
 * and resized to `imageSize` as the classifier resizes (area average down,
 * bilinear up), rounded to uint8. Files that cannot be decoded are listed
 * in `skipped`; a class with no usable image, fewer than two classes, or a
 * directory that is no such folder is a {@linkcode DataError} naming it.
 * With `valSplit`, each class gives that fraction to `validation` (seeded).
 * With `cache`, the decoded set is kept in the cache directory.
 *
 * @example
 * ```ts
 * import { encodePng } from "../image/png_encode.ts";
 * import { loadImageFolder } from "./image_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * for (const [name, value] of [["cat", 0], ["dog", 255]] as const) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   for (let i = 0; i < 5; i++) {
 *     const data = new Uint8Array(40 * 30 * 3).fill(value);
 *     const png = encodePng({ data, width: 40, height: 30, channels: 3 });
 *     await Deno.writeFile(`${dir}/${name}/${i}.png`, png);
 *   }
 * }
 * const { train, validation, classNames } = await loadImageFolder({
 *   dir,
 *   imageSize: 32,
 *   valSplit: 0.2,
 *   seed: 1,
 * });
 * console.log(classNames, train.count, validation?.count); // ["cat", "dog"] 8 2
 * console.log(train.shape); // [32, 32, 3]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadImageFolder(
  options: LoadImageFolderOptions,
): Promise<ImageFolderData> {
  const shape = shapeOf(options.imageSize);
  const dir = options.dir.replace(/(?<=.)\/+$/, "");
  const { folder, cached } = await decodeOrCached(dir, shape, options);
  const { classNames, skipped, stats } = folder;
  const source: ImageFolderSource = { kind: "folder", path: dir, cached };
  if (options.valSplit === undefined) {
    return { train: folder.set, classNames, skipped, source, stats };
  }
  const parts = stratifiedSplit(
    folder.set,
    options.valSplit,
    options.seed ?? 42,
  );
  return { ...parts, classNames, skipped, source, stats };
}

/**
 * Throws a {@linkcode DataError} naming `dir` and the difference unless
 * `got` (the classes of `dir`, e.g. `--val-data`) are `expected`, in order.
 */
export function checkSameClasses(
  expected: readonly string[],
  got: readonly string[],
  dir: string,
  what: string,
): void {
  if (
    expected.length === got.length && expected.every((c, i) => c === got[i])
  ) {
    return;
  }
  const missing = expected.filter((c) => !got.includes(c));
  const extra = got.filter((c) => !expected.includes(c));
  throw new DataError(
    "format",
    `${what} ${dir} has other classes than the training data: missing [${
      missing.join(", ")
    }], extra [${extra.join(", ")}]`,
    "give it the same class folders as the training folder",
    { path: dir },
  );
}
