/**
 * Where a model's files are: the `model.json` URL for a directory, a path
 * or a URL, and each weight file the manifest lists, resolved and confined
 * to the model's folder (a directory on disk, or an origin plus directory
 * over http) before anything is read.
 *
 * @module
 */

import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, ModelFormatError } from "./model_topology.ts";

/** Where a model is: a directory, a `model.json` path, or its URL. */
export type ModelSource = string | URL;

/** The resolved `model.json` of a {@linkcode ModelSource}. */
export interface ModelLocation {
  /** `model.json` as a `file:`, `http:` or `https:` URL. */
  url: URL;
  /** How messages name `model.json`: the path as given, or the URL. */
  display: string;
  /** True when the source was a URL rather than a path. */
  isUrl: boolean;
}

function isUrlText(s: string): boolean {
  // Two letters at least, so that a Windows drive (`C:`) stays a path.
  return /^[a-zA-Z][a-zA-Z\d+.-]+:/.test(s);
}

/** Resolves a directory, `model.json` path or URL to the URL of `model.json`. */
export function locateModel(source: ModelSource): ModelLocation {
  const text = String(source);
  if (source instanceof URL || isUrlText(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ModelFormatError(`${describe(text)} is not a valid URL`);
    }
    if (!["file:", "http:", "https:"].includes(url.protocol)) {
      throw new ModelFormatError(
        `cannot load a model from a ${url.protocol} URL; use a path, a ` +
          `file: URL or an http(s): URL`,
      );
    }
    if (!url.pathname.endsWith(".json")) {
      const dir = url.pathname.endsWith("/") ? url : new URL(url.href + "/");
      url = new URL("model.json", dir);
    }
    if (url.protocol === "file:") {
      try {
        // Throws for a remote host or an encoded "/": no local file.
        fileURLToPath(url);
      } catch {
        throw new ModelFormatError(
          `${url.href} names no local file; use a path or file:///...`,
        );
      }
    }
    return { url, display: url.href, isUrl: true };
  }
  const display = text.endsWith(".json")
    ? text
    : `${text.replace(/\/+$/, "")}/model.json`;
  return { url: pathToFileURL(display), display, isUrl: false };
}

/** The directory part of a URL path, with its trailing slash. */
function dirOf(pathname: string): string {
  return pathname.slice(0, pathname.lastIndexOf("/") + 1);
}

// Characters that change what a relative URL means or where a file path
// points on some platform: `\` is a separator for WHATWG special schemes and
// Windows, `:` starts a scheme or a drive, `?` and `#` end the path, `%`
// after decoding means double encoding (a server that decodes twice would
// see `..`), and control characters are never part of a shard name.
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\\:?#%\x00-\x1f\x7f]/;

function unsafe(path: string, why: string): ModelFormatError {
  return new ModelFormatError(
    `weight file path ${describe(path)} ${why}; weight paths must be file ` +
      `names inside the model's folder, relative to model.json (no "..", ` +
      `"\\", "%", ":" or absolute paths)`,
  );
}

/** Checks the text of a manifest path, raw and percent-decoded. */
function checkPathText(path: string): string {
  if (path.length === 0 || path.length > 512) {
    throw unsafe(path, "is empty or longer than 512 characters");
  }
  if (FORBIDDEN.test(path.replaceAll(/%[0-9a-fA-F]{2}/g, ""))) {
    throw unsafe(path, "holds a forbidden character");
  }
  // An encoded separator would be one segment in the URL but two on disk.
  if (/%2f/i.test(path)) throw unsafe(path, "holds an encoded '/'");
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw unsafe(path, "has a malformed %-escape");
  }
  if (FORBIDDEN.test(decoded)) {
    throw unsafe(path, "holds a forbidden character once decoded");
  }
  if (decoded.startsWith("/")) throw unsafe(path, "is absolute");
  if (decoded.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw unsafe(path, "has an empty, '.' or '..' segment");
  }
  return decoded;
}

/**
 * Resolves one manifest path against `model.json`'s URL and refuses it
 * unless it lands inside the model's folder: the same protocol, host and
 * port (no credentials, query or fragment), under `model.json`'s directory,
 * at exactly the decoded name. The text checks alone would do; the URL
 * check makes sure the WHATWG resolution the reader uses agrees.
 */
export function resolveWeightUrl(path: string, modelUrl: URL): URL {
  const decoded = checkPathText(path);
  const url = new URL(path, modelUrl);
  const dir = dirOf(modelUrl.pathname);
  let rest: string;
  try {
    rest = decodeURIComponent(url.pathname.slice(dir.length));
  } catch {
    throw unsafe(path, "has a malformed %-escape");
  }
  if (
    url.protocol !== modelUrl.protocol || url.host !== modelUrl.host ||
    url.username !== "" || url.password !== "" || url.search !== "" ||
    url.hash !== "" || !url.pathname.startsWith(dir) || rest !== decoded
  ) {
    throw unsafe(path, `resolves to ${url.href}, outside the model's folder`);
  }
  return url;
}

/**
 * Resolves every weight path of a manifest (see {@linkcode resolveWeightUrl})
 * and refuses duplicates, which would make the loader read one file many
 * times, and lists longer than `maxShards`.
 */
export function resolveWeightUrls(
  paths: readonly string[],
  modelUrl: URL,
  maxShards: number,
): URL[] {
  if (paths.length > maxShards) {
    throw new ModelFormatError(
      `the manifest lists ${paths.length} weight files, more than the limit ` +
        `of ${maxShards}`,
    );
  }
  const seen = new Set<string>();
  return paths.map((p) => {
    const url = resolveWeightUrl(p, modelUrl);
    if (seen.has(url.href)) {
      throw new ModelFormatError(
        `weight file ${describe(p)} is listed twice in the manifest; each ` +
          `shard is read once, in order`,
      );
    }
    seen.add(url.href);
    return url;
  });
}

/** How messages name a weight file: its path for `file:` URLs. */
export function displayUrl(url: URL, location: ModelLocation): string {
  if (url.protocol !== "file:" || location.isUrl) return url.href;
  const dir = location.display.slice(0, location.display.lastIndexOf("/") + 1);
  return dir + decodeURIComponent(url.pathname.slice(
    dirOf(location.url.pathname).length,
  ));
}

/**
 * The real path of a weight file on disk, refused when a symlink (of the
 * file or a folder on the way) leads outside the model's real folder.
 *
 * Symlinks out of the folder are refused rather than followed: a model
 * folder is often written by someone else (an upload, an unpacked archive),
 * and a link to `/etc/shadow` or another user's data would make the loader
 * read it and reveal its size or, through predictions, its bytes. Links
 * that stay inside the folder are fine. The checked real path is the one
 * that is then read, so swapping the link afterwards does not redirect the
 * read; swapping a parent directory in between remains possible, which
 * needs write access to the folder's parents anyway.
 */
export async function confinedRealPath(
  url: URL,
  modelUrl: URL,
  shown: string,
): Promise<string> {
  const dir = fileURLToPath(new URL(".", modelUrl));
  const [realDir, realFile] = await Promise.all([
    Deno.realPath(dir),
    Deno.realPath(fileURLToPath(url)),
  ]);
  const prefix = realDir.endsWith("/") ? realDir : `${realDir}/`;
  if (!realFile.startsWith(prefix)) {
    throw new ModelFormatError(
      `weight file ${shown} is a link to ${realFile}, outside the model's ` +
        `folder ${realDir}; copy the file into the folder instead of linking it`,
    );
  }
  return realFile;
}
