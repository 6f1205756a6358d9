/**
 * Keras' `SGD(learning_rate=0.01, momentum=0.0, nesterov=False)`, Keras'
 * formulation, where the velocity already holds the learning rate:
 *
 *     m = momentum * m - lr * g
 *     w = w + momentum * m - lr * g     (nesterov)
 *     w = w + m                         (otherwise)
 *     w = w - lr * g                    (momentum 0: no slot is used)
 *
 * PyTorch keeps `b = momentum * b + g` and steps `lr * b` (Nesterov:
 * `lr * (g + momentum * b)`): the same steps at a constant rate, but when
 * the rate changes, PyTorch rescales the whole history with the new rate
 * while Keras' velocity keeps the rates it was built with.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedWeight } from "../nn/layer.ts";
import {
  type BaseOptions,
  checkOption,
  type ConfigValue,
  type OptimizerKind,
  SlotOptimizer,
} from "./optimizer.ts";

/** Options of {@linkcode SGD}; Keras' defaults when omitted. */
export interface SgdOptions extends BaseOptions {
  /** Default 0.01. */
  learningRate?: number;
  /** In [0, 1); default 0 (plain gradient descent). */
  momentum?: number;
  /** Nesterov momentum; default false. */
  nesterov?: boolean;
}

/** Keras' defaults of SGD. */
export const SGD_DEFAULTS = {
  learningRate: 0.01,
  momentum: 0,
  nesterov: false,
} as const;

/** Stochastic gradient descent with optional (Nesterov) momentum. */
export class SGD extends SlotOptimizer {
  readonly kind: OptimizerKind = "sgd";
  readonly momentum: number;
  readonly nesterov: boolean;

  /** Creates the velocity buffers (zeros) for `weights`. */
  constructor(weights: readonly NamedWeight[], options: SgdOptions = {}) {
    super("SGD", weights, options, {
      learningRate: SGD_DEFAULTS.learningRate,
      weightDecay: 0,
    }, (options.momentum ?? 0) > 0 ? ["momentum"] : []);
    const m = options.momentum ?? SGD_DEFAULTS.momentum;
    this.momentum = checkOption(
      "SGD",
      "momentum",
      m,
      m >= 0 && m < 1,
      "in [0, 1)",
    );
    this.nesterov = options.nesterov ?? SGD_DEFAULTS.nesterov;
  }

  protected updateWeight(i: number, g: tf.Tensor, lr: number): void {
    const w = this.weights[i]!.variable;
    const mu = this.momentum;
    tf.tidy(() => {
      const step = tf.mul(g, tf.scalar(lr));
      if (mu === 0) {
        w.assign(tf.sub(w, step));
        return;
      }
      const m = this.slot("momentum", i);
      const m2 = tf.sub(tf.mul(m, tf.scalar(mu)), step);
      m.assign(m2);
      w.assign(
        this.nesterov
          ? tf.sub(tf.add(w, tf.mul(m2, tf.scalar(mu))), step)
          : tf.add(w, m2),
      );
    });
  }

  protected ownConfig(): Record<string, ConfigValue> {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }
}
