/**
 * What the service's page needs to classify in the browser tab instead of
 * on the server: `GET /simdnet.js` (the one-file bundle of
 * `deno task bundle`) and `GET /model/model.json` with its weight file (the
 * classifier's own model, written once on first request). Every response of
 * the page and these files carries the cross-origin isolation headers, so
 * the page gets `SharedArrayBuffer` and the bundle runs threads.
 *
 * @module
 */

import { modelToArtifacts, WEIGHTS_FILE } from "../nn/model_io.ts";
import type { Classifier } from "./classifier.ts";

/**
 * Cross-origin isolation (COOP + COEP): the page may then share memory
 * with workers. Same-origin files only, so `require-corp` costs nothing.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

/** The bundle's path on the service. */
export const BUNDLE_PATH = "/simdnet.js";
/** The model's path on the service, relative to the page. */
export const MODEL_PATH = "/model/model.json";

/** Serves the bundle and the classifier's model files. */
export class TabAssets {
  readonly #bundle: Uint8Array<ArrayBuffer>;
  readonly #classifier: Pick<Classifier, "model" | "labels">;
  #model: Promise<{ json: string; weights: Uint8Array<ArrayBuffer> }> | null =
    null;

  /** `bundle` is the bytes of `dist/simdnet.js`. */
  constructor(
    bundle: Uint8Array,
    classifier: Pick<Classifier, "model" | "labels">,
  ) {
    this.#bundle = new Uint8Array(bundle);
    this.#classifier = classifier;
  }

  #artifacts(): Promise<{ json: string; weights: Uint8Array<ArrayBuffer> }> {
    // The labels the server answers with, even when given as an option.
    this.#model ??= modelToArtifacts(this.#classifier.model, {
      classNames: [...this.#classifier.labels],
    }).then(({ json, weights }) => ({
      json: JSON.stringify(json),
      weights: new Uint8Array(weights),
    }));
    return this.#model;
  }

  /** True when `pathname` is one of these files. */
  has(pathname: string): boolean {
    return pathname === BUNDLE_PATH || pathname === MODEL_PATH ||
      pathname === `/model/${WEIGHTS_FILE}`;
  }

  /** The response for `pathname`, one of {@linkcode has}'s. */
  async respond(pathname: string): Promise<Response> {
    const headers = {
      ...ISOLATION_HEADERS,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    };
    if (pathname === BUNDLE_PATH) {
      return new Response(this.#bundle, {
        headers: { ...headers, "content-type": "text/javascript" },
      });
    }
    const { json, weights } = await this.#artifacts();
    return pathname === MODEL_PATH
      ? new Response(json, {
        headers: { ...headers, "content-type": "application/json" },
      })
      : new Response(weights, {
        headers: { ...headers, "content-type": "application/octet-stream" },
      });
  }
}
