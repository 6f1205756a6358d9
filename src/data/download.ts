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

/** Aborts `abort` when `arm` is not called again within `idleMs`. */
function idleWatch(abort: AbortController, idleMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    arm(): void {
      clearTimeout(timer);
      timer = setTimeout(
        () => abort.abort(new Error(`no data for ${idleMs / 1000} s`)),
        idleMs,
      );
    },
    stop(): void {
      clearTimeout(timer);
    },
  };
}

type IdleWatch = ReturnType<typeof idleWatch>;

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    throw new DataError(
      "usage",
      `invalid download URL ${url}`,
      "pass a full http(s) URL",
    );
  }
}

/** The server's answer with a body, or the error that says why not. */
async function connect(
  url: string,
  abort: AbortController,
  idle: IdleWatch,
  manualHint: string,
): Promise<Response & { body: ReadableStream<Uint8Array> }> {
  const host = hostOf(url);
  let response: Response;
  try {
    idle.arm();
    response = await fetch(url, { signal: abort.signal });
  } catch (error) {
    idle.stop();
    if (error instanceof Deno.errors.NotCapable) {
      throw new DataError(
        "permission",
        `no permission to connect to ${host}`,
        `run Deno with --allow-net=${host}, or: ${manualHint}`,
        { cause: error },
      );
    }
    throw networkError(
      `could not download ${url} (${describe(error)})`,
      `check the network, or ${manualHint}`,
      error,
    );
  }
  if (!response.ok || response.body === null) {
    idle.stop();
    await response.body?.cancel();
    throw networkError(
      `could not download ${url}: the server answered ${response.status} ${response.statusText}`,
      manualHint,
    );
  }
  return response as Response & { body: ReadableStream<Uint8Array> };
}

/**
 * Streams `body` into `file` (the part at `part`), hashing as it goes;
 * returns the byte count and the md5. Closes the file and stops `idle`.
 */
async function receive(
  body: ReadableStream<Uint8Array>,
  file: Deno.FsFile,
  part: string,
  idle: IdleWatch,
  abort: AbortController,
  failure: (received: number, why: string, error: unknown) => DataError,
  onBytes?: (bytes: number) => void,
): Promise<{ received: number; md5: string }> {
  const hash = createHash("md5");
  let received = 0;
  try {
    for await (const chunk of body) {
      idle.arm();
      hash.update(chunk);
      try {
        await writeAll(file, chunk);
      } catch (error) {
        throw fsError(error, "write", part);
      }
      received += chunk.length;
      onBytes?.(chunk.length);
    }
  } catch (error) {
    if (error instanceof DataError) throw error;
    const why = describe(abort.signal.aborted ? abort.signal.reason : error);
    throw failure(received, why, error);
  } finally {
    idle.stop();
    file.close();
  }
  return { received, md5: hash.digest("hex") };
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
  const hint = options.manualHint;
  const abort = new AbortController();
  const idle = idleWatch(abort, options.idleTimeoutMs ?? 60_000);
  const response = await connect(url, abort, idle, hint);
  const lengthHeader = response.headers.get("content-length");
  const total = lengthHeader === null ? undefined : Number(lengthHeader);
  options.onStart?.(total);
  const of = total === undefined ? "" : ` of ${total}`;

  const dir = dest.slice(0, Math.max(0, dest.lastIndexOf("/"))) || ".";
  const base = dest.slice(dest.lastIndexOf("/") + 1);
  let part: string;
  let file: Deno.FsFile;
  try {
    part = await Deno.makeTempFile({ dir, prefix: `.${base}.part-` });
    file = await Deno.open(part, { write: true, truncate: true });
  } catch (error) {
    idle.stop();
    await response.body.cancel();
    throw fsError(error, "write", dir);
  }

  let ok = false;
  try {
    const { received, md5 } = await receive(
      response.body,
      file,
      part,
      idle,
      abort,
      (received, why, error) =>
        networkError(
          `the download of ${url} broke off after ${received} bytes${of} (${why})`,
          `try again later, or ${hint}`,
          error,
        ),
      options.onBytes,
    );
    if (total !== undefined && Number.isFinite(total) && received !== total) {
      throw networkError(
        `the download of ${url} ended after ${received}${of} bytes`,
        `try again later, or ${hint}`,
      );
    }
    if (options.md5 !== null && md5 !== options.md5.toLowerCase()) {
      throw new DataError(
        "checksum",
        `the file downloaded from ${url} has md5 ${md5}, expected ${options.md5}`,
        `it was damaged on the way or the server sent another file; try again, or ${hint}`,
      );
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
