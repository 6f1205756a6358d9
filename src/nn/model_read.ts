/**
 * Opening and reading a model's files with their size known before the
 * bytes are read: `Deno.stat` on disk, `Content-Length` over http, and a
 * hard cap on what is read either way (a file that grows, or a server that
 * sends more than it announced, is cut off, not buffered).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { confinedRealPath } from "./model_paths.ts";
import { ModelFormatError } from "./model_topology.ts";

/** A file opened for reading: its size if known, and its bytes on demand. */
export interface OpenedFile {
  /** How messages name it. */
  shown: string;
  /** Where it was read from, after redirects. */
  url: URL;
  /** Size from `stat` or `Content-Length`; null when the server sent none. */
  size: number | null;
  /** Reads the bytes, failing beyond `max`. */
  read(max: number): Promise<Uint8Array>;
  /** Releases it unread. */
  cancel(): Promise<void>;
}

/** What a file is, for messages: `model` or `weight file`. */
export type FileRole = "model" | "weight file";

function tooBig(role: FileRole, shown: string, max: number): ModelFormatError {
  return new ModelFormatError(
    `${role} ${shown} is larger than the ${max} bytes expected of it`,
  );
}

async function readExactly(
  path: string,
  size: number,
  role: FileRole,
  shown: string,
): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const n = await file.read(out.subarray(at));
      if (n === null) break;
      at += n;
    }
    const more = await file.read(new Uint8Array(1));
    if (at !== size || (more !== null && more > 0)) {
      throw new ModelFormatError(
        `${role} ${shown} changed size while it was read; load it again`,
      );
    }
    return out;
  } finally {
    file.close();
  }
}

/**
 * Opens a file on disk without reading it: it must be a regular file and,
 * for weight files (`modelUrl` given), really inside the model's folder.
 */
export async function openLocal(
  url: URL,
  role: FileRole,
  shown: string,
  modelUrl?: URL,
): Promise<OpenedFile> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModelFormatError(`${role} ${shown} does not exist`);
    }
    throw error;
  }
  if (info.isDirectory) {
    throw new ModelFormatError(
      role === "model"
        ? `no model at ${shown}: it is a directory; pass the directory that holds model.json`
        : `weight file ${shown} is a directory, not a file; the manifest's ` +
          `paths must name the shard files (e.g. group1-shard1of1.bin)`,
    );
  }
  if (!info.isFile) {
    throw new ModelFormatError(`${role} ${shown} is not a regular file`);
  }
  const path = modelUrl
    ? await confinedRealPath(url, modelUrl, shown)
    : fileURLToPath(url);
  const size = info.size;
  return {
    shown,
    url,
    size,
    read: (max) =>
      size > max
        ? Promise.reject(tooBig(role, shown, max))
        : readExactly(path, size, role, shown),
    cancel: () => Promise.resolve(),
  };
}

async function readBody(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  role: FileRole,
  shown: string,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      throw tooBig(role, shown, max);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Requests a file over http(s) and waits for its headers only. Redirects
 * of weight files are refused, not followed: they would leave the model's
 * folder (another origin, an internal host) after the path check. The
 * user's own `model.json` URL may redirect; its final URL is the folder.
 */
export async function openRemote(
  url: URL,
  role: FileRole,
): Promise<OpenedFile> {
  const res = await fetch(url, {
    redirect: role === "model" ? "follow" : "manual",
  });
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    const to = res.headers.get("location") ?? "elsewhere";
    throw new ModelFormatError(
      `weight file ${url.href} redirects to ${to.slice(0, 200)}; weight ` +
        `files are read only from the model's folder, so download the model ` +
        `and load it from disk`,
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ModelFormatError(
      `cannot load ${role} ${url.href}: HTTP ${res.status}`,
    );
  }
  const header = res.headers.get("content-length");
  const size = header !== null && /^\d{1,15}$/.test(header)
    ? Number(header)
    : null;
  const final = role === "model" && res.url ? new URL(res.url) : url;
  const shown = final.href;
  return {
    shown,
    url: final,
    size,
    read: async (max) => {
      if (size !== null && size > max) {
        await res.body?.cancel();
        throw tooBig(role, shown, max);
      }
      return await readBody(res.body, max, role, shown);
    },
    cancel: async () => {
      await res.body?.cancel();
    },
  };
}
