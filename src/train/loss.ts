/**
 * Categorical cross-entropy from logits, and accuracy.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

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
