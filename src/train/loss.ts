/**
 * Categorical cross-entropy from logits, and accuracy.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { AnyLayer } from "../nn/layer.ts";

const fusedCrossEntropy = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [logits, onehot, save] = args as [
      tf.Tensor,
      tf.Tensor,
      tf.GradSaveFunc,
    ];
    const batch = logits.shape[0] ?? 1;
    const shifted = tf.sub(logits, tf.max(logits, -1, true));
    const logProbs = tf.sub(
      shifted,
      tf.log(tf.sum(tf.exp(shifted), -1, true)),
    );
    save([logProbs, onehot]);
    return {
      value: tf.div(tf.neg(tf.sum(tf.mul(onehot, logProbs))), batch),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [lp, oh] = saved as [tf.Tensor, tf.Tensor];
        const scale = tf.div(dy, batch);
        return [
          tf.mul(tf.sub(tf.exp(lp), oh), scale),
          // The targets' gradient, for completeness: -log_softmax / batch.
          tf.mul(tf.neg(lp), scale),
        ];
      },
    };
  },
);

/**
 * Mean over the batch of `-sum(onehot * log_softmax(logits))`, computed
 * stably as `logsumexp(logits) - sum(onehot * logits)`.
 *
 * The gradient is fused by hand (`(softmax - onehot) / batch`) instead of
 * differentiating through max, exp, log and sum. Keras computes the same
 * loss from probabilities clipped to [1e-7, 1 - 1e-7]; from logits there is
 * no clipping, which only matters for predictions more confident than
 * 1 - 1e-7.
 */
export function softmaxCrossEntropy(
  logits: tf.Tensor,
  onehot: tf.Tensor,
): tf.Scalar {
  if (logits.rank !== 2 || onehot.shape.join() !== logits.shape.join()) {
    throw new Error(
      `cross-entropy needs logits and one-hot targets of the same shape ` +
        `[batch, classes], got [${logits.shape}] and [${onehot.shape}]`,
    );
  }
  return fusedCrossEntropy(logits, onehot) as tf.Scalar;
}

/** Number of rows whose arg-max equals the integer label. */
export function correctCount(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.sum(
      tf.cast(
        tf.equal(tf.argMax(logits, -1), tf.cast(labels, "int32")),
        "int32",
      ),
    )
  );
}

/**
 * Keras' label smoothing of one-hot targets:
 * `y * (1 - smoothing) + smoothing / classes`. The rows still sum to 1, so
 * the fused cross-entropy's gradient `softmax - y` stays exact.
 */
export function smoothLabels(onehot: tf.Tensor, smoothing: number): tf.Tensor {
  if (!(smoothing >= 0 && smoothing < 1)) {
    throw new RangeError(
      `label smoothing must be in [0, 1), got ${smoothing}`,
    );
  }
  const classes = onehot.shape[onehot.rank - 1]!;
  return tf.tidy(() =>
    tf.add(tf.mul(onehot, 1 - smoothing), smoothing / classes)
  );
}

/**
 * The sum of the layers' regularization losses (Keras adds each layer's
 * `losses` to the training loss), or null when no layer has one.
 */
export function regularizationLoss(
  layers: readonly AnyLayer[],
): tf.Scalar | null {
  let total: tf.Scalar | null = null;
  for (const layer of layers) {
    const loss = layer.regularizationLoss?.() ?? null;
    if (loss !== null) total = total === null ? loss : tf.add(total, loss);
  }
  return total;
}
