/**
 * One training step of the fast recipe's network as `fit` runs it (the
 * frozen whitening stem outside the tape, softmax cross-entropy, SGD with
 * Nesterov momentum 0.85) on a fixed random batch, without the batch
 * source's augmentation: shared by `bench:profile:fast` and `deno bench`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { fastNet } from "../src/nn/fast_net.ts";
import type { Sequential } from "../src/nn/sequential.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";
import { SGD } from "../src/train/sgd.ts";
import { createRng } from "../src/util/random.ts";

/** A fast network, a batch, and a function that runs one step on them. */
export interface FastStep {
  model: Sequential;
  /** Runs one training step; resolves when its loss is read back. */
  step(): Promise<void>;
  /** Frees the model and the batch. */
  dispose(): void;
}

/** Builds {@linkcode FastStep} for `width` and `batch` on the current backend. */
export function fastStep(width: number, batch: number, seed = 14): FastStep {
  const rng = createRng(seed);
  const model = fastNet({ width, seed });
  const vars = model.trainableVariables;
  const sgd = new SGD(model.trainableWeights, {
    learningRate: 0.01,
    momentum: 0.85,
    nesterov: true,
  });
  const x = tf.tensor4d(
    new Float32Array(batch * 32 * 32 * 3).map(() => rng.next()),
    [batch, 32, 32, 3],
  );
  const classes = model.outputShape[0]!;
  const onehot = tf.tidy(() =>
    tf.cast(
      tf.oneHot(
        tf.tensor1d(
          Int32Array.from({ length: batch }, (_, i) => i % classes),
          "int32",
        ),
        classes,
      ),
      "float32",
    )
  );
  const ctx = { training: true, logits: true };
  const stem = model.frozenPrefix;
  return {
    model,
    async step() {
      const features = model.applyLayers(x, 0, stem, ctx);
      const { grads, value } = tf.variableGrads(
        () =>
          softmaxCrossEntropy(
            model.applyLayers(features, stem, model.layers.length, ctx),
            onehot,
          ),
        vars,
      );
      sgd.applyGradients(vars.map((v) => grads[v.name]!));
      await value.data();
      tf.dispose([features, value, ...Object.values(grads)]);
    },
    dispose() {
      tf.dispose([x, onehot]);
      model.dispose();
    },
  };
}
