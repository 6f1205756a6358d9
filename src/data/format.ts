/**
 * The CIFAR-10 binary format: records of 1 label byte then 3072 pixel bytes
 * as three 32x32 planes (red, green, blue). We keep images as HWC uint8, the
 * layout tfjs expects, and convert each record while reading.
 *
 * @module
 */

import { DataError, fsError } from "./errors.ts";
import { CIFAR10_SHAPE, type ImageSet } from "./image_set.ts";

/** Image height and width in pixels. */
export const IMAGE_SIZE = 32;
/** Colour channels per pixel (RGB). */
export const CHANNELS = 3;
/** Bytes of one image: 32 x 32 x 3. */
export const IMAGE_BYTES: number = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
/** Bytes of one record in a batch file: 1 label byte + the image. */
export const RECORD_BYTES: number = IMAGE_BYTES + 1;
/** Number of classes. */
export const NUM_CLASSES = 10;

const PLANE = IMAGE_SIZE * IMAGE_SIZE;
// 1024 records is 3 MB: large enough for fast reads, small enough to be cheap.
const CHUNK_RECORDS = 1024;

/** Images and labels of CIFAR-10 records (always 32 x 32 x 3, HWC). */
type Records = Pick<ImageSet, "images" | "labels" | "count">;

/**
 * Decodes `records` consecutive records from `src` into `out` starting at
 * image `at`, converting CHW planes to HWC. `file` and `firstRecord` only
 * serve the error message for a bad label.
 */
export function decodeRecords(
  src: Uint8Array,
  records: number,
  out: Pick<ImageSet, "images" | "labels">,
  at: number,
  file = "<memory>",
  firstRecord = 0,
): void {
  const { images, labels } = out;
  for (let r = 0; r < records; r++) {
    const base = r * RECORD_BYTES;
    const label = src[base]!;
    if (label >= NUM_CLASSES) {
      const index = firstRecord + r;
      throw new DataError(
        "label",
        `${file}: record ${index} (byte ${
          index * RECORD_BYTES
        }) has label ${label}, but CIFAR-10 labels are 0..9`,
        "the file is corrupt or not a CIFAR-10 batch (CIFAR-100 is not supported); " +
          "re-extract it from cifar-10-binary.tar.gz",
        { path: file },
      );
    }
    labels[at + r] = label;
    const dst = (at + r) * IMAGE_BYTES;
    const red = base + 1;
    const green = red + PLANE;
    const blue = green + PLANE;
    for (let p = 0, d = dst; p < PLANE; p++, d += 3) {
      images[d] = src[red + p]!;
      images[d + 1] = src[green + p]!;
      images[d + 2] = src[blue + p]!;
    }
  }
}

/**
 * Encodes images (HWC) and labels into the binary batch format. The inverse
 * of reading; handy for writing test files and subsets.
 */
export function encodeRecords(set: Records): Uint8Array {
  const out = new Uint8Array(set.count * RECORD_BYTES);
  for (let i = 0; i < set.count; i++) {
    const base = i * RECORD_BYTES;
    out[base] = set.labels[i]!;
    const src = i * IMAGE_BYTES;
    for (let p = 0, s = src; p < PLANE; p++, s += 3) {
      out[base + 1 + p] = set.images[s]!;
      out[base + 1 + PLANE + p] = set.images[s + 1]!;
      out[base + 1 + 2 * PLANE + p] = set.images[s + 2]!;
    }
  }
  return out;
}

/**
 * Checks a batch file's size and returns its record count. Throws a
 * {@linkcode DataError} naming the file when it is missing, empty, or not a
 * whole number of 3073-byte records.
 */
export async function countRecords(path: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DataError(
        "missing",
        `${path} does not exist`,
        "pass the cifar-10-batches-bin directory that holds it, or re-extract cifar-10-binary.tar.gz",
        { path, cause: error },
      );
    }
    throw fsError(error, "read", path);
  }
  if (!info.isFile) {
    throw new DataError(
      "format",
      `${path} is not a regular file`,
      "it must be a CIFAR-10 binary batch file; remove or rename what is there",
      { path },
    );
  }
  if (info.size === 0) {
    throw new DataError(
      "format",
      `${path} is empty`,
      "the extraction was probably interrupted: re-extract cifar-10-binary.tar.gz",
      { path },
    );
  }
  if (info.size % RECORD_BYTES !== 0) {
    const cifar100 = info.size % (RECORD_BYTES + 1) === 0;
    throw new DataError(
      "format",
      `${path} has ${info.size} bytes, not a multiple of ${RECORD_BYTES} (one CIFAR-10 record)`,
      cifar100
        ? "it looks like CIFAR-100 (3074-byte records), which is not supported; use cifar-10-binary.tar.gz"
        : "the file is truncated or is not the binary version: re-extract cifar-10-binary.tar.gz " +
          "(the python or matlab versions do not work)",
      { path },
    );
  }
  return info.size / RECORD_BYTES;
}

/** Options for {@linkcode readBatchFiles}. */
export interface ReadBatchOptions {
  /** Read at most this many records in total, from the first files on. */
  limit?: number;
  /** Called with the number of bytes read after each chunk (for a progress bar). */
  onBytes?: (bytes: number) => void;
}

async function readFully(
  file: Deno.FsFile,
  buffer: Uint8Array,
  path: string,
): Promise<void> {
  let filled = 0;
  while (filled < buffer.length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) {
      throw new DataError(
        "format",
        `${path} ended early: it changed size while being read`,
        "make sure nothing else writes the file, then run again",
        { path },
      );
    }
    filled += n;
  }
}

/**
 * Reads whole batch files, in order, into one {@linkcode ImageSet}. Sizes
 * are checked first so a bad file fails before any large allocation; the
 * pixels are allocated once (uint8) and filled chunk by chunk.
 */
export async function readBatchFiles(
  paths: readonly string[],
  options: ReadBatchOptions = {},
): Promise<ImageSet> {
  const counts: number[] = [];
  for (const path of paths) counts.push(await countRecords(path));
  const available = counts.reduce((a, b) => a + b, 0);
  const total = options.limit === undefined
    ? available
    : Math.min(options.limit, available);
  const set: ImageSet = {
    images: new Uint8Array(total * IMAGE_BYTES),
    labels: new Uint8Array(total),
    count: total,
    shape: CIFAR10_SHAPE,
  };
  const chunk = new Uint8Array(CHUNK_RECORDS * RECORD_BYTES);
  let at = 0;
  for (let f = 0; f < paths.length && at < total; f++) {
    const path = paths[f]!;
    const wanted = Math.min(counts[f]!, total - at);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      throw fsError(error, "read", path);
    }
    try {
      for (let done = 0; done < wanted;) {
        const n = Math.min(CHUNK_RECORDS, wanted - done);
        const view = chunk.subarray(0, n * RECORD_BYTES);
        try {
          await readFully(file, view, path);
        } catch (error) {
          throw fsError(error, "read", path);
        }
        decodeRecords(view, n, set, at, path, done);
        at += n;
        done += n;
        options.onBytes?.(view.length);
      }
    } finally {
      file.close();
    }
  }
  return set;
}
