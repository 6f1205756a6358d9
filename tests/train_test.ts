/**
 * `fit` on the `cpu` backend: learning a synthetic task, constant tensor
 * counts, resumable checkpoints, the NaN guard, early stopping, validation
 * split and progress output.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { CheckpointError, loadCheckpoint } from "../src/train/checkpoint.ts";
import { EarlyStopping } from "../src/train/early_stopping.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { type EpochLogs, fit, NonFiniteLossError } from "../src/train/fit.ts";
import {
  capture,
  dispose,
  fitKilledInEpoch2,
  quadrants,
  quiet,
  randomImages,
  smallModel,
  weightsOf,
} from "./_train_fixtures.ts";

await tf.setBackend("cpu");
registerGradients();

Deno.test("train: a small CNN learns a synthetic task to >= 95% accuracy", async () => {
  const model = smallModel(1);
  const data = quadrants(256, 11);
  const test = quadrants(128, 12);
  const history = await fit(model, data, {
    ...quiet,
    epochs: 4,
    batchSize: 16,
    learningRate: 0.01,
    seed: 3,
    validationData: test,
  });
  assert.equal(history.loss.length, 4);
  assert.ok(
    history.loss[3]! < 0.5 * history.loss[0]!,
    `losses ${history.loss}`,
  );
  const result = await evaluate(model, test, 32);
  assert.ok(result.accuracy >= 0.95, `accuracy ${result.accuracy}`);
  assert.equal(result.accuracy, history.val_accuracy[3]);
  dispose(model);
});

Deno.test("train: tensor count is constant across steps and epochs", async () => {
  const model = cifarCnn({ seed: 2, inputShape: [8, 8, 3] });
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  await fit(model, randomImages(50, 1), {
    ...quiet,
    epochs: 2,
    batchSize: 16,
    augment: true,
    validationSplit: 0.2,
    onBatchEnd: () => {
      counts.push(tf.memory().numTensors);
    },
    onEpochEnd: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(counts.length, 2 * (3 + 1));
  assert.ok(counts.every((c) => c === counts[0]), `counts ${counts}`);
  assert.equal(tf.memory().numTensors, before);
  dispose(model);
});

Deno.test("train: an interrupted and resumed run ends with identical weights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_resume_" });
  try {
    const data = randomImages(48, 2);
    const common = {
      ...quiet,
      epochs: 2,
      batchSize: 16,
      augment: true,
      validationSplit: 0.25,
      seed: 9,
    };
    const straight = cifarCnn({ seed: 5, inputShape: [8, 8, 3] });
    const h1 = await fit(straight, data, {
      ...common,
      checkpoint: `${dir}/a.ckpt`,
    });

    // Kill the second run in the middle of its second epoch.
    const killed = cifarCnn({ seed: 5, inputShape: [8, 8, 3] });
    await fitKilledInEpoch2(killed, data, {
      ...common,
      checkpoint: `${dir}/b.ckpt`,
    });
    assert.equal((await loadCheckpoint(`${dir}/b.ckpt`)).epoch, 1);

    // A fresh process would rebuild the model with any initial weights.
    const resumed = cifarCnn({ seed: 123, inputShape: [8, 8, 3] });
    const h2 = await fit(resumed, data, {
      ...common,
      checkpoint: `${dir}/b.ckpt`,
      resume: true,
    });
    assert.deepEqual(await weightsOf(resumed), await weightsOf(straight));
    assert.deepEqual(h2, h1);
    assert.notDeepEqual(await weightsOf(resumed), await weightsOf(killed));

    // Other settings cannot resume silently.
    await assert.rejects(
      fit(resumed, data, {
        ...common,
        batchSize: 8,
        checkpoint: `${dir}/b.ckpt`,
        resume: true,
      }),
      (e: Error) =>
        e instanceof CheckpointError && /batchSize 16 -> 8/.test(e.message),
    );
    // No temporary files are left behind; the epoch before is kept.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), [
      "a.ckpt",
      "a.prev.ckpt",
      "b.ckpt",
      "b.prev.ckpt",
    ]);
    [straight, killed, resumed].forEach(dispose);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: a NaN loss stops training and keeps the last good checkpoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_nan_" });
  try {
    const model = smallModel(4);
    const ckpt = `${dir}/c.ckpt`;
    let epoch = 0;
    const error = await fit(model, quadrants(32, 5), {
      ...quiet,
      epochs: 3,
      batchSize: 8,
      checkpoint: ckpt,
      onEpochEnd: () => {
        epoch++;
      },
      onBatchEnd: (step) => {
        // Inject a NaN weight during the second epoch.
        if (epoch === 1 && step === 0) {
          const w = model.weights[0]!.variable;
          w.assign(tf.fill(w.shape, NaN));
        }
      },
    }).then(() => null, (e) => e);
    assert.ok(error instanceof NonFiniteLossError, String(error));
    assert.match(error.message, /loss became NaN at epoch 2, step 2/);
    assert.match(error.message, /weights after epoch 1 are kept in/);
    assert.equal(error.checkpoint, ckpt);
    const state = await loadCheckpoint(ckpt);
    assert.equal(state.epoch, 1);
    assert.ok(state.weights.every((w) => w.values.every(Number.isFinite)));
    dispose(model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: an absurd learning rate is caught as a non-finite loss", async () => {
  const model = smallModel(6);
  await assert.rejects(
    fit(model, quadrants(64, 6), {
      ...quiet,
      epochs: 20,
      batchSize: 8,
      learningRate: 1e30,
    }),
    NonFiniteLossError,
  );
  dispose(model);
});

Deno.test("train: early stopping ends the run and a resume keeps it ended", async () => {
  const es = new EarlyStopping({ monitor: "val_loss", patience: 1 });
  assert.deepEqual([1, 0.9, 0.95].map((v, i) => es.update(v, i)), [
    false,
    false,
    true,
  ]);
  const acc = new EarlyStopping({ monitor: "val_accuracy", patience: 2 });
  assert.deepEqual([0.5, 0.6, 0.55, 0.6].map((v, i) => acc.update(v, i)), [
    false,
    false,
    false,
    true,
  ]);

  const dir = await Deno.makeTempDir({ prefix: "simdnet_es_" });
  try {
    const model = smallModel(7);
    const options = {
      ...quiet,
      epochs: 5,
      batchSize: 16,
      checkpoint: `${dir}/e.ckpt`,
      earlyStopping: { monitor: "loss", patience: 0 } as const,
    };
    const h = await fit(model, quadrants(32, 8), options);
    assert.equal(h.loss.length, 2); // Keras: patience 0 stops after epoch 2
    const again = await fit(model, quadrants(32, 8), {
      ...options,
      resume: true,
    });
    assert.deepEqual(again, h);
    await assert.rejects(
      fit(model, quadrants(32, 8), {
        ...options,
        earlyStopping: { monitor: "val_loss" },
      }),
      /no validation data/,
    );
    dispose(model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: validationSplit holds out the last fraction, like Keras", async () => {
  const data = quadrants(40, 9);
  const model = smallModel(8);
  let logs: EpochLogs | null = null;
  let held = { loss: NaN, accuracy: NaN };
  await fit(model, data, {
    ...quiet,
    epochs: 1,
    batchSize: 8,
    validationSplit: 0.25,
    onEpochEnd: async (_e, l) => {
      logs = l;
      held = await evaluate(model, {
        images: data.images.subarray(30 * 192),
        labels: data.labels.subarray(30),
        count: 10,
        shape: [8, 8, 3],
      }, 8);
    },
  });
  assert.equal(logs!.val_loss, held.loss);
  assert.equal(logs!.val_accuracy, held.accuracy);
  await assert.rejects(
    fit(model, quadrants(1, 1), { ...quiet, validationSplit: 0.5 }),
    /one part would be empty/,
  );
  await assert.rejects(
    fit(model, randomImages(4, 1), quiet),
    /label \d at index \d+ is not below the model.s 4 classes/,
  );
  dispose(model);
});

Deno.test("train: fit prints Keras' epoch header and one line per epoch", async () => {
  // fit prints Keras' epoch header and one line per epoch at verbose 2.
  const out = capture(false);
  const model = smallModel(9);
  await fit(model, quadrants(16, 3), {
    epochs: 2,
    batchSize: 8,
    verbose: 2,
    output: out,
  });
  const fitLines = out.text().split("\n").filter(Boolean);
  assert.equal(fitLines.length, 4);
  assert.equal(fitLines[0], "Epoch 1/2");
  assert.match(
    fitLines[1]!,
    /^2\/2 - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - learning_rate: 1\.0000e-03 - \d+(?:us|ms|s)\/epoch - \d+(?:us|ms|s)\/step$/,
  );
  dispose(model);
});
