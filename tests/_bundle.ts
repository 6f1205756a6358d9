/**
 * Shared by the bundle tests: where `dist/simdnet.js` is, a check that it
 * exists with a message naming the command that builds it, and the unbundled
 * classifier's answer that every bundled run must give.
 */

import assert from "node:assert/strict";
import { initRuntime } from "../src/runtime/init.ts";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { type ModelJson, modelToArtifacts } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";

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

/** A seed CNN, an image, and the unbundled classifier's probabilities. */
export interface UnbundledReference {
  artifacts: { json: ModelJson; weights: Uint8Array };
  image: Uint8Array;
  /** Probability per class index, from `src/serve/classifier.ts`. */
  want: number[];
}

/**
 * What every bundle test compares against: the seed CNN with `seed`,
 * classified unbundled on 1-thread WASM (the bundle's edge path).
 */
export async function unbundledReference(
  seed: number,
  image: Uint8Array,
): Promise<UnbundledReference> {
  await initRuntime({ backend: "wasm", threads: 1 });
  const artifacts = await modelToArtifacts(cifarCnn({ seed }));
  const local = await Classifier.fromBytes(artifacts.json, artifacts.weights);
  const want = new Array<number>(local.classes);
  for (const p of await local.classify(image, { topK: local.classes })) {
    want[p.index] = p.probability;
  }
  local.dispose();
  // A comparison of near-equal numbers would prove nothing.
  assert.ok(Math.max(...want) - Math.min(...want) > 1e-3, `${want}`);
  return { artifacts, image, want };
}

/** Each probability within 1e-5 of the unbundled one; `where` names the run. */
export function assertSameAnswer(
  got: readonly number[],
  want: readonly number[],
  where: string,
): void {
  assert.equal(got.length, want.length, `${where}: number of classes`);
  got.forEach((p, c) =>
    assert.ok(
      Math.abs(p - want[c]!) < 1e-5,
      `${where}: class ${c}: ${p}, unbundled ${want[c]}`,
    )
  );
}
