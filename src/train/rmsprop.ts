/**
 * Keras 3's `RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0,
 * epsilon=1e-7, centered=False)`:
 *
 *     v = rho * v + (1 - rho) * g^2
 *     a = rho * a + (1 - rho) * g              (centered)
 *     d = v - a^2 + epsilon   (centered), else v + epsilon
 *     inc = lr * g / sqrt(d)
 *     m = momentum * m + inc; w = w - m         (momentum > 0)
 *     w = w - inc                               (otherwise)
 *
 * epsilon sits inside the square root, as in Keras 3 and tfjs (Keras 2.x's
 * legacy RMSprop added it outside).
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

/** Options of {@linkcode RMSprop}; Keras' defaults when omitted. */
export interface RmspropOptions extends BaseOptions {
  /** Default 0.001. */
  learningRate?: number;
  /** Decay of the squared-gradient average; default 0.9. */
  rho?: number;
  /** Default 0. */
  momentum?: number;
  /** Default 1e-7. */
  epsilon?: number;
  /** Divide by the gradient's variance estimate instead; default false. */
  centered?: boolean;
}

/** Keras' defaults of RMSprop. */
export const RMSPROP_DEFAULTS = {
  learningRate: 0.001,
  rho: 0.9,
  momentum: 0,
  epsilon: 1e-7,
  centered: false,
} as const;

/**
 * RMSprop with Keras 3's slots: `velocity`, plus `momentum` when momentum > 0
 * and `average_gradient` when centered.
 */
export class RMSprop extends SlotOptimizer {
  readonly kind: OptimizerKind = "rmsprop";
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;

  /** Creates the slot buffers (zeros) for `weights`. */
  constructor(weights: readonly NamedWeight[], options: RmspropOptions = {}) {
    super("RMSprop", weights, options, {
      learningRate: RMSPROP_DEFAULTS.learningRate,
      weightDecay: 0,
    }, [
      "velocity",
      ...((options.momentum ?? 0) > 0 ? ["momentum"] : []),
      ...(options.centered ? ["average_gradient"] : []),
    ]);
    const rho = options.rho ?? RMSPROP_DEFAULTS.rho;
    const mu = options.momentum ?? RMSPROP_DEFAULTS.momentum;
    const eps = options.epsilon ?? RMSPROP_DEFAULTS.epsilon;
    this.rho = checkOption(
      "RMSprop",
      "rho",
      rho,
      rho >= 0 && rho < 1,
      "in [0, 1)",
    );
    this.momentum = checkOption(
      "RMSprop",
      "momentum",
      mu,
      mu >= 0 && mu < 1,
      "in [0, 1)",
    );
    this.epsilon = checkOption("RMSprop", "epsilon", eps, eps > 0, "> 0");
    this.centered = options.centered ?? RMSPROP_DEFAULTS.centered;
  }

  protected updateWeight(i: number, g: tf.Tensor, lr: number): void {
    const w = this.weights[i]!.variable;
    const v = this.slot("velocity", i);
    const rho = this.rho;
    tf.tidy(() => {
      const v2 = tf.add(
        tf.mul(v, tf.scalar(rho)),
        tf.mul(tf.square(g), tf.scalar(1 - rho)),
      );
      v.assign(v2);
      let d = v2;
      if (this.centered) {
        const a = this.slot("average_gradient", i);
        const a2 = tf.add(
          tf.mul(a, tf.scalar(rho)),
          tf.mul(g, tf.scalar(1 - rho)),
        );
        a.assign(a2);
        d = tf.sub(v2, tf.square(a2));
      }
      const inc = tf.div(
        tf.mul(g, tf.scalar(lr)),
        tf.sqrt(tf.add(d, tf.scalar(this.epsilon))),
      );
      if (this.momentum > 0) {
        const m = this.slot("momentum", i);
        const m2 = tf.add(tf.mul(m, tf.scalar(this.momentum)), inc);
        m.assign(m2);
        w.assign(tf.sub(w, m2));
      } else {
        w.assign(tf.sub(w, inc));
      }
    });
  }

  protected ownConfig(): Record<string, ConfigValue> {
    return {
      rho: this.rho,
      momentum: this.momentum,
      epsilon: this.epsilon,
      centered: this.centered,
    };
  }
}
