/**
 * BatchNormalization against tfjs-layers 4.22 (cpu, tfjs' own gradient
 * configs): inference and training mode, outputs, gradients for the input
 * and all four weights, and the moving statistics after several training
 * steps; Keras 2.x+ frozen semantics, determinism, weights and config.
 * simdnet runs on cpu and on wasm at 1 and 2 threads.
 */

import assert from "node:assert/strict";
import { BatchNormalization } from "../src/nn/batch_normalization.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { ReLU } from "../src/nn/relu.ts";
import { fit } from "../src/train/fit.ts";
import {
  fitKilledInEpoch2,
  quiet,
  randomImages,
  weightsOf,
} from "./_train_fixtures.ts";
import { ModelFormatError } from "../src/nn/config_values.ts";
import { layerFromConfig } from "../src/nn/layer_config.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import {
  assertClose,
  type Case,
  onEachTarget,
  randomValues,
  rngFor,
  runOurs,
  tf,
} from "./_layer_run.ts";
import { type ReferenceSpec, spec } from "./_tfl_reference.ts";
import { runConformance } from "./_tfl_conformance.ts";

// The tfjs-layers child imports this module for BN_SPECS: nothing may
// start at its top level (simdnet's gradients would replace tfjs' there).
const ready = () => initRuntime({ backend: "wasm", threads: 2 });

interface BnCase extends Case {
  momentum: number;
  epsilon: number;
}

/** A random 4-D (images) or 2-D (features) case with random statistics. */
function bnCase(seed: number, training: boolean): BnCase {
  const rng = rngFor(seed);
  const c = 1 + rng.int(6);
  const shape = seed % 2 === 0
    ? [2 + rng.int(3), 1 + rng.int(4), 1 + rng.int(4), c]
    : [3 + rng.int(6), c];
  const n = shape.reduce((a, b) => a * b, 1);
  // Inputs off zero-mean, so the statistics matter.
  const x = randomValues(rng, n, -1, 3);
  return {
    x,
    xShape: shape,
    weights: [
      randomValues(rng, c, 0.5, 1.5), // gamma
      randomValues(rng, c), // beta
      randomValues(rng, c), // moving_mean
      randomValues(rng, c, 0.5, 2), // moving_variance
    ],
    r: randomValues(rng, n),
    training,
    momentum: [0.99, 0.9, 0.5][seed % 3]!,
    epsilon: [1e-3, 1e-2][seed % 2]!,
  };
}

function ourBn(c: BnCase): BatchNormalization {
  return new BatchNormalization({ momentum: c.momentum, epsilon: c.epsilon });
}

/**
 * BatchNormalization on random 4-D (images) and 2-D (features) shapes with
 * random momentum and epsilon, drawn from a fixed seed (the child draws
 * the same): inference-mode gradients w.r.t. all four weights, and
 * training-mode gradients with the moving statistics after 4 steps.
 */
function bnSpecs(seed: number): ReferenceSpec[] {
  const out: ReferenceSpec[] = [];
  for (let i = 0; i < 12; i++) {
    const rng = rngFor(seed + i);
    const c = 1 + rng.int(6);
    // At least two values per example: one-value outputs have no loss.
    const shape = i % 2 === 0
      ? [1 + rng.int(4), 1 + rng.int(4), Math.max(c, 2)]
      : [Math.max(c, 2)];
    const momentum = [0.99, 0.9, 0.5][i % 3]!;
    const epsilon = [1e-3, 1e-2][(i >> 1) % 2]!;
    const training = i >= 6;
    const s = spec(
      `BatchNormalization momentum ${momentum} epsilon ${epsilon} on ${shape}, ${
        training ? "training, 4 steps" : "inference gradients"
      }`,
      (L) => L.layers.batchNormalization({ axis: -1, momentum, epsilon }),
      shape,
      seed + i,
    );
    out.push(
      training ? { ...s, steps: 4 } : { ...s, inferenceGradients: true },
    );
  }
  return out;
}

/** The conformance table of this file. */
export const BN_SPECS: ReferenceSpec[] = bnSpecs(300);

Deno.test("batch_norm: inference and training mode match tfjs-layers, gradients for the input and all four weights, moving mean and variance after 4 steps, round trip with moving statistics; cpu, wasm at 1 and 2 threads", async (t) => {
  await ready();
  await runConformance(t, {
    module: import.meta.url,
    groups: [{ name: "BN_SPECS", specs: BN_SPECS, mustLoad: true }],
    // Batch statistics of 5 rows; the tolerances and floors of
    // layers_reference_test.ts, whose comment has the measurements.
    batch: 5,
    output: [1e-4, 2e-2],
    grad: [1e-3, 2e-2],
    cpu: true,
  });
});

Deno.test("batch_norm: the moving variance is the biased batch variance, per Keras' formula", async () => {
  await ready();
  const c = bnCase(21, true);
  const [gamma, beta, mm, mv] = c.weights as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const got = runOurs([ourBn(c)], c);
  const ch = gamma.length;
  const rows = c.x.length / ch;
  for (let k = 0; k < ch; k++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < rows; i++) s += c.x[i * ch + k]!;
    const mean = s / rows;
    for (let i = 0; i < rows; i++) s2 += (c.x[i * ch + k]! - mean) ** 2;
    const variance = s2 / rows;
    const m = c.momentum;
    assert.ok(
      Math.abs(got.after[2]![k]! - (mm[k]! * m + mean * (1 - m))) < 1e-5,
    );
    assert.ok(
      Math.abs(got.after[3]![k]! - (mv[k]! * m + variance * (1 - m))) < 1e-5,
    );
    const y0 = (c.x[k]! - mean) / Math.sqrt(variance + c.epsilon) * gamma[k]! +
      beta[k]!;
    assert.ok(Math.abs(got.y[k]! - y0) < 1e-4);
  }
});

Deno.test("batch_norm: a frozen layer (trainable false) uses the moving statistics in training and leaves them alone", async () => {
  await ready();
  const c = bnCase(31, true);
  const inference = runOurs([ourBn(c)], { ...c, training: false });
  await onEachTarget((target) => {
    const layer = ourBn(c);
    layer.trainable = false;
    const got = runOurs([layer], c, 2);
    assertClose(got, inference, 1e-6, `frozen on ${target}`, {
      weightsAfter: true,
    });
  });
});

Deno.test("batch_norm: training steps are bit-identical run to run (resumable), at 2 threads on wasm", async () => {
  await ready();
  await tf.setBackend("wasm");
  setKernelThreads(2);
  const c = bnCase(41, true);
  c.xShape = [8, 6, 6, 5];
  c.x = randomValues(rngFor(42), 8 * 6 * 6 * 5, -1, 3);
  c.r = randomValues(rngFor(43), 8 * 6 * 6 * 5);
  c.weights = c.weights.map((w) =>
    w.length === 5 ? w : new Float32Array(5).fill(1)
  );
  const a = runOurs([ourBn(c)], c, 3);
  const b = runOurs([ourBn(c)], c, 3);
  assert.deepEqual(a.after, b.after);
  assert.deepEqual(a.dx, b.dx);
});

Deno.test("batch_norm: weights gamma, beta, moving_mean, moving_variance in Keras order, the moving ones non-trainable; center/scale false drop theirs", async () => {
  await ready();
  const model = new Sequential([
    new BatchNormalization(),
    new BatchNormalization({ center: false, scale: false }),
  ], { inputShape: [4, 4, 3] });
  try {
    assert.deepEqual(model.weights.map((w) => w.name), [
      "batch_normalization/gamma",
      "batch_normalization/beta",
      "batch_normalization/moving_mean",
      "batch_normalization/moving_variance",
      "batch_normalization_1/moving_mean",
      "batch_normalization_1/moving_variance",
    ]);
    assert.deepEqual(model.trainableWeights.map((w) => w.name), [
      "batch_normalization/gamma",
      "batch_normalization/beta",
    ]);
    assert.equal(model.nonTrainableWeights.length, 4);
    const values = model.weights.map((w) => Array.from(w.variable.dataSync()));
    assert.deepEqual(values[0], [1, 1, 1]);
    assert.deepEqual(values[3], [1, 1, 1]);
    assert.deepEqual(values[2], [0, 0, 0]);
    const config = model.layers[0]!.config();
    assert.equal(config.momentum, 0.99);
    assert.equal(config.epsilon, 1e-3);
    assert.equal(config.axis, -1);
  } finally {
    model.dispose();
  }
});

Deno.test("batch_norm: config readers take Keras' axis forms and refuse a non-last axis, renorm and bad numbers in one line", async () => {
  await ready();
  const read = (c: Record<string, unknown>) =>
    layerFromConfig("BatchNormalization", {
      name: "bn",
      ...c,
    }) as BatchNormalization;
  assert.equal(read({ axis: [3] }).plan([4, 4, 2]).output.join(), "4,4,2");
  assert.equal(read({ axis: 1 }).plan([5]).output.join(), "5");
  assert.throws(() => read({ axis: 1 }).plan([4, 4, 2]), /axis 1 .*last axis/);
  assert.throws(() => read({ axis: [1, 2] }), ModelFormatError);
  assert.throws(() => read({ renorm: true }), /renorm/);
  assert.throws(
    () => read({ momentum: 2 }),
    (e: Error) =>
      e instanceof ModelFormatError &&
      /layer 'bn' \(BatchNormalization\) momentum/.test(e.message),
  );
  assert.throws(() => read({ epsilon: 0 }), /epsilon/);
  assert.equal(read({ momentum: 0.9, center: false }).momentum, 0.9);
});

/** A small CNN with BatchNormalization between a conv and its ReLU. */
function bnCnn(seed: number): Sequential {
  return new Sequential([
    new Conv2D({ filters: 6, kernelSize: 3, padding: "same" }),
    new BatchNormalization({ momentum: 0.9 }),
    new ReLU(),
    new MaxPooling2D({ poolSize: 2 }),
    new Flatten(),
    new Dense({ units: 10, activation: "softmax" }),
  ], { inputShape: [8, 8, 3], seed });
}

Deno.test("batch_norm: fit trains a BatchNormalization model, and a killed and resumed run ends with bit-identical weights and moving statistics (wasm, 2 threads)", async () => {
  await ready();
  await tf.setBackend("wasm");
  setKernelThreads(2);
  const dir = await Deno.makeTempDir({ prefix: "simdnet_bn_resume_" });
  const data = randomImages(48, 4);
  const common = { ...quiet, epochs: 2, batchSize: 16, seed: 3 };
  const straight = bnCnn(5);
  const killed = bnCnn(5);
  const resumed = bnCnn(99);
  try {
    const before = await weightsOf(straight);
    await fit(straight, data, { ...common, checkpoint: `${dir}/a.ckpt` });
    const after = await weightsOf(straight);
    // gamma (index 2) and moving_mean (index 4) both moved.
    assert.notDeepEqual(after[2], before[2]);
    assert.notDeepEqual(after[4], before[4]);
    await fitKilledInEpoch2(killed, data, {
      ...common,
      checkpoint: `${dir}/b.ckpt`,
    });
    await fit(resumed, data, {
      ...common,
      checkpoint: `${dir}/b.ckpt`,
      resume: true,
    });
    assert.deepEqual(await weightsOf(resumed), after);
  } finally {
    for (const m of [straight, killed, resumed]) m.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("batch_norm: training steps under tf.variableGrads leak no tensors", async () => {
  await ready();
  await tf.setBackend("wasm");
  const model = bnCnn(7);
  const x = tf.tensor(randomValues(rngFor(8), 4 * 8 * 8 * 3), [4, 8, 8, 3]);
  try {
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(model.apply(x, { training: true, logits: true })),
          model.trainableVariables,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before);
  } finally {
    x.dispose();
    model.dispose();
  }
});
