/**
 * Atomic file replacement, the one implementation behind model saving,
 * checkpoints (with the previous version kept as a backup) and the train
 * command's history file, and removal of the temporary files a killed run
 * leaves.
 *
 * Temporary files are named `.<name>.tmp-<pid>-<8 hex>` next to their
 * target, so {@linkcode removeStaleTemps} finds those of every file written
 * here.
 *
 * @module
 */

/** A temporary file of an atomic write: `.<name>.tmp-<pid>-<8 hex>`. */
const TEMP = /^\.(.+)\.tmp-\d+-[0-9a-f]{8}$/;

/** The directory part of `path` (with its slash; "" for a bare name) and its base name. */
export function splitPath(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf("/");
  return slash >= 0
    ? { dir: path.slice(0, slash + 1), base: path.slice(slash + 1) }
    : { dir: "", base: path };
}

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Rename the current file to this path first, keeping it as a backup. */
  backup?: string;
}

/**
 * Replaces `path` with `bytes` atomically: writes a temporary file in the
 * same directory, syncs it, then renames it over `path`, so readers see the
 * old file or the new one, never half of one. With `backup`, the current
 * `path` is first renamed to `backup`, so a crash between the two renames
 * leaves the old file as `backup` and the new one complete in its
 * temporary file (removed at the next start). The temporary file is
 * removed when anything fails.
 *
 * @example
 * ```ts ignore
 * await writeFileAtomic("run/checkpoint.ckpt", bytes, {
 *   backup: "run/checkpoint.prev.ckpt",
 * });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const { backup } = options;
  const { dir, base } = splitPath(path);
  const tmp = `${dir}.${base}.tmp-${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let done = 0;
      while (done < bytes.length) {
        done += await file.write(bytes.subarray(done));
      }
      await file.sync();
    } finally {
      file.close();
    }
    if (backup !== undefined) {
      await Deno.rename(path, backup).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * Removes the temporary files of atomic writes left in `dir` by a killed
 * run: those of the files named in `names`, or all of them when `names` is
 * omitted. Returns the names removed. A missing `dir` removes nothing.
 *
 * Two runs writing into one directory at the same time are not supported
 * (their checkpoints would overwrite each other anyway), so every temporary
 * file found at start belongs to a dead run.
 */
export async function removeStaleTemps(
  dir: string,
  names?: readonly string[],
): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir || ".")) {
      const m = TEMP.exec(entry.name);
      if (!entry.isFile || !m || (names && !names.includes(m[1]!))) continue;
      await Deno.remove(`${dir || "."}/${entry.name}`).catch(() => {});
      removed.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed.sort();
}
