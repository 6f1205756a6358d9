/**
 * Shared by the bundle tests: where `dist/simdnet.js` is, and a check that
 * it exists with a message naming the command that builds it.
 */

/** `dist/simdnet.js`, written by `deno task bundle`. */
export const BUNDLE = new URL("../dist/simdnet.js", import.meta.url);

/** The bundle's text; fails naming `deno task bundle` when it is missing. */
export async function bundleText(): Promise<string> {
  try {
    return await Deno.readTextFile(BUNDLE);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      "dist/simdnet.js is missing: run `deno task bundle` first (CI does)",
    );
  }
}
