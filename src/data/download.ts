/**
 * Downloads a file to a temporary name next to its destination, checks its
 * size and md5 while it streams, and only then renames it into place, so a
 * cut connection never leaves a file that looks complete.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DataError, fsError } from "./errors.ts";

/** Options for {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Expected md5 (hex); `null` skips the check. */
  md5: string | null;
  /** Extra advice for network failures: where to get the file by hand. */
  manualHint: string;
  /** Called once with the size announced by the server (if any), then with byte counts. */
  onStart?: (total: number | undefined) => void;
  /** Called with the number of bytes received after each chunk. */
  onBytes?: (bytes: number) => void;
  /** Give up when no data arrives for this long. Default 60 s. */
  idleTimeoutMs?: number;
}

function networkError(
  message: string,
  hint: string,
  cause?: unknown,
): DataError {
  return new DataError("network", message, hint, { cause });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch wraps the useful part ("Connection refused", "dns error") in `cause`.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) {
    off += await file.write(chunk.subarray(off));
  }
}

/**
 * Downloads `url` to `dest`. On any failure the partial file is removed and a
 * {@linkcode DataError} says what happened: `network` (no connection, HTTP
 * error, connection dropped, stalled), `checksum`, or `permission`.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions,
): Promise<void> {
  const idleMs = options.idleTimeoutMs ?? 60_000;
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(
      () => abort.abort(new Error(`no data for ${idleMs / 1000} s`)),
      idleMs,
    );
  };
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      throw new DataError(
        "usage",
        `invalid download URL ${url}`,
        "pass a full http(s) URL",
      );
    }
  })();

  let response: Response;
  try {
    arm();
    response = await fetch(url, { signal: abort.signal });
  } catch (error) {
    clearTimeout(timer);
    if (error instanceof Deno.errors.NotCapable) {
      throw new DataError(
        "permission",
        `no permission to connect to ${host}`,
        `run Deno with --allow-net=${host}, or: ${options.manualHint}`,
        { cause: error },
      );
    }
    throw networkError(
      `could not download ${url} (${describe(error)})`,
      `check the network, or ${options.manualHint}`,
      error,
    );
  }
  if (!response.ok || response.body === null) {
    clearTimeout(timer);
    await response.body?.cancel();
    throw networkError(
      `could not download ${url}: the server answered ${response.status} ${response.statusText}`,
      options.manualHint,
    );
  }
  const lengthHeader = response.headers.get("content-length");
  const total = lengthHeader === null ? undefined : Number(lengthHeader);
  options.onStart?.(total);

  const dir = dest.slice(0, Math.max(0, dest.lastIndexOf("/"))) || ".";
  const base = dest.slice(dest.lastIndexOf("/") + 1);
  let part: string;
  let file: Deno.FsFile;
  try {
    part = await Deno.makeTempFile({ dir, prefix: `.${base}.part-` });
    file = await Deno.open(part, { write: true, truncate: true });
  } catch (error) {
    clearTimeout(timer);
    await response.body.cancel();
    throw fsError(error, "write", dir);
  }

  const hash = createHash("md5");
  let received = 0;
  let ok = false;
  try {
    try {
      for await (const chunk of response.body) {
        arm();
        hash.update(chunk);
        try {
          await writeAll(file, chunk);
        } catch (error) {
          throw fsError(error, "write", part);
        }
        received += chunk.length;
        options.onBytes?.(chunk.length);
      }
    } catch (error) {
      if (error instanceof DataError) throw error;
      const why = abort.signal.aborted
        ? describe(abort.signal.reason)
        : describe(error);
      throw networkError(
        `the download of ${url} broke off after ${received} bytes` +
          (total === undefined ? "" : ` of ${total}`) + ` (${why})`,
        `try again later, or ${options.manualHint}`,
        error,
      );
    } finally {
      clearTimeout(timer);
      file.close();
    }
    if (total !== undefined && Number.isFinite(total) && received !== total) {
      throw networkError(
        `the download of ${url} ended after ${received} of ${total} bytes`,
        `try again later, or ${options.manualHint}`,
      );
    }
    if (options.md5 !== null) {
      const actual = hash.digest("hex");
      if (actual !== options.md5.toLowerCase()) {
        throw new DataError(
          "checksum",
          `the file downloaded from ${url} has md5 ${actual}, expected ${options.md5}`,
          `it was damaged on the way or the server sent another file; try again, or ${options.manualHint}`,
        );
      }
    }
    try {
      await Deno.rename(part, dest);
    } catch (error) {
      throw fsError(error, "write", dest);
    }
    ok = true;
  } finally {
    if (!ok) await Deno.remove(part).catch(() => {});
  }
}
