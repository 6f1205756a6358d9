/**
 * The fast recipe's assembly (src/train/fast_recipe.ts): the optimizer
 * numbers against airbench's PyTorch update on a summed loss and against
 * a simulated momentum decay, the model's stem against `whiteningStem`,
 * the augmentation's determinism, and all the parts training a toy task
 * together on wasm.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { toFloatBatch } from "../src/data/batch.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";
import { Lookahead, lookaheadDecay } from "../src/train/lookahead.ts";
import { flipTranslateBatch } from "../src/train/augment_flip_translate.ts";
import {
  fastAugmentation,
  fastOptimizerSettings,
  fastRecipeModel,
} from "../src/train/fast_recipe.ts";
import { whiteningStem } from "../src/train/whitening.ts";
import { Rng } from "../src/util/random.ts";

await tf.setBackend("cpu");

function randomSet(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => rng.int(256));
  return { images, labels: new Uint8Array(n), count: n, shape: [32, 32, 3] };
}

Deno.test("fast_recipe: the SGD settings give airbench's PyTorch step (summed loss, lr and decay per 1024 images) on a batch-mean loss", () => {
  const rng = new Rng(1);
  for (const batch of [256, 512, 1024]) {
    const s = fastOptimizerSettings(40000, batch);
    const kilostep = 1024 * (1 + 1 / (1 - 0.85));
    // PyTorch's SGD on airbench's summed loss: group lr L, weight_decay W / L.
    const lrTorch = 11.5 / kilostep;
    const wdTorch = 0.0153 * batch / kilostep;
    const groups: [number, number, number][] = [
      [s.learningRate, s.weightDecay, 1],
      [s.biasLearningRate, s.biasWeightDecay, 64],
    ];
    for (const [lr, wd, scale] of groups) {
      const w = rng.uniform(-1, 1);
      const gMean = rng.uniform(-1, 1);
      const torchStep = lrTorch * scale *
        (batch * gMean + wdTorch / (lrTorch * scale) * w);
      const ourStep = lr * (gMean + wd * w);
      assert.ok(
        Math.abs(torchStep - ourStep) < 1e-12,
        `batch ${batch}: ${torchStep} vs ${ourStep}`,
      );
    }
    assert.equal(s.momentum, 0.85);
    assert.equal(s.totalSteps, Math.ceil(Math.floor(40000 / batch) * 9.9));
  }
  assert.ok(Math.abs(fastOptimizerSettings(50000).learningRate - 1.5) < 1e-12);
  assert.throws(() => fastOptimizerSettings(100, 1024), /at least one batch/);
});

Deno.test("fast_recipe: the decoupled decay per step shrinks a weight as fast as the L2 decay through Nesterov momentum does", () => {
  const s = fastOptimizerSettings(40000, 1024);
  // Nesterov SGD (PyTorch's form) on a zero loss: only the decay acts.
  let w = 1, v = 0;
  const rates: number[] = [];
  for (let t = 0; t < 200; t++) {
    const g = s.weightDecay * w;
    v = s.momentum * v + g;
    const before = w;
    w -= s.learningRate * (g + s.momentum * v);
    rates.push(1 - w / before);
  }
  const steady = rates.at(-1)!;
  assert.ok(
    Math.abs(steady / s.decoupledDecayPerStep - 1) < 1e-6,
    `steady shrink ${steady} per step vs ${s.decoupledDecayPerStep}`,
  );
});

Deno.test("fast_recipe: the model's stem is the training images' whitening; width and classes pass through", () => {
  const train = randomSet(30, 2);
  const model = fastRecipeModel(train, { width: 0.125, classes: 4, seed: 3 });
  try {
    const stem = whiteningStem(train);
    assert.deepEqual(
      model.layers[0]!.weights[0]!.variable.dataSync(),
      stem.kernel,
    );
    assert.deepEqual(
      model.layers[0]!.weights[1]!.variable.dataSync(),
      stem.bias,
    );
    assert.deepEqual(model.outputShape, [4]);
    assert.deepEqual(model.outputShapes[2], [31, 31, 8]);
  } finally {
    model.dispose();
  }
});

Deno.test("fast_recipe: the augmentation's flips follow the seed and its batches are flipTranslateBatch with pad 2", () => {
  const train = randomSet(12, 4);
  const a = fastAugmentation(train, 7);
  assert.deepEqual(a.flips, fastAugmentation(train, 7).flips);
  assert.notDeepEqual(a.flips, fastAugmentation(train, 8).flips);
  const got = a.batch([3, 9, 0], 1, new Rng(5));
  const want = flipTranslateBatch(train, [3, 9, 0], {
    flips: a.flips,
    epoch: 1,
    rng: new Rng(5),
    pad: 2,
  });
  assert.deepEqual(got, want);
});

/** 32x32 noise with a bright 6x6 square in the top (class 0) or bottom half. */
function topBottom(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => rng.int(80));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(2);
    const top = labels[i]! * 16 + 2 + rng.int(8);
    const left = 2 + rng.int(24);
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

Deno.test("fast_recipe: the parts train together on wasm (whitened model, augmentation, SGD steps, lookahead): a toy task is learnt", async () => {
  await initRuntime({ backend: "wasm", threads: 2 });
  const train = topBottom(64, 1);
  const model = fastRecipeModel(train, { width: 0.125, classes: 2, seed: 2 });
  const aug = fastAugmentation(train, 3);
  const la = new Lookahead(model.weights.map((w) => w.variable));
  const rng = new Rng(4);
  const total = 40;
  const accuracy = () =>
    tf.tidy(() => {
      const x = tf.tensor4d(toFloatBatch(train, [...Array(64).keys()]), [
        64,
        32,
        32,
        3,
      ]);
      const pred = tf.argMax(model.apply(x), -1).dataSync();
      return pred.filter((p, i) => p === train.labels[i]).length / 64;
    });
  try {
    const before = accuracy();
    assert.ok(
      before < 0.8,
      `untrained accuracy ${before}: the task is not learnt yet`,
    );
    for (let step = 1; step <= total; step++) {
      const idx = rng.permutation(64).subarray(0, 32);
      tf.tidy(() => {
        const x = tf.tensor4d(aug.batch(idx, Math.floor(step / 2), rng), [
          32,
          32,
          32,
          3,
        ]);
        const y = tf.tensor2d(
          Array.from(idx, (i) => train.labels[i] === 0 ? [1, 0] : [0, 1]),
        );
        const { grads } = tf.variableGrads(
          () =>
            softmaxCrossEntropy(
              model.apply(x, { training: true, logits: true }),
              y,
            ),
          model.trainableVariables,
        );
        for (const v of model.trainableVariables) {
          v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.2)));
        }
      });
      la.afterStep(step, lookaheadDecay(step, total));
    }
    la.finish();
    assert.ok(accuracy() >= 0.9, `training accuracy ${accuracy()}`);
  } finally {
    la.dispose();
    model.dispose();
  }
});
