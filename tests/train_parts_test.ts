/**
 * The trainer's parts on the `cpu` backend: Adam against a float64
 * reference, augmentation geometry, the checkpoint codec and Keras'
 * progress formatting.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { Adam } from "../src/train/adam.ts";
import {
  applyTransforms,
  randomTransformParams,
  type TransformParams,
} from "../src/train/augment.ts";
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from "../src/train/checkpoint.ts";
import {
  formatBar,
  formatEta,
  formatValue,
  Progbar,
} from "../src/train/progress.ts";
import { Rng } from "../src/util/random.ts";
import { capture, dispose, weightsOf } from "./_train_fixtures.ts";

await tf.setBackend("cpu");
registerGradients();

Deno.test("train: Adam follows Keras' update rule (float64 reference)", () => {
  const model = new Sequential([new Flatten(), new Dense({ units: 3 })], {
    inputShape: [2],
    seed: 1,
  });
  const weights = model.weights;
  const adam = new Adam(weights, { learningRate: 0.01 });
  const ref = weights.map((w) => Float64Array.from(w.variable.dataSync()));
  const m = ref.map((r) => new Float64Array(r.length));
  const v = ref.map((r) => new Float64Array(r.length));
  for (let t = 1; t <= 5; t++) {
    // Gradient of sum((w - 0.3)^2) is 2 (w - 0.3), computed from the reference.
    const grads = ref.map((r) => r.map((x) => 2 * (x - 0.3)));
    tf.tidy(() =>
      adam.applyGradients(
        grads.map((g, i) =>
          tf.tensor(Float32Array.from(g), weights[i]!.variable.shape)
        ),
      )
    );
    const alpha = 0.01 * Math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t);
    ref.forEach((r, i) => {
      for (let k = 0; k < r.length; k++) {
        const g = grads[i]![k]!;
        m[i]![k] = 0.9 * m[i]![k]! + 0.1 * g;
        v[i]![k] = 0.999 * v[i]![k]! + 0.001 * g * g;
        r[k] = r[k]! - alpha * m[i]![k]! / (Math.sqrt(v[i]![k]!) + 1e-7);
      }
    });
  }
  assert.equal(adam.iterations, 5);
  weights.forEach((w, i) => {
    const got = w.variable.dataSync();
    got.forEach((g, k) => {
      assert.ok(
        Math.abs(g - ref[i]![k]!) < 1e-5,
        `${w.name}[${k}]: ${g} vs ${ref[i]![k]}`,
      );
    });
  });
  assert.throws(() => new Adam(weights, { learningRate: 0 }), /learningRate/);
  adam.dispose();
  dispose(model);
});

Deno.test("train: Adam state round-trips through getState/setState", async () => {
  const make = () =>
    new Sequential([new Flatten(), new Dense({ units: 2 })], {
      inputShape: [3],
      seed: 2,
    });
  const a = make();
  const b = make();
  const optA = new Adam(a.weights);
  const optB = new Adam(b.weights);
  const grads = (m: Sequential) =>
    m.weights.map((w) => tf.fill(w.variable.shape, 0.5));
  tf.tidy(() => optA.applyGradients(grads(a)));
  tf.tidy(() => optB.applyGradients(grads(b)));
  optB.setState(await optA.getState()); // same state: no-op check of plumbing
  const state = await optA.getState();
  const c = make();
  c.setWeights(await a.getWeights());
  const optC = new Adam(c.weights);
  optC.setState(state);
  tf.tidy(() => optA.applyGradients(grads(a)));
  tf.tidy(() => optC.applyGradients(grads(c)));
  assert.deepEqual(await weightsOf(c), await weightsOf(a));
  assert.equal(optC.iterations, 2);
  [optA, optB, optC].forEach((o) => o.dispose());
  [a, b, c].forEach(dispose);
});

/** A 9x9 one-channel image, zero except `value` at (row, col). */
function marker(row: number, col: number, value = 1): tf.Tensor4D {
  const v = new Float32Array(81);
  v[row * 9 + col] = value;
  return tf.tensor4d(v, [1, 9, 9, 1]);
}

function transform(x: tf.Tensor4D, p: Partial<TransformParams>): Float32Array {
  const y = applyTransforms(x, [{ theta: 0, tx: 0, ty: 0, flip: false, ...p }]);
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

function argmax(a: Float32Array): [number, number] {
  let best = 0;
  a.forEach((v, i) => (v > a[best]! ? (best = i) : 0));
  return [Math.floor(best / 9), best % 9];
}

Deno.test("train: augmentation flip is an exact mirror", () => {
  const x = tf.randomUniform([2, 5, 6, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const flip = { theta: 0, tx: 0, ty: 0, flip: true };
  const y = applyTransforms(x, [flip, flip]);
  assert.deepEqual(y.dataSync(), tf.reverse(x, 2).dataSync());
  tf.dispose([x, y]);
});

Deno.test("train: augmentation shifts move a marker by Keras' sign convention", () => {
  const x = marker(4, 5);
  // Output x samples input x + tx: a positive tx moves the content left.
  const left = transform(x, { tx: 2 });
  assert.equal(left[4 * 9 + 3], 1);
  assert.equal(left.reduce((a, b) => a + b, 0), 1);
  // A negative ty moves the content down.
  const down = transform(x, { ty: -1 });
  assert.equal(down[5 * 9 + 5], 1);
  // Half a pixel: bilinear weights split the marker.
  const half = transform(x, { tx: 0.5 });
  assert.equal(half[4 * 9 + 4], 0.5);
  assert.equal(half[4 * 9 + 5], 0.5);
  // Flip after shift: the marker mirrors around the centre column.
  const both = transform(x, { tx: 2, flip: true });
  assert.equal(both[4 * 9 + (8 - 3)], 1);
  x.dispose();
});

Deno.test("train: augmentation rotates counter-clockwise about the centre", () => {
  const x = marker(4, 6); // two pixels right of the centre (4, 4)
  const quarter = transform(x, { theta: 90 });
  assert.deepEqual(argmax(quarter), [2, 4]); // now two pixels above
  assert.ok(Math.abs(quarter[2 * 9 + 4]! - 1) < 1e-5);
  const back = transform(x, { theta: -90 });
  assert.deepEqual(argmax(back), [6, 4]);
  const half = transform(x, { theta: 180 });
  assert.deepEqual(argmax(half), [4, 2]);
  x.dispose();
});

Deno.test("train: augmentation fills with the nearest edge pixel", () => {
  // Each pixel holds its column index.
  const v = new Float32Array(81).map((_, i) => i % 9);
  const x = tf.tensor4d(v, [1, 9, 9, 1]);
  const out = transform(x, { tx: 3 });
  for (let r = 0; r < 9; r++) {
    for (let c = 0; c < 9; c++) {
      assert.equal(out[r * 9 + c], Math.min(c + 3, 8));
    }
  }
  const up = transform(x, { ty: 4 }); // rows shift; columns unchanged
  assert.deepEqual(up, v);
  x.dispose();
});

Deno.test("train: augmentation draws Keras' ranges", () => {
  const rng = new Rng(3);
  const draws = Array.from(
    { length: 4000 },
    () => randomTransformParams(rng, 32, 32),
  );
  assert.ok(draws.every((p) => Math.abs(p.theta) <= 15));
  assert.ok(draws.every((p) => Math.abs(p.tx) <= 3.2 && Math.abs(p.ty) <= 3.2));
  assert.ok(Math.max(...draws.map((p) => p.theta)) > 14);
  assert.ok(Math.min(...draws.map((p) => p.tx)) < -3);
  const flips = draws.filter((p) => p.flip).length / draws.length;
  assert.ok(Math.abs(flips - 0.5) < 0.05, `flip rate ${flips}`);
  const none = randomTransformParams(rng, 32, 32, {
    rotationRange: 0,
    widthShiftRange: 0,
    heightShiftRange: 0,
    horizontalFlip: false,
  });
  assert.deepEqual(none, { theta: 0, tx: 0, ty: 0, flip: false });
});

Deno.test("train: checkpoints round-trip and corrupt ones are rejected clearly", async () => {
  const state = {
    epoch: 2,
    stoppedEarly: false,
    rngState: [12345, 0, 0, 1] as [number, number, number, number],
    history: {
      loss: [1, 0.5],
      accuracy: [0.1, 0.2],
      val_loss: [],
      val_accuracy: [],
      learning_rate: [1e-3, 1e-3],
    },
    earlyStopping: { best: null, wait: 0 },
    settings: { batchSize: 64, augment: false },
    weights: [{
      name: "w",
      shape: [2, 3],
      values: new Float32Array([1, 2, 3, 4, 5, 6]),
    }],
    optimizer: {
      kind: "adam" as const,
      iterations: 7,
      slots: {
        momentum: [{
          name: "w",
          shape: [2, 3],
          values: new Float32Array(6).fill(0.5),
        }],
        velocity: [{
          name: "w",
          shape: [2, 3],
          values: new Float32Array(6).fill(0.25),
        }],
      },
    },
    step: 7,
    callbacks: { ReduceLROnPlateau: { best: 0.5, wait: 1 } },
    lookahead: null,
  };
  const bytes = encodeCheckpoint(state);
  assert.deepEqual(decodeCheckpoint(bytes, "x"), state);
  assert.throws(
    () => decodeCheckpoint(bytes.subarray(0, 20), "x.ckpt"),
    CheckpointError,
  );
  assert.throws(
    () =>
      decodeCheckpoint(
        new TextEncoder().encode("hello world, not a checkpoint"),
        "x.ckpt",
      ),
    /x\.ckpt is damaged \(not a simdnet checkpoint: wrong magic bytes\)/,
  );
  await assert.rejects(
    loadCheckpoint("/nonexistent/simdnet.ckpt"),
    /no checkpoint at/,
  );
});

Deno.test("train: progress output has Keras' format", () => {
  assert.equal(formatBar(1, 782), "  1/782 [" + ".".repeat(30) + "]");
  assert.equal(
    formatBar(391, 782),
    "391/782 [" + "=".repeat(14) + ">" + ".".repeat(15) + "]",
  );
  assert.equal(formatBar(782, 782), "782/782 [" + "=".repeat(30) + "]");
  assert.equal(formatEta(12.9), "12s");
  assert.equal(formatEta(125), "2:05");
  assert.equal(formatEta(3725), "1:02:05");
  assert.equal(formatValue(1.23456), "1.2346");
  assert.equal(formatValue(0.000123456), "1.2346e-04");

  let now = 0;
  const tty = capture(true);
  const bar = new Progbar(4, { verbose: 1, output: tty, now: () => now });
  now = 1000;
  bar.update(1, [["loss", 1.5], ["accuracy", 0.25]]);
  now = 4000;
  bar.finish([["loss", 1.25], ["accuracy", 0.5], ["val_loss", 1], [
    "val_accuracy",
    0.75,
  ]]);
  const expectedFirst =
    "\r1/4 [======>.......................] - ETA: 3s - loss: 1.5000 - accuracy: 0.2500";
  assert.ok(tty.text().startsWith(expectedFirst), JSON.stringify(tty.text()));
  assert.ok(
    tty.text().endsWith(
      "\r4/4 [==============================] - 4s 1s/step - loss: 1.2500 - accuracy: 0.5000" +
        " - val_loss: 1.0000 - val_accuracy: 0.7500\n",
    ),
    JSON.stringify(tty.text()),
  );

  now = 0;
  const plain = capture(false);
  const bar2 = new Progbar(20, { verbose: 1, output: plain, now: () => now });
  for (let s = 1; s <= 20; s++) {
    now = s * 50;
    bar2.update(s, [["loss", 0.5]]);
  }
  bar2.finish([["loss", 0.5]]);
  const lines = plain.text().split("\n").filter(Boolean);
  // Every tenth but the last, which the epoch line replaces.
  assert.equal(lines.length, 9 + 1);
  assert.equal(lines[0], " 2/20 - ETA: 0s - loss: 0.5000");
  assert.equal(lines[9], "20/20 - 1s - loss: 0.5000 - 1s/epoch - 50ms/step");
  assert.ok(!plain.text().includes("\r"));
});
