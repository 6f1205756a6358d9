/**
 * The fast recipe through `fit` on simdnet's `wasm` backend: its kernels
 * at 1 and 2 threads train the same weights (to float rounding), and the
 * recipe learns a toy task it starts out not knowing (a bright square in
 * the top or the bottom half; the flip and the translation keep that
 * label), judged with its TTA.
 */

import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import type { ImageSet } from "../src/data/image_set.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { fit } from "../src/train/fit.ts";
import { recipeFitOptions, recipes } from "../src/train/recipes.ts";
import { Rng } from "../src/util/random.ts";

await initRuntime({ backend: "wasm", threads: 2 });

/** `n` dark images with a bright 6x6 square in the top (0) or bottom (1) half. */
function topBottom(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => rng.int(80));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(2);
    const top = labels[i]! * 16 + 3 + rng.int(7);
    const left = 3 + rng.int(23);
    for (let y = top; y < top + 6; y++) {
      for (let x = left; x < left + 6; x++) {
        for (let c = 0; c < 3; c++) {
          images[i * 3072 + (y * 32 + x) * 3 + c] = 230;
        }
      }
    }
  }
  return { images, labels, count: n, shape: [32, 32, 3] };
}

async function trainOnce(train: ImageSet, threads: number, epochs: number) {
  setKernelThreads(threads);
  const recipe = recipes.fast(train, {
    width: 0.125,
    classes: 2,
    batchSize: 32,
    epochs,
    seed: 3,
  });
  const before = await evaluate(recipe.model, train, 64, { tta: recipe.tta });
  const history = await fit(recipe.model, train, {
    ...recipeFitOptions(recipe),
    verbose: 0,
  });
  const after = await evaluate(recipe.model, train, 64, { tta: recipe.tta });
  const weights = (await recipe.model.getWeights()).map((w) => w.values);
  recipe.model.dispose();
  return { before, after, history, weights };
}

/** Largest difference of two weight lists, relative to `1 + |w|`. */
function worstDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((w, i) => {
    const o = b[i]!;
    assert.equal(w.length, o.length);
    for (let j = 0; j < w.length; j++) {
      worst = Math.max(worst, Math.abs(w[j]! - o[j]!) / (1 + Math.abs(w[j]!)));
    }
  });
  return worst;
}

Deno.test("recipes wasm: one fast-recipe step gives the same weights at 1 and 2 threads", async () => {
  const train = topBottom(96, 1);
  // 0.3 epochs of 3 batches: one step (with its lookahead finish).
  const one = await trainOnce(train, 1, 0.3);
  const two = await trainOnce(train, 2, 0.3);
  assert.equal(one.history.loss.length, 1);
  const worst = worstDifference(one.weights, two.weights);
  // Only the summation order differs between thread counts.
  assert.ok(worst < 1e-5, `largest relative difference ${worst}`);
  assert.ok(Math.abs(one.history.loss[0]! - two.history.loss[0]!) < 1e-5);
});

Deno.test("recipes wasm: the fast recipe learns a toy task at 1 and 2 threads alike", async () => {
  const train = topBottom(96, 1);
  const one = await trainOnce(train, 1, 6);
  const two = await trainOnce(train, 2, 6);
  for (const run of [one, two]) {
    assert.ok(run.before.accuracy < 0.8, `untrained ${run.before.accuracy}`);
    assert.ok(run.after.accuracy >= 0.9, `trained ${run.after.accuracy}`);
  }
  // 16 steps at the recipe's high rates (BatchNorm offsets at 64x) let
  // rounding differences grow; the losses still agree closely.
  one.history.loss.forEach((l, i) =>
    assert.ok(Math.abs(l - two.history.loss[i]!) < 1e-2, `epoch ${i + 1}`)
  );
  assert.equal(tf.getBackend(), "wasm");
});
