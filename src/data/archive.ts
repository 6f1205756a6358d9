/**
 * Streaming extraction of `cifar-10-binary.tar.gz`: a first pass hashes the
 * file and compares its md5, a second one runs file -> gunzip -> untar ->
 * files, chunk by chunk, so the 170 MB archive is never in memory and nothing
 * of a damaged or tampered archive is ever written. The extra pass over the
 * 170 MB archive took 1.4-2.3 s on this 2-core VM under load (measured with
 * `verifyArchive`), once per install: the price of never extracting an
 * unverified byte.
 * Gunzip is Deno's built-in `DecompressionStream`; tar reading is the npm
 * package `tar-stream` (Deno has no built-in tar reader and JSR's is out of
 * reach here).
 *
 * @module
 */

import { createHash } from "node:crypto";
import tarStream from "tar-stream";
import { DataError, fsError } from "./errors.ts";

/** The official archive's file name. */
export const ARCHIVE_NAME = "cifar-10-binary.tar.gz";
/** The official archive's md5. */
export const OFFICIAL_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";

/** The files we take from the archive; everything else (readme.html) is skipped. */
export const BATCH_FILES: readonly string[] = Object.freeze([
  "data_batch_1.bin",
  "data_batch_2.bin",
  "data_batch_3.bin",
  "data_batch_4.bin",
  "data_batch_5.bin",
  "test_batch.bin",
  "batches.meta.txt",
]);

// The few parts of tar-stream's (untyped) API that we use.
interface TarHeader {
  name: string;
  type: string | null;
}
interface TarEntry extends AsyncIterable<Uint8Array> {
  header: TarHeader;
}
interface TarExtract extends AsyncIterable<TarEntry> {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(error?: Error): void;
  readonly destroyed: boolean;
  once(event: "drain" | "close", listener: () => void): void;
  off(event: "drain" | "close", listener: () => void): void;
}
const tar = tarStream as unknown as { extract(): TarExtract };

/** Options for {@linkcode extractArchive}. */
export interface ExtractOptions {
  /** Expected md5 (hex) of the archive, checked before extracting; `null` skips the check. */
  md5: string | null;
  /** Called with the number of archive bytes read after each chunk (of the md5 pass when there is one). */
  onBytes?: (bytes: number) => void;
}

function basename(name: string): string {
  const parts = name.split("/").filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? "";
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) {
    off += await file.write(chunk.subarray(off));
  }
}

function waitDrain(extract: TarExtract): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      extract.off("drain", done);
      extract.off("close", done);
      resolve();
    };
    extract.once("drain", done);
    extract.once("close", done);
  });
}

async function writeEntry(entry: TarEntry, path: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, create: true, truncate: true });
  } catch (error) {
    throw fsError(error, "write", path);
  }
  try {
    for await (const chunk of entry) {
      try {
        await writeAll(file, chunk);
      } catch (error) {
        throw fsError(error, "write", path);
      }
    }
  } finally {
    file.close();
  }
}

function corrupt(
  archive: string,
  stage: "gzip" | "tar",
  cause: unknown,
): DataError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new DataError(
    "corrupt",
    `${archive} is not a valid ${
      stage === "gzip" ? "gzip file" : "tar archive"
    } ` +
      `(${detail}); it is probably truncated or damaged`,
    `delete it and download ${ARCHIVE_NAME} again`,
    { path: archive, cause },
  );
}

async function openArchive(archive: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(archive, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DataError(
        "missing",
        `archive ${archive} does not exist`,
        `check the path, or download ${ARCHIVE_NAME} again`,
        { path: archive, cause: error },
      );
    }
    throw fsError(error, "read", archive);
  }
}

/**
 * Streams `archive` through md5 and throws a `checksum`
 * {@linkcode DataError} unless it matches `md5` (hex, any case). Reads only:
 * call it before creating anything the archive would fill.
 */
export async function verifyArchive(
  archive: string,
  md5: string,
  onBytes?: (bytes: number) => void,
): Promise<void> {
  const file = await openArchive(archive);
  const hash = createHash("md5");
  try {
    // Reading to the end closes the file.
    for await (const chunk of file.readable) {
      hash.update(chunk);
      onBytes?.(chunk.length);
    }
  } catch (error) {
    throw fsError(error, "read", archive);
  }
  const actual = hash.digest("hex");
  if (actual !== md5.toLowerCase()) {
    throw new DataError(
      "checksum",
      `${archive} has md5 ${actual}, expected ${md5}`,
      `the file is damaged or not the official ${ARCHIVE_NAME}: delete it and download it again`,
      { path: archive },
    );
  }
}

/**
 * Extracts the CIFAR-10 batch files of `archive` into `destDir` (flat, by
 * base name, so entries cannot escape `destDir`). Returns the names found.
 * With `md5`, the whole archive is verified first ({@linkcode verifyArchive})
 * and nothing is written when it does not match. Throws a
 * {@linkcode DataError} for a missing or unreadable archive, a corrupt gzip
 * or tar stream, an md5 mismatch, or a write failure.
 */
export async function extractArchive(
  archive: string,
  destDir: string,
  options: ExtractOptions,
): Promise<string[]> {
  if (options.md5 !== null) {
    await verifyArchive(archive, options.md5, options.onBytes);
  }
  const file = await openArchive(archive);
  const tap = new TransformStream<
    Uint8Array<ArrayBuffer>,
    Uint8Array<ArrayBuffer>
  >({
    transform(chunk, controller) {
      if (options.md5 === null) options.onBytes?.(chunk.length);
      controller.enqueue(chunk);
    },
  });
  // Closing `file.readable` (by reading to the end or cancelling) closes the file.
  const reader = file.readable.pipeThrough(tap).pipeThrough(
    new DecompressionStream("gzip"),
  )
    .getReader();
  const extract = tar.extract();
  let feedError: unknown = undefined;
  const feed = (async (): Promise<void> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || extract.destroyed) break;
        if (!extract.write(value)) await waitDrain(extract);
      }
      if (!extract.destroyed) extract.end();
    } catch (error) {
      feedError = error;
      extract.destroy(
        error instanceof Error ? error : new Error(String(error)),
      );
    }
  })();

  const found: string[] = [];
  try {
    for await (const entry of extract) {
      const name = basename(entry.header.name);
      const wanted = entry.header.type === "file" && BATCH_FILES.includes(name);
      if (wanted && !found.includes(name)) {
        await writeEntry(entry, `${destDir}/${name}`);
        found.push(name);
      } else {
        for await (const _ of entry) { /* skip: drain the entry */ }
      }
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    await feed;
    if (feedError !== undefined) {
      if (feedError instanceof Deno.errors.PermissionDenied) {
        throw fsError(feedError, "read", archive);
      }
      throw corrupt(archive, "gzip", feedError);
    }
    if (error instanceof DataError) throw error;
    throw corrupt(archive, "tar", error);
  }
  await feed;
  if (feedError !== undefined) throw corrupt(archive, "gzip", feedError);
  return found;
}

/**
 * Re-labels an error about a file extracted into the temporary directory
 * `tmp` as one about `archive`, the file the user knows.
 */
export function aboutArchive(
  error: unknown,
  tmp: string,
  archive: string,
): unknown {
  if (!(error instanceof DataError) || error.code === "permission") {
    return error;
  }
  return new DataError(
    error.code,
    `${archive}: ${error.message.replaceAll(`${tmp}/`, "")}`,
    `the archive does not hold valid CIFAR-10 batches: use the official ${ARCHIVE_NAME}`,
    { path: archive, cause: error },
  );
}
