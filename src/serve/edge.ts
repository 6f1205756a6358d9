/**
 * The entry of the one-file bundle `dist/simdnet.js` (`deno task bundle`):
 * the {@linkcode Classifier} and what an edge isolate or a browser tab needs
 * to use it, with nothing that reads files, the environment or Deno's APIs.
 *
 * The bundle embeds tfjs' two WebAssembly SIMD builds and simdnet's kernels.
 * Where `Worker` and shared memory exist (Deno, a cross-origin-isolated
 * page) the classifier takes the threaded build and every core; where they
 * do not (most edge isolates, a page without COOP/COEP) it runs the
 * single-threaded SIMD build with simdnet's kernels on the calling thread,
 * silently: `classifier.runtime.reason` says which and why.
 *
 * @example
 * ```ts ignore
 * import { fromUrl } from "./simdnet.js";
 * const classifier = await fromUrl("/model/model.json");
 * const png = new Uint8Array(await (await fetch("/cat.png")).arrayBuffer());
 * console.log(await classifier.classify(png, { topK: 3 }));
 * classifier.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  Classifier,
  type ClassifierOptions,
  type ClassifyOptions,
} from "./classifier.ts";
import type { ModelJsonInput } from "../nn/model_io.ts";
import {
  type TfjsWasmBinaries,
  useEmbeddedWasmBinaries,
} from "../runtime/wasm_backend.ts";

export {
  Classifier,
  type ClassifierInput,
  type ClassifierOptions,
  type ClassifyOptions,
  type Pixels,
  type Prediction,
} from "./classifier.ts";
export type { TtaOptions, TtaSetting } from "../train/tta.ts";
export { ModelFormatError } from "../nn/config_values.ts";
export { ImageDecodeError } from "../image/image_errors.ts";
export { RuntimeError } from "../runtime/init.ts";
export type { RuntimeInfo } from "../runtime/types.ts";
export type { TfjsWasmBinaries } from "../runtime/wasm_backend.ts";
export {
  type PrecompiledWasm,
  usePrecompiledWasm,
} from "../runtime/precompiled_wasm.ts";

/**
 * tfjs' platform (fetch, clock, text codecs) from web APIs alone. tfjs sets
 * its browser platform only where it sees `window.document` or
 * `WorkerGlobalScope`, and none in Deno with `process` hidden (the bundle
 * does, see `bundle/prelude.ts`) or in an edge isolate.
 */
const WEB_PLATFORM: tf.Platform = {
  fetch: (path, init) => fetch(path, init),
  now: () => performance.now(),
  encode: (text, encoding) => {
    if (encoding !== "utf-8" && encoding !== "utf8") {
      throw new Error(`simdnet bundle: cannot encode ${encoding}`);
    }
    return new TextEncoder().encode(text);
  },
  decode: (bytes, encoding) => new TextDecoder(encoding).decode(bytes),
  isTypedArray: (
    a,
  ): a is Float32Array | Int32Array | Uint8Array | Uint8ClampedArray =>
    a instanceof Float32Array || a instanceof Int32Array ||
    a instanceof Uint8Array || a instanceof Uint8ClampedArray,
};

if (tf.env().platform == null) tf.setPlatform("web", WEB_PLATFORM);

/**
 * Sets the tfjs WASM binaries the runtime starts from. The bundle calls it
 * with the builds it embeds; call it before the first classifier only to
 * run other builds of the same tfjs version.
 */
export function useWasmBinaries(binaries: TfjsWasmBinaries): void {
  useEmbeddedWasmBinaries(binaries);
}

/**
 * A classifier from `model.json` (bytes, text or object) and its weight
 * shards (joined, or a list in manifest order); the same as
 * {@linkcode Classifier.fromBytes}.
 */
export async function fromBytes(
  modelJson: ModelJsonInput,
  weights: Uint8Array | readonly Uint8Array[],
  options: ClassifierOptions = {},
): Promise<Classifier> {
  return await Classifier.fromBytes(modelJson, weights, options);
}

/**
 * A classifier from the `model.json` at `url` and the weight files it
 * names, fetched with the checks of {@linkcode Classifier.load}. A relative
 * URL is resolved against the page (`location`), where there is one.
 */
export async function fromUrl(
  url: string | URL,
  options: ClassifierOptions = {},
): Promise<Classifier> {
  const base = (globalThis as { location?: { href?: string } }).location
    ?.href;
  return await Classifier.load(new URL(url, base), options);
}

/**
 * Classifies one image with `classifier`, best classes first; the same as
 * {@linkcode Classifier.classify}. Options such as test-time augmentation
 * pass through as the classifier takes them.
 */
export async function classify(
  classifier: Classifier,
  input: Uint8Array | ArrayBuffer,
  options: ClassifyOptions = {},
): ReturnType<Classifier["classify"]> {
  return await classifier.classify(input, options);
}
