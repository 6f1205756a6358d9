/**
 * `fit` with the new training options, each against an independent
 * reference: label smoothing against Keras' formula (float64) and finite
 * differences, the regularization loss against the gradient of an L2 term
 * written by hand, the learning rate of each step against the schedule's
 * formula and ReduceLROnPlateau's rule, on the `cpu` backend.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import type { ImageSet } from "../src/data/image_set.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { fit } from "../src/train/fit.ts";
import { smoothLabels, softmaxCrossEntropy } from "../src/train/loss.ts";
import { ReduceLROnPlateau } from "../src/train/reduce_lr_on_plateau.ts";
import { PiecewiseConstantDecay } from "../src/train/schedules.ts";
import { createRng } from "../src/util/random.ts";

await tf.setBackend("cpu");
registerGradients();
const rng = createRng(4242);

/** Keras' smoothed cross-entropy of one row, float64. */
function kerasLoss(logits: number[], label: number, smoothing: number): number {
  const k = logits.length;
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, z) => s + Math.exp(z - max), 0));
  return logits.reduce((s, z, j) => {
    const y = (j === label ? 1 : 0) * (1 - smoothing) + smoothing / k;
    return s - y * (z - lse);
  }, 0);
}

Deno.test("fit options: label smoothing matches Keras' formula, its gradient finite differences", () => {
  for (let trial = 0; trial < 5; trial++) {
    const [batch, classes] = [1 + rng.int(6), 2 + rng.int(8)];
    const smoothing = rng.uniform(0, 0.5);
    const z = Array.from(
      { length: batch },
      () => Array.from({ length: classes }, () => rng.uniform(-3, 3)),
    );
    const labels = z.map(() => rng.int(classes));
    const logits = tf.tensor2d(z);
    const onehot = tf.cast(tf.oneHot(labels, classes), "float32");
    const f = (x: tf.Tensor) =>
      softmaxCrossEntropy(x, smoothLabels(onehot, smoothing));
    const got = f(logits).dataSync()[0]!;
    const mean = (zz: number[][]) =>
      zz.reduce((s, row, i) => s + kerasLoss(row, labels[i]!, smoothing), 0) /
      batch;
    assert.ok(Math.abs(got - mean(z)) < 1e-5, `loss ${got} vs ${mean(z)}`);
    const grad = tf.grad(f)(logits).arraySync() as number[][];
    const h = 1e-5;
    for (let i = 0; i < batch; i++) {
      for (let j = 0; j < classes; j++) {
        const plus = z.map((r) => [...r]);
        const minus = z.map((r) => [...r]);
        plus[i]![j]! += h;
        minus[i]![j]! -= h;
        const fd = (mean(plus) - mean(minus)) / (2 * h);
        assert.ok(
          Math.abs(grad[i]![j]! - fd) < 1e-4,
          `d/dz[${i}][${j}] ${grad[i]![j]} vs ${fd}`,
        );
      }
    }
    tf.dispose([logits, onehot]);
  }
  assert.throws(
    () => smoothLabels(tf.zeros([1, 2]), 1),
    /label smoothing must be in \[0, 1\)/,
  );
});

/** `n` random 2x2x3 images of 3 classes. */
function images(n: number): ImageSet {
  return {
    images: Uint8Array.from({ length: n * 12 }, () => rng.int(256)),
    labels: Uint8Array.from({ length: n }, () => rng.int(3)),
    count: n,
    shape: [2, 2, 3],
  };
}

const tiny = () =>
  new Sequential([
    new Flatten(),
    new Dense({ units: 3, activation: "softmax" }),
  ], { inputShape: [2, 2, 3], seed: 3 });

Deno.test("fit options: a layer's regularization loss is added to the loss and differentiated in the tape", async () => {
  const data = images(8);
  const c = 0.05, lr = 0.1;
  const plain = tiny();
  const reg = tiny();
  const kernel = reg.weights[0]!.variable;
  const k0 = Array.from(kernel.dataSync());
  // An L2 term c * sum(k^2), as a kernel regularizer would add it.
  reg.layers[1]!.regularizationLoss = () =>
    tf.mul(c, tf.sum(tf.square(kernel))) as tf.Scalar;
  const options = {
    epochs: 1,
    batchSize: 8,
    shuffle: false,
    verbose: 0 as const,
    optimizer: { kind: "sgd" as const, learningRate: lr },
  };
  const hPlain = await fit(plain, data, options);
  const hReg = await fit(reg, data, options);
  const sumSq = k0.reduce((s, v) => s + v * v, 0);
  assert.ok(
    Math.abs(hReg.loss[0]! - hPlain.loss[0]! - c * sumSq) < 1e-5,
    "loss includes c * sum(k^2)",
  );
  // One SGD step: the kernels differ by lr * 2c * k0, the biases not at all.
  const [kp, kr] = [plain.weights[0]!.variable.dataSync(), kernel.dataSync()];
  k0.forEach((v, i) =>
    assert.ok(Math.abs(kp[i]! - kr[i]! - lr * 2 * c * v) < 1e-6, `kernel ${i}`)
  );
  assert.deepEqual(
    reg.weights[1]!.variable.dataSync(),
    plain.weights[1]!.variable.dataSync(),
  );
  plain.dispose();
  reg.dispose();
});

Deno.test("fit options: each step's rate comes from the schedule, ReduceLROnPlateau scales it, history and progress show it", async () => {
  const data = images(12); // batches of 4: 3 steps per epoch
  const schedule = new PiecewiseConstantDecay([2, 5], [0.3, 0.2, 0.1]);
  const m = tiny();
  const lines: string[] = [];
  const history = await fit(m, data, {
    epochs: 4,
    batchSize: 4,
    optimizer: { kind: "sgd", momentum: 0.5 },
    schedule,
    // Never improves after the first epoch: a reduction after epoch 2.
    callbacks: [
      new ReduceLROnPlateau({
        monitor: "loss",
        patience: 1,
        factor: 0.5,
        minDelta: 1e9,
      }),
    ],
    verbose: 2,
    output: { write: (t) => lines.push(t), isTTY: false },
  });
  // The last steps of the epochs are 2, 5, 8, 11; epochs 3 and 4 run at half.
  assert.deepEqual(history.learning_rate, [0.3, 0.2, 0.1 * 0.5, 0.1 * 0.25]);
  const epochLines = lines.join("").split("\n").filter((l) =>
    l.startsWith("3/3")
  );
  assert.match(epochLines[0]!, / - learning_rate: 0\.3000 - /);
  // Keras' message names the rate at the step it reduced in (0.2 * 0.5).
  assert.ok(
    lines.join("").includes(
      "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.1.",
    ),
    lines.join(""),
  );
  m.dispose();
});

Deno.test("fit options: fine-tuning keeps the optimizer kind at its constant rate", async () => {
  const m = tiny();
  m.layers[1]!.trainable = true;
  const history = await fit(m, images(8), {
    epochs: 1,
    batchSize: 4,
    verbose: 0,
    optimizer: { kind: "rmsprop", learningRate: 0.01 },
    schedule: new PiecewiseConstantDecay([0], [0.01, 0.005]),
    fineTune: { epochs: 2, learningRate: 1e-4 },
  });
  assert.deepEqual(history.learning_rate, [0.005, 1e-4, 1e-4]);
  m.dispose();
});

Deno.test("fit options: callbacks and label smoothing are checked before training", async () => {
  const m = tiny();
  const data = images(4);
  await assert.rejects(
    fit(m, data, { verbose: 0, callbacks: [new ReduceLROnPlateau()] }),
    /ReduceLROnPlateau monitors val_loss, but there is no validation data/,
  );
  await assert.rejects(
    fit(m, data, {
      verbose: 0,
      callbacks: [
        new ReduceLROnPlateau({ monitor: "loss" }),
        new ReduceLROnPlateau({ monitor: "loss" }),
      ],
    }),
    /two ReduceLROnPlateau callbacks/,
  );
  await assert.rejects(
    fit(m, data, { verbose: 0, labelSmoothing: 1 }),
    /labelSmoothing must be in \[0, 1\)/,
  );
  m.dispose();
});
