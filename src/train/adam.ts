/**
 * Adam with Keras' defaults (learning rate 0.001, beta1 0.9, beta2 0.999,
 * epsilon 1e-7) and Keras' update rule, where epsilon is added after the
 * bias correction has been folded into the step size:
 *
 *     alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 *     m = beta1 * m + (1 - beta1) * g
 *     v = beta2 * v + (1 - beta2) * g^2
 *     w = w - alpha * m / (sqrt(v) + epsilon)
 *
 * With `weightDecay` (Keras 3's decoupled decay, `w -= w * wd * lr` before
 * the update) and as {@linkcode AdamW} (the same with Keras' default decay
 * 0.004). Without decay or groups the update is exactly the seed's.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { FUSED_ADAM, type FusedAdamAttrs } from "../kernels/custom_kernels.ts";
import type { NamedWeight } from "../nn/layer.ts";
import {
  type BaseOptions,
  checkOption,
  type ConfigValue,
  type OptimizerKind,
  type OptimizerState,
  SlotOptimizer,
} from "./optimizer.ts";

/** Options of {@linkcode Adam}; Keras' defaults when omitted. */
export interface AdamOptions extends BaseOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adam's state, for checkpoints: slots `momentum` (m) and `velocity` (v). */
export type AdamState = OptimizerState;

/**
 * One variable's update: one fused kernel where the backend has it (the
 * wasm pool), else a few element-wise ops. `alpha` is the bias-corrected
 * step size for this iteration.
 */
export function adamUpdate(
  param: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  alpha: number,
  beta1: number,
  beta2: number,
  epsilon: number,
): void {
  tf.tidy(() => {
    if (tf.getKernel(FUSED_ADAM, tf.getBackend())) {
      const attrs: FusedAdamAttrs = { alpha, beta1, beta2, epsilon };
      const [w2, m2, v2] = tf.engine().runKernel(
        FUSED_ADAM,
        { w: param, g: grad, m, v },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      param.assign(w2!);
      m.assign(m2!);
      v.assign(v2!);
      return;
    }
    const newM = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
    const newV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
    const step = tf.div(
      tf.mul(newM, tf.scalar(alpha)),
      tf.add(tf.sqrt(newV), epsilon),
    );
    param.assign(tf.sub(param, step));
    m.assign(newM);
    v.assign(newV);
  });
}

/** Keras' defaults. */
export const ADAM_DEFAULTS: Readonly<
  Required<Omit<AdamOptions, "weightDecay" | "paramGroups">>
> = {
  learningRate: 0.001,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
};

/** The Adam optimiser over a fixed list of named weights. */
export class Adam extends SlotOptimizer {
  readonly kind: OptimizerKind = "adam";
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  /** Creates the moment buffers (zeros) for `weights`. */
  constructor(
    weights: readonly NamedWeight[],
    options: AdamOptions = {},
    name = "Adam",
    defaultDecay = 0,
  ) {
    super(name, weights, options, {
      learningRate: ADAM_DEFAULTS.learningRate,
      weightDecay: defaultDecay,
    }, ["momentum", "velocity"]);
    const b1 = options.beta1 ?? ADAM_DEFAULTS.beta1;
    const b2 = options.beta2 ?? ADAM_DEFAULTS.beta2;
    const eps = options.epsilon ?? ADAM_DEFAULTS.epsilon;
    this.beta1 = checkOption(name, "beta1", b1, b1 >= 0 && b1 < 1, "in [0, 1)");
    this.beta2 = checkOption(name, "beta2", b2, b2 >= 0 && b2 < 1, "in [0, 1)");
    this.epsilon = checkOption(name, "epsilon", eps, eps > 0, "> 0");
  }

  protected updateWeight(i: number, g: tf.Tensor, lr: number): void {
    const t = this.iterations;
    // The seed's expression, term for term, so its results do not change.
    const alpha = lr * Math.sqrt(1 - this.beta2 ** t) / (1 - this.beta1 ** t);
    adamUpdate(
      this.weights[i]!.variable,
      g,
      this.slots[0]![i]!,
      this.slots[1]![i]!,
      alpha,
      this.beta1,
      this.beta2,
      this.epsilon,
    );
  }

  protected ownConfig(): Record<string, ConfigValue> {
    return {
      beta_1: this.beta1,
      beta_2: this.beta2,
      epsilon: this.epsilon,
      amsgrad: false,
    };
  }
}

/**
 * Keras' `AdamW`: Adam with decoupled weight decay, default 0.004
 * (`w -= w * weight_decay * lr` before each Adam update).
 */
export class AdamW extends Adam {
  override readonly kind: OptimizerKind = "adamw";

  /** Creates the moment buffers (zeros) for `weights`. */
  constructor(weights: readonly NamedWeight[], options: AdamOptions = {}) {
    super(weights, options, "AdamW", ADAMW_WEIGHT_DECAY);
  }
}

/** Keras' default `weight_decay` of AdamW. */
export const ADAMW_WEIGHT_DECAY = 0.004;
