/**
 * The optional cache of a decoded image folder, so a second run skips the
 * decoding: one file per (folder listing, image size, limits) in the cache
 * directory, never next to the user's images.
 *
 * The key is a SHA-256 of the listing (relative paths, sizes, mtimes), the
 * image size and the decode limits, so adding, removing or touching a file
 * misses. The file is `SIMDIMG1`, a 4-byte little-endian header length, a
 * JSON header, the pixels, the labels and a SHA-256 of everything before it;
 * it is written atomically, and a file that is short, damaged or for
 * another key reads as a miss and is rebuilt.
 *
 * @module
 */

import { writeFileAtomic } from "../util/atomic_write.ts";
import { fsError } from "./errors.ts";
import type { FolderClass } from "./image_folder_scan.ts";
import type { DecodedFolder } from "./image_folder_stats.ts";
import { imageBytes, type ImageShape } from "./image_set.ts";

const MAGIC = new TextEncoder().encode("SIMDIMG1");
const VERSION = 1;

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The cache key of a listing decoded to `shape` under `limits`. */
export async function cacheKey(
  classes: FolderClass[],
  shape: ImageShape,
  limits: unknown,
): Promise<string> {
  const listing = classes.map((c) => [
    c.name,
    c.files.map((f) => [f.rel, f.size, f.mtime]),
  ]);
  const text = JSON.stringify({ v: VERSION, shape, limits, listing });
  return hex(await sha256(new TextEncoder().encode(text)));
}

/** Where the cache file of `key` lives under `cacheDir`. */
export function cachePath(cacheDir: string, key: string): string {
  return `${cacheDir}/image-folders/${key}.simg`;
}

interface Header {
  v: number;
  key: string;
  classNames: string[];
  count: number;
  shape: [number, number, number];
  skipped: { rel: string; reason: string }[];
  stats: DecodedFolder["stats"];
}

/** Writes `folder` as the cache file of `key` under `cacheDir`, atomically. */
export async function writeFolderCache(
  cacheDir: string,
  key: string,
  folder: DecodedFolder,
): Promise<void> {
  const { set } = folder;
  const header: Header = {
    v: VERSION,
    key,
    classNames: folder.classNames,
    count: set.count,
    shape: [...set.shape],
    skipped: folder.skipped.map(({ rel, reason }) => ({ rel, reason })),
    stats: folder.stats,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pixels = set.count * imageBytes(set.shape);
  const body = new Uint8Array(12 + json.length + pixels + set.count + 32);
  body.set(MAGIC, 0);
  new DataView(body.buffer).setUint32(8, json.length, true);
  body.set(json, 12);
  body.set(set.images.subarray(0, pixels), 12 + json.length);
  body.set(set.labels.subarray(0, set.count), 12 + json.length + pixels);
  const end = body.length - 32;
  body.set(await sha256(body.subarray(0, end)), end);
  const path = cachePath(cacheDir, key);
  try {
    await Deno.mkdir(`${cacheDir}/image-folders`, { recursive: true });
    await writeFileAtomic(path, body);
  } catch (error) {
    throw fsError(error, "write", path);
  }
}

function parse(body: Uint8Array, key: string, dir: string) {
  if (body.length < 44 || !MAGIC.every((b, i) => body[i] === b)) return null;
  const jsonLength = new DataView(body.buffer, body.byteOffset)
    .getUint32(8, true);
  if (12 + jsonLength > body.length - 32) return null;
  const header = JSON.parse(
    new TextDecoder().decode(body.subarray(12, 12 + jsonLength)),
  ) as Header;
  if (header.v !== VERSION || header.key !== key) return null;
  const start = 12 + jsonLength;
  const pixels = header.count * imageBytes(header.shape);
  if (start + pixels + header.count + 32 !== body.length) return null;
  const folder: DecodedFolder = {
    set: {
      images: body.slice(start, start + pixels),
      labels: body.slice(start + pixels, start + pixels + header.count),
      count: header.count,
      shape: header.shape,
    },
    classNames: header.classNames,
    skipped: header.skipped.map((s) => ({ ...s, path: `${dir}/${s.rel}` })),
    stats: header.stats,
  };
  return folder;
}

/**
 * Reads the cache file of `key`, or returns null when there is none or it
 * is damaged (wrong checksum, size or key), so the caller rebuilds it.
 * Skipped files' paths are rebuilt under `dir`.
 */
export async function readFolderCache(
  cacheDir: string,
  key: string,
  dir: string,
): Promise<DecodedFolder | null> {
  let body: Uint8Array;
  try {
    body = await Deno.readFile(cachePath(cacheDir, key));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw fsError(error, "read", cachePath(cacheDir, key));
  }
  if (body.length < 44) return null;
  const end = body.length - 32;
  const sum = await sha256(body.subarray(0, end));
  if (!sum.every((b, i) => body[end + i] === b)) return null;
  try {
    return parse(body, key, dir);
  } catch {
    // A header that passed the checksum but does not parse: rebuild.
    return null;
  }
}
