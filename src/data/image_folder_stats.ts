/**
 * What loading an image folder saw: the files skipped and why, the image
 * sizes and colour types before resizing. `deno task data` prints them, and
 * the cache stores them with the pixels.
 *
 * @module
 */

import type { ImageFileInfo } from "./image_file.ts";
import type { ImageSet } from "./image_set.ts";

/** A file that could not be used, and why. */
export interface SkippedFile {
  /** Path it was read from. */
  path: string;
  /** Path relative to the dataset directory. */
  rel: string;
  /** One line: what was wrong with it. */
  reason: string;
}

/** Width x height of an image. */
export interface ImageDims {
  width: number;
  height: number;
}

/** Sizes and colour types of the decoded files (before resizing). */
export interface FolderStats {
  /** Images per size, keyed `"<width>x<height>"`. */
  sizes: Record<string, number>;
  /** Images per format and colour type, keyed e.g. `"png RGBA"`. */
  colours: Record<string, number>;
  /** The smallest image by pixel count (first seen on ties), or null. */
  smallest: ImageDims | null;
  /** The largest image by pixel count (first seen on ties), or null. */
  largest: ImageDims | null;
}

/** A decoded folder: every usable image, before any split. */
export interface DecodedFolder {
  /** All usable images, uint8 HWC at the model size, labelled by class. */
  set: ImageSet;
  /** Class names (folder names in NFC), in label order. */
  classNames: string[];
  /** Files skipped, with reasons, in listing order. */
  skipped: SkippedFile[];
  /** Sizes and colour types seen. */
  stats: FolderStats;
}

/** An empty {@linkcode FolderStats}. */
export function emptyStats(): FolderStats {
  return { sizes: {}, colours: {}, smallest: null, largest: null };
}

/** Counts one decoded file into `stats`. */
export function addToStats(stats: FolderStats, info: ImageFileInfo): void {
  const size = `${info.width}x${info.height}`;
  stats.sizes[size] = (stats.sizes[size] ?? 0) + 1;
  const colour = `${info.format} ${info.colour}`;
  stats.colours[colour] = (stats.colours[colour] ?? 0) + 1;
  const area = info.width * info.height;
  const dims = { width: info.width, height: info.height };
  const { smallest, largest } = stats;
  if (!smallest || area < smallest.width * smallest.height) {
    stats.smallest = dims;
  }
  if (!largest || area > largest.width * largest.height) stats.largest = dims;
}

/**
 * The `n` most common entries of a count table, most common first (ties
 * in key order), for histograms.
 */
export function mostCommon(
  table: Record<string, number>,
  n: number,
): [string, number][] {
  return Object.entries(table)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n);
}

/**
 * The skipped files as printable lines, `  <path>: <reason>`, then a count;
 * nothing when no file was skipped.
 */
export function formatSkipped(skipped: readonly SkippedFile[]): string {
  if (skipped.length === 0) return "";
  const lines = skipped.map((s) => `  ${s.path}: ${s.reason}`);
  const files = skipped.length === 1 ? "file" : "files";
  return `skipped ${skipped.length} ${files} that could not be decoded:\n${
    lines.join("\n")
  }\n`;
}
