/**
 * Creating the cache directory, with one-line errors that name it and say how
 * to choose another when the file system refuses.
 *
 * Exit codes follow `src/cli/exit_codes.ts`: a refused write (Deno's sandbox,
 * EACCES, EPERM, a read-only file system, or a pseudo file system such as
 * `/proc` where `mkdir -p` answers ENOENT) is `permission` (4); a regular file
 * where a directory must be is `format` (2), as for `--data` pointing at a file.
 *
 * @module
 */

import { DataError, parseRefusal } from "./errors.ts";

/** How to pick another cache, valid for every CLI that loads data. */
export const CACHE_HINT =
  "choose a writable cache with env XDG_CACHE_HOME (the cache is $XDG_CACHE_HOME/simdnet) " +
  "or `deno task data --cache DIR`, or pass extracted batches with --data DIR";

function osMessage(error: unknown): string {
  return error instanceof Error
    ? error.message.replace(/:\s*\w+ '.*'$/, "")
    : String(error);
}

/** The nearest ancestor of `path` (or `path`) that is not a directory, if any. */
async function fileInTheWay(path: string): Promise<string | undefined> {
  for (let p = path; p.includes("/") && p !== "/"; p = parent(p)) {
    try {
      if (!(await Deno.stat(p)).isDirectory) return p;
    } catch {
      // Absent or unreadable: look further up.
    }
  }
  return undefined;
}

function parent(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

/**
 * Turns an error from creating `cacheDir` (or a file in it) into a
 * {@linkcode DataError} naming the directory and the fix; other errors are
 * returned as they are.
 */
export async function cacheDirError(
  error: unknown,
  cacheDir: string,
): Promise<unknown> {
  if (error instanceof DataError) return error;
  const options = { path: cacheDir, cause: error };
  if (error instanceof Deno.errors.NotCapable) {
    return new DataError(
      "permission",
      `no permission to write the cache directory ${cacheDir}`,
      `run Deno with ${
        parseRefusal(error)?.flag ?? `--allow-write=${cacheDir}`
      }, or ${CACHE_HINT}`,
      options,
    );
  }
  if (error instanceof Deno.errors.NotADirectory) {
    const file = await fileInTheWay(cacheDir);
    return new DataError(
      "format",
      `cannot create the cache directory ${cacheDir}: ` +
        `${file ?? "a parent"} is a file, not a directory`,
      CACHE_HINT,
      options,
    );
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (
    error instanceof Deno.errors.PermissionDenied || code === "EROFS" ||
    error instanceof Deno.errors.NotFound
  ) {
    return new DataError(
      "permission",
      `cannot write the cache directory ${cacheDir}: the file system refuses (${
        osMessage(error)
      })`,
      CACHE_HINT,
      options,
    );
  }
  return error;
}

/** Creates `cacheDir` (and its parents), or throws what {@linkcode cacheDirError} makes. */
export async function ensureCacheDir(cacheDir: string): Promise<void> {
  try {
    await Deno.mkdir(cacheDir, { recursive: true });
  } catch (error) {
    throw await cacheDirError(error, cacheDir);
  }
}
