/**
 * The bundle's first module: hides `process` from tfjs-core while the
 * bundle's modules evaluate, and gives it back with
 * {@linkcode restoreNodeGlobals} once they have.
 *
 * tfjs-core takes its Node platform when it sees `process.versions.node`,
 * which Deno has, and that platform needs Node's `util` module, which a
 * browser-platform bundle does not carry (it fails with "this.util.TextEncoder
 * is not a constructor"). tfjs decides once, when its modules evaluate, so
 * hiding `process` for that moment is enough; `src/serve/edge.ts` then gives
 * tfjs a web platform when it chose none.
 *
 * @module
 */

const saved = Object.getOwnPropertyDescriptor(globalThis, "process");
// Only an own, configurable property can be hidden and restored exactly.
const hidden = saved?.configurable === true &&
  delete (globalThis as { process?: unknown }).process;

/** Puts `process` back as it was before the bundle evaluated. */
export function restoreNodeGlobals(): void {
  if (hidden && saved) Object.defineProperty(globalThis, "process", saved);
}
