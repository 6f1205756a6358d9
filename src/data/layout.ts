/**
 * Finding CIFAR-10 batch files in a directory laid out like the official
 * `cifar-10-batches-bin`, and where the cache lives.
 *
 * @module
 */

import { DataError, fsError } from "./errors.ts";

/** Names of the five training batches, in order. */
export const TRAIN_FILES: readonly string[] = Object.freeze([
  "data_batch_1.bin",
  "data_batch_2.bin",
  "data_batch_3.bin",
  "data_batch_4.bin",
  "data_batch_5.bin",
]);
/** Name of the test batch. */
export const TEST_FILE = "test_batch.bin";
/** Name of the class-name file. */
export const META_FILE = "batches.meta.txt";
/** Name of the directory inside the official archive (and in the cache). */
export const BATCHES_DIR = "cifar-10-batches-bin";

/** Which batch files a directory holds. */
export interface Layout {
  /** The directory the files are in. */
  dir: string;
  /** The five training batch paths, or `null` when there are none. */
  train: string[] | null;
  /** The test batch path, or `null` when it is absent. */
  test: string | null;
  /** `batches.meta.txt`, or `null` when it is absent. */
  meta: string | null;
}

/** Whether a stat error means "nothing there": ENOENT, or a parent that is a file (ENOTDIR). */
export function isAbsent(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.NotADirectory;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (isAbsent(error)) return false;
    throw fsError(error, "read", path);
  }
}

/** Whether anything exists at `path` (a file in the way counts as nothing). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (isAbsent(error)) return false;
    throw fsError(error, "read", path);
  }
}

async function isDirectory(path: string): Promise<boolean | null> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (isAbsent(error)) return null;
    throw fsError(error, "read", path);
  }
}

/**
 * Looks at `dir` (or its `cifar-10-batches-bin` subdirectory when `dir` is
 * the folder the archive was extracted in) and returns its batch files.
 * Throws a {@linkcode DataError} that names the directory when it is missing,
 * has no batch files, or has only some of the five training batches.
 * `origin` says where `dir` came from, for the message (e.g. "--data").
 */
export async function findLayout(dir: string, origin: string): Promise<Layout> {
  const kind = await isDirectory(dir);
  if (kind === null) {
    throw new DataError(
      "missing",
      `the data directory ${dir} (from ${origin}) does not exist`,
      `pass the ${BATCHES_DIR} directory extracted from cifar-10-binary.tar.gz`,
      { path: dir },
    );
  }
  if (!kind) {
    throw new DataError(
      "format",
      `${dir} (from ${origin}) is a file, not a directory`,
      dir.endsWith(".tar.gz")
        ? "pass an archive with --archive (or the archive option), not as a data directory"
        : `pass the ${BATCHES_DIR} directory extracted from cifar-10-binary.tar.gz`,
      { path: dir },
    );
  }
  const present: string[] = [];
  for (const name of [...TRAIN_FILES, TEST_FILE]) {
    if (await isFile(`${dir}/${name}`)) present.push(name);
  }
  if (present.length === 0) {
    const nested = `${dir}/${BATCHES_DIR}`;
    if (await isDirectory(nested)) return findLayout(nested, origin);
    throw new DataError(
      "missing",
      `${dir} (from ${origin}) holds no CIFAR-10 batch files ` +
        `(${TRAIN_FILES[0]} .. ${TRAIN_FILES[4]}, ${TEST_FILE})`,
      `pass the ${BATCHES_DIR} directory extracted from cifar-10-binary.tar.gz`,
      { path: dir },
    );
  }
  const trainPresent = TRAIN_FILES.filter((name) => present.includes(name));
  if (trainPresent.length > 0 && trainPresent.length < TRAIN_FILES.length) {
    const missing = TRAIN_FILES.filter((name) => !present.includes(name));
    throw new DataError(
      "missing",
      `${dir} holds ${trainPresent.join(", ")} but not ${missing.join(", ")}`,
      "copy the missing training batches from cifar-10-binary.tar.gz, " +
        `or remove the others to use only ${TEST_FILE}`,
      { path: `${dir}/${missing[0]}` },
    );
  }
  return {
    dir,
    train: trainPresent.length > 0
      ? TRAIN_FILES.map((name) => `${dir}/${name}`)
      : null,
    test: present.includes(TEST_FILE) ? `${dir}/${TEST_FILE}` : null,
    meta: (await isFile(`${dir}/${META_FILE}`)) ? `${dir}/${META_FILE}` : null,
  };
}

/** Reads an environment variable, turning a sandbox refusal into a clear error. */
export function readEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === undefined || value === "" ? undefined : value;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new DataError(
        "permission",
        `no permission to read the environment variable ${name}`,
        "run Deno with --allow-env=CIFAR10_DIR,XDG_CACHE_HOME,HOME, " +
          "or pass the data directory (--data DIR; in code, the dir option, or useEnv: false with cacheDir)",
        { cause: error },
      );
    }
    throw error;
  }
}

/** The cache directory: `$XDG_CACHE_HOME/simdnet`, else `~/.cache/simdnet`. */
export function defaultCacheDir(): string {
  const xdg = readEnv("XDG_CACHE_HOME");
  // The XDG spec says relative paths are invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith("/")) return `${xdg}/simdnet`;
  const home = readEnv("HOME");
  if (home === undefined) {
    throw new DataError(
      "usage",
      "cannot tell where the cache is: neither XDG_CACHE_HOME nor HOME is set",
      "set XDG_CACHE_HOME, or pass a data directory or a cache directory",
    );
  }
  return `${home}/.cache/simdnet`;
}

/** Prefixes of the temporary entries that downloads and extractions make in the cache. */
export const TEMP_PREFIXES: readonly string[] = Object.freeze([
  ".extract-",
  ".cifar-10-binary.tar.gz.part-",
]);

/**
 * Removes what interrupted runs left in `cacheDir` (temporary directories and
 * partial downloads) once older than `maxAgeMs` (default a day, far longer
 * than any live run touches them). Best effort: failures are ignored.
 */
export async function sweepStale(
  cacheDir: string,
  maxAgeMs = 86_400_000,
): Promise<void> {
  try {
    for await (const entry of Deno.readDir(cacheDir)) {
      if (!TEMP_PREFIXES.some((prefix) => entry.name.startsWith(prefix))) {
        continue;
      }
      const path = `${cacheDir}/${entry.name}`;
      const { mtime } = await Deno.lstat(path);
      if (mtime !== null && Date.now() - mtime.getTime() > maxAgeMs) {
        await Deno.remove(path, { recursive: true });
      }
    }
  } catch {
    // A cache we cannot list or clean is reported by the step that needs it.
  }
}
