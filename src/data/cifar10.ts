/**
 * `loadCifar10`: the Deno counterpart of `keras.datasets.cifar10.load_data()`.
 *
 * Sources, first found wins: an explicit directory, env `CIFAR10_DIR`, the
 * cache, an archive given as a path (or left in the cache directory), and a
 * download. Archives are extracted into a temporary directory inside the
 * cache, fully checked by loading them, and only then renamed into place, so
 * an interruption never leaves a cache that later loads half.
 *
 * @module
 */

import {
  aboutArchive,
  ARCHIVE_NAME,
  extractArchive,
  OFFICIAL_MD5,
  verifyArchive,
} from "./archive.ts";
import { cacheDirError, ensureCacheDir } from "./cache_dir.ts";
import {
  classNamesFor,
  isLang,
  type Lang,
  parseBatchesMeta,
} from "./classes.ts";
import { downloadFile } from "./download.ts";
import { DataError, fsError } from "./errors.ts";
import { countRecords, readBatchFiles, RECORD_BYTES } from "./format.ts";
import type { ImageSet } from "./image_set.ts";
import {
  BATCHES_DIR,
  defaultCacheDir,
  exists,
  findLayout,
  type Layout,
  readEnv,
  sweepStale,
  TEST_FILE,
  TRAIN_FILES,
} from "./layout.ts";
import { createProgress, type Progress } from "../util/progress.ts";

/** The official download address. */
export const OFFICIAL_URL =
  "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/** Options for {@linkcode loadCifar10}; all are optional. */
export interface LoadCifar10Options {
  /** A directory in the `cifar-10-batches-bin` layout (or its parent). Tried first. */
  dir?: string;
  /** Path of `cifar-10-binary.tar.gz`, used when no directory or cache has the data. */
  archive?: string;
  /** Cache directory; default `$XDG_CACHE_HOME/simdnet` or `~/.cache/simdnet`. */
  cacheDir?: string;
  /** Download address; default {@linkcode OFFICIAL_URL}. */
  url?: string;
  /** Expected md5 of the archive; default the official one; `null` skips the check. */
  md5?: string | null;
  /** Allow downloading when nothing else is found. Default true. */
  download?: boolean;
  /** Look at env `CIFAR10_DIR`. Default true. */
  useEnv?: boolean;
  /** Language of `classNames`. Default `en`. */
  lang?: Lang;
  /** Load at most this many images per set, for quick runs. */
  limit?: number;
  /** Show progress bars on stderr; default only when stderr is a terminal. */
  progress?: boolean;
  /** Receives notices such as "no test set"; default: printed once to stderr. */
  onWarning?: (message: string) => void;
  /** Abort a download that stalls this long. Default 60 s. */
  idleTimeoutMs?: number;
}

/** Where the data came from. */
export interface Cifar10Source {
  /** `dir` (option), `env` (CIFAR10_DIR), `cache`, `archive` (given or left in the cache), `download`. */
  kind: "dir" | "env" | "cache" | "archive" | "download";
  /** The directory the batches were read from (for archives: the cache entry made). */
  path: string;
}

/** What {@linkcode loadCifar10} returns. */
export interface Cifar10Data {
  /** The 50,000 training images, or `null` when the source has no training batches. */
  train: ImageSet | null;
  /** The 10,000 test images, or `null` when the source has no `test_batch.bin`. */
  test: ImageSet | null;
  /** The ten class names in the chosen language, in label order. */
  classNames: string[];
  /** Where the data came from. */
  source: Cifar10Source;
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.error(`warning: ${message}`);
}

interface Context {
  options: LoadCifar10Options;
  warn: (message: string) => void;
}

function bar(ctx: Context, label: string, total: number | undefined): Progress {
  return createProgress({
    label,
    total,
    unit: "bytes",
    enabled: ctx.options.progress,
  });
}

async function readMeta(
  layout: Layout,
  ctx: Context,
): Promise<string[] | null> {
  if (layout.meta === null) return null;
  let text: string;
  try {
    text = await Deno.readTextFile(layout.meta);
  } catch (error) {
    throw fsError(error, "read", layout.meta);
  }
  const names = parseBatchesMeta(text);
  if (names === null) {
    ctx.warn(
      `${layout.meta} does not hold ten class names; using the standard ones`,
    );
  }
  return names;
}

async function loadLayout(
  layout: Layout,
  ctx: Context,
  source: Cifar10Source,
): Promise<Cifar10Data> {
  const limit = ctx.options.limit;
  let bytes = 0;
  const trainRecords = layout.train === null
    ? 0
    : await sumRecords(layout.train);
  const testRecords = layout.test === null
    ? 0
    : await countRecords(layout.test);
  for (const records of [trainRecords, testRecords]) {
    bytes += Math.min(records, limit ?? records) * RECORD_BYTES;
  }
  const progress = bar(ctx, "load", bytes);
  let train: ImageSet | null = null;
  let test: ImageSet | null = null;
  try {
    const read = { limit, onBytes: (n: number) => progress.add(n) };
    if (layout.train !== null) train = await readBatchFiles(layout.train, read);
    if (layout.test !== null) test = await readBatchFiles([layout.test], read);
  } finally {
    progress.finish();
  }
  // Name the source, not layout.dir: archives are loaded from a temporary directory.
  if (test === null) {
    ctx.warn(
      `no test set: ${source.path} has no ${TEST_FILE}; hold out a validation split instead`,
    );
  }
  if (train === null) {
    ctx.warn(
      `no training set: ${source.path} has only ${TEST_FILE} (enough for evaluation)`,
    );
  }
  const english = await readMeta(layout, ctx);
  return {
    train,
    test,
    classNames: classNamesFor(ctx.options.lang ?? "en", english),
    source,
  };
}

async function sumRecords(paths: readonly string[]): Promise<number> {
  let total = 0;
  for (const path of paths) total += await countRecords(path);
  return total;
}

async function installArchive(
  archive: string,
  md5: string | null,
  cacheDir: string,
  ctx: Context,
  kind: "archive" | "download",
): Promise<Cifar10Data> {
  let size: number | undefined;
  try {
    size = (await Deno.stat(archive)).size;
  } catch {
    size = undefined; // verifyArchive and extractArchive name a missing archive.
  }
  if (md5 !== null) {
    // Before the cache is touched: a bad archive must leave nothing behind.
    const progress = bar(ctx, "verify", size);
    try {
      await verifyArchive(archive, md5, (n) => progress.add(n));
    } finally {
      progress.finish();
    }
  }
  const target = `${cacheDir}/${BATCHES_DIR}`;
  await ensureCacheDir(cacheDir);
  await sweepStale(cacheDir);
  let tmp: string;
  try {
    tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: ".extract-" });
  } catch (error) {
    throw await cacheDirError(error, cacheDir);
  }
  try {
    const progress = bar(ctx, "extract", size);
    let found: string[];
    try {
      found = await extractArchive(archive, tmp, {
        md5: null,
        onBytes: (n) => progress.add(n),
      });
    } finally {
      progress.finish();
    }
    if (!found.some((name) => name.endsWith(".bin"))) {
      throw new DataError(
        "missing",
        `${archive} holds no CIFAR-10 batch files (${
          TRAIN_FILES[0]
        } .. ${TEST_FILE})`,
        `use the official ${ARCHIVE_NAME} (the binary version, not the python one)`,
        { path: archive },
      );
    }
    let data: Cifar10Data;
    try {
      data = await loadLayout(await findLayout(tmp, archive), ctx, {
        kind,
        path: target,
      });
    } catch (error) {
      throw aboutArchive(error, tmp, archive);
    }
    try {
      await Deno.rename(tmp, target);
    } catch (error) {
      // Another process may have installed the same data meanwhile; that is fine.
      if (!(await exists(target))) throw fsError(error, "write", target);
    }
    return data;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function checkOptions(options: LoadCifar10Options): void {
  if (options.lang !== undefined && !isLang(options.lang)) {
    throw new DataError(
      "usage",
      `unknown language ${JSON.stringify(options.lang)} for class names`,
      'use "en" or "ja"',
    );
  }
  const { limit } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new DataError(
      "usage",
      `limit must be a whole number >= 1, got ${limit}`,
      "pass e.g. limit 1000 for a quick run, or leave it out to load everything",
    );
  }
}

/**
 * Loads CIFAR-10 like `keras.datasets.cifar10.load_data()`: images stay
 * uint8 HWC in an {@linkcode ImageSet} of shape [32, 32, 3] (150 MB for the
 * training set); convert per batch with `toFloatBatch`. Throws a {@linkcode DataError} with a hint for every
 * expected failure.
 *
 * @example
 * ```ts
 * const { train, test, classNames } = await loadCifar10({ dir: "./cifar-10-batches-bin" });
 * ```
 */
export async function loadCifar10(
  options: LoadCifar10Options = {},
): Promise<Cifar10Data> {
  checkOptions(options);
  const ctx: Context = { options, warn: options.onWarning ?? warnOnce };
  if (options.dir !== undefined) {
    const layout = await findLayout(options.dir, "the data directory option");
    return loadLayout(layout, ctx, { kind: "dir", path: layout.dir });
  }
  if (options.useEnv !== false) {
    const envDir = readEnv("CIFAR10_DIR");
    if (envDir !== undefined) {
      const layout = await findLayout(envDir, "env CIFAR10_DIR");
      return loadLayout(layout, ctx, { kind: "env", path: layout.dir });
    }
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const cached = `${cacheDir}/${BATCHES_DIR}`;
  if (await exists(cached)) {
    try {
      return await loadLayout(await findLayout(cached, "the cache"), ctx, {
        kind: "cache",
        path: cached,
      });
    } catch (error) {
      if (!(error instanceof DataError) || error.code === "permission") {
        throw error;
      }
      throw new DataError(
        error.code,
        error.message,
        `delete ${cached} to rebuild the cache`,
        {
          path: error.path ?? cached,
          cause: error,
        },
      );
    }
  }
  const md5 = options.md5 === undefined ? OFFICIAL_MD5 : options.md5;
  const leftArchive = `${cacheDir}/${ARCHIVE_NAME}`;
  const archive = options.archive ??
    ((await exists(leftArchive)) ? leftArchive : undefined);
  if (archive !== undefined) {
    return installArchive(archive, md5, cacheDir, ctx, "archive");
  }

  const url = options.url ?? OFFICIAL_URL;
  const manualHint = `download ${url} by hand and save it as ${leftArchive} ` +
    `(or pass it with --archive PATH), or extract it and pass --data DIR`;
  if (options.download === false) {
    throw new DataError(
      "missing",
      `no CIFAR-10 data found (no data directory, no CIFAR10_DIR, nothing in ${cacheDir}) ` +
        "and downloading is off",
      manualHint,
      { path: cacheDir },
    );
  }
  return await download(url, md5, cacheDir, manualHint, ctx);
}

/**
 * Streams `url` into a temporary file in the cache while hashing it, renames
 * it to the archive name only once the md5 matched, then extracts it.
 */
async function download(
  url: string,
  md5: string | null,
  cacheDir: string,
  manualHint: string,
  ctx: Context,
): Promise<Cifar10Data> {
  const leftArchive = `${cacheDir}/${ARCHIVE_NAME}`;
  await ensureCacheDir(cacheDir);
  await sweepStale(cacheDir);
  // The bar is made once the server has told the size.
  const bars: { download?: Progress } = {};
  try {
    await downloadFile(url, leftArchive, {
      md5,
      manualHint,
      idleTimeoutMs: ctx.options.idleTimeoutMs,
      onStart: (total) => {
        bars.download = bar(ctx, "download", total);
      },
      onBytes: (n) => bars.download?.add(n),
    });
  } finally {
    bars.download?.finish();
  }
  // Verified while downloading, so no second md5 pass.
  const data = await installArchive(
    leftArchive,
    null,
    cacheDir,
    ctx,
    "download",
  );
  await Deno.remove(leftArchive).catch(() => {});
  return data;
}
