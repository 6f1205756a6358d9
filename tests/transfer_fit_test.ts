/**
 * Transfer learning in `fit` (cpu backend): frozen layers stay bit-identical
 * while the rest learns, the fine-tuning phase moves every layer with a
 * fresh Adam at its own rate, and a run resumed at any epoch, the phase
 * boundary included, ends bit-identical to an uninterrupted one; resuming
 * with another frozen set or fine-tuning rate is refused.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { Sequential, type WeightValues } from "../src/nn/sequential.ts";
import { freezeLayers } from "../src/nn/transfer.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from "../src/train/checkpoint.ts";
import { fit, type FitOptions } from "../src/train/fit.ts";
import { quadrants, quiet, weightsOf } from "./_train_fixtures.ts";

await tf.setBackend("cpu");
registerGradients();

const data = quadrants(48, 5);

/** Two convs to freeze, a dropout so masks are drawn, a dense head. */
function model(seed = 1): Sequential {
  return new Sequential([
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new MaxPooling2D({ poolSize: 2 }),
    new Flatten(),
    new Dropout(0.25),
    new Dense({ units: 8, activation: "relu" }),
    new Dense({ units: 4, activation: "softmax" }),
  ], { inputShape: [8, 8, 3], seed });
}

const names = (m: Sequential) => m.weights.map((w) => w.name);

function maxStep(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i]! - b[i]!));
  }
  return max;
}

Deno.test("fit: frozen layers stay bit-identical while the others learn", async () => {
  for (const spec of [2, "conv2d_1"] as const) {
    const m = model();
    freezeLayers(m, spec);
    const before = await weightsOf(m);
    await fit(m, data, {
      ...quiet,
      epochs: 2,
      batchSize: 16,
      augment: true,
      seed: 3,
    });
    const after = await weightsOf(m);
    names(m).forEach((name, i) => {
      const frozen = name.startsWith("conv2d");
      assert.equal(
        after[i]!.every((v, k) => v === before[i]![k]),
        frozen,
        `${name} ${frozen ? "changed" : "did not change"} (freeze ${spec})`,
      );
    });
    m.dispose();
  }
});

Deno.test("fit: no gradient kernel runs for the frozen conv layers", async () => {
  const kernels = async (frozen: number) => {
    const m = model();
    freezeLayers(m, frozen);
    const info = await tf.profile(async () => {
      await fit(m, data, { ...quiet, epochs: 1, batchSize: 48 });
    });
    m.dispose();
    return info.kernelNames;
  };
  const backward = /Conv2DBackprop/;
  assert.ok((await kernels(0)).some((k) => backward.test(k)));
  assert.deepEqual((await kernels(2)).filter((k) => backward.test(k)), []);
});

Deno.test("fit: fine-tuning unfreezes every layer and takes one Adam step of its own rate", async () => {
  const m = model();
  freezeLayers(m, 2);
  // By name: freezing moves a layer's weights to the end of `weights`,
  // as in Keras, so positions differ between the phases.
  const byName = async () =>
    new Map((await m.getWeights()).map((w) => [w.name, w.values]));
  let endOfPhase1 = new Map<string, Float32Array>();
  const history = await fit(m, data, {
    ...quiet,
    epochs: 2,
    // One step per epoch: Adam's first step from fresh moments moves each
    // weight by about the rate (lr * g / |g|), whatever the gradient.
    batchSize: data.count,
    fineTune: { epochs: 1, learningRate: 3e-5 },
    onEpochEnd: async (epoch) => {
      if (epoch === 1) endOfPhase1 = await byName();
    },
  });
  assert.equal(history.loss.length, 3);
  assert.ok(m.layers.every((l) => l.trainable));
  const after = await byName();
  names(m).forEach((name) => {
    const step = maxStep(after.get(name)!, endOfPhase1.get(name)!);
    // Carried-over moments (or the phase-1 rate 1e-3) would step otherwise.
    // float32 rounding of the weights adds up to ~1%.
    assert.ok(Math.abs(step - 3e-5) < 3e-7, `${name} moved ${step}`);
  });
  m.dispose();
});

Deno.test("fit: resumed at any epoch, the phase boundary included, a transfer run is bit-exact", async () => {
  const options = {
    ...quiet,
    epochs: 2,
    fineTune: { epochs: 2, learningRate: 1e-4 },
    batchSize: 16,
    augment: true,
    validationSplit: 0.25,
    seed: 9,
  } satisfies FitOptions;
  const build = () => {
    const m = model();
    freezeLayers(m, "conv2d_1");
    return m;
  };
  const straight = build();
  const want = await fit(straight, data, options);
  const wantWeights = await weightsOf(straight);
  straight.dispose();

  const dir = await Deno.makeTempDir({ prefix: "simdnet_transfer_" });
  try {
    for (const stopAfter of [1, 2, 3]) {
      const checkpoint = `${dir}/t${stopAfter}.ckpt`;
      const first = build();
      await assert.rejects(
        fit(first, data, {
          ...options,
          checkpoint,
          onEpochEnd: (epoch) => {
            if (epoch + 1 === stopAfter) throw new Error("killed");
          },
        }),
        /killed/,
      );
      first.dispose();
      const state = await loadCheckpoint(checkpoint);
      assert.equal(state.epoch, stopAfter);
      assert.equal(state.settings.phase, stopAfter > 2 ? 2 : 1);
      assert.equal(state.settings.frozen, "conv2d,conv2d_1");
      // Phase 1's optimizer holds moments of the trainable weights only.
      assert.equal(
        state.optimizer.slots.momentum!.length,
        stopAfter > 2 ? 8 : 4,
      );

      const resumed = build();
      const history = await fit(resumed, data, {
        ...options,
        checkpoint,
        resume: true,
      });
      assert.deepEqual(history, want, `stopped after epoch ${stopAfter}`);
      assert.deepEqual(await weightsOf(resumed), wantWeights);
      resumed.dispose();
    }

    // Another frozen set or fine-tuning rate is another run.
    const checkpoint = `${dir}/t2.ckpt`;
    for (
      const [change, what] of [
        [
          (m: Sequential) => freezeLayers(m, 1),
          /frozen "conv2d,conv2d_1" -> "conv2d"/,
        ],
        [() => {}, /fineTuneLearningRate 0\.0001 -> 0\.001/],
      ] as const
    ) {
      const m = build();
      change(m);
      const error = await fit(m, data, {
        ...options,
        fineTune: {
          epochs: 2,
          learningRate: what.source.includes("0\\.001") ? 1e-3 : 1e-4,
        },
        checkpoint,
        resume: true,
      }).then(() => null, (e) => e);
      m.dispose();
      assert.ok(error instanceof CheckpointError, String(error));
      assert.match(error.message, what);
      assert.match(
        error.message,
        /^cannot resume from .*t2\.ckpt: it was written with other settings/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: moments of a subset of the weights are valid, moments that disagree are not", async () => {
  const m = model();
  freezeLayers(m, 2);
  const dir = await Deno.makeTempDir({ prefix: "simdnet_transfer_" });
  try {
    const checkpoint = `${dir}/c.ckpt`;
    await fit(m, data, { ...quiet, epochs: 1, batchSize: 24, checkpoint });
    const state = await loadCheckpoint(checkpoint);
    assert.deepEqual(
      state.optimizer.slots.momentum!.map((w) => w.name),
      ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"],
    );
    const { momentum: m1, velocity: v } = state.optimizer.slots as Record<
      string,
      WeightValues[]
    >;
    const swapped = {
      ...state,
      optimizer: {
        ...state.optimizer,
        slots: { momentum: m1!, velocity: [v![1]!, v![0]!, ...v!.slice(2)] },
      },
    };
    assert.throws(
      () => decodeCheckpoint(encodeCheckpoint(swapped), "x.ckpt"),
      /optimizer moments do not match the weights/,
    );
    const foreign = {
      ...state,
      optimizer: {
        ...state.optimizer,
        slots: {
          momentum: [
            { ...m1![0]!, name: "conv9/kernel" },
            ...m1!.slice(1),
          ],
          velocity: v!,
        },
      },
    };
    assert.throws(
      () => decodeCheckpoint(encodeCheckpoint(foreign), "x.ckpt"),
      /optimizer moments do not match the weights/,
    );
  } finally {
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
