/**
 * What the bundle gives for `node:module` and `node:url`: stand-ins that
 * fail with a message naming what to do instead. The bundle path never
 * calls them (the tfjs binaries are embedded, models come as bytes or
 * http(s) URLs); `file:` URLs need the unbundled module under Deno.
 *
 * Only `bundle/build.ts` maps the specifiers here.
 *
 * @module
 */

function unavailable(what: string): never {
  throw new Error(
    `simdnet bundle: ${what} needs a file system; give bytes or an http(s) URL, or import simdnet's source under Deno`,
  );
}

/** `node:module`'s `createRequire`: unavailable in the bundle. */
export function createRequire(_from: string | URL): never {
  return unavailable("resolving npm files");
}

/** `node:url`'s `fileURLToPath`: unavailable in the bundle. */
export function fileURLToPath(_url: string | URL): never {
  return unavailable("a file: URL");
}

/** `node:url`'s `pathToFileURL`: unavailable in the bundle. */
export function pathToFileURL(_path: string): never {
  return unavailable("a file path");
}
