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
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { FUSED_ADAM, type FusedAdamAttrs } from "../kernels/custom_kernels.ts";
import type { NamedWeight } from "../nn/layer.ts";
import type { WeightValues } from "../nn/sequential.ts";

/** Options of {@linkcode Adam}; Keras' defaults when omitted. */
export interface AdamOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adam's state, for checkpoints. */
export interface AdamState {
  /** Number of updates applied (Keras' `iterations`). */
  iterations: number;
  /** First moments, by weight name. */
  m: WeightValues[];
  /** Second moments, by weight name. */
  v: WeightValues[];
}

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
export const ADAM_DEFAULTS: Readonly<Required<AdamOptions>> = {
  learningRate: 0.001,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
};

function check(name: keyof AdamOptions, value: number, ok: boolean): number {
  if (!ok || !Number.isFinite(value)) {
    throw new RangeError(
      `Adam ${name} ${value} is out of range; Keras' default is ${
        ADAM_DEFAULTS[name]
      }`,
    );
  }
  return value;
}

/** The Adam optimiser over a fixed list of named weights. */
export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Updates applied so far. */
  iterations = 0;
  readonly #weights: NamedWeight[];
  readonly #m: tf.Variable[];
  readonly #v: tf.Variable[];

  /**
   * Creates the moment buffers up front (zeros), so the number of live
   * tensors does not change after the first step.
   */
  constructor(weights: readonly NamedWeight[], options: AdamOptions = {}) {
    const o = {
      learningRate: options.learningRate ?? ADAM_DEFAULTS.learningRate,
      beta1: options.beta1 ?? ADAM_DEFAULTS.beta1,
      beta2: options.beta2 ?? ADAM_DEFAULTS.beta2,
      epsilon: options.epsilon ?? ADAM_DEFAULTS.epsilon,
    };
    this.learningRate = check(
      "learningRate",
      o.learningRate,
      o.learningRate > 0,
    );
    this.beta1 = check("beta1", o.beta1, o.beta1 >= 0 && o.beta1 < 1);
    this.beta2 = check("beta2", o.beta2, o.beta2 >= 0 && o.beta2 < 1);
    this.epsilon = check("epsilon", o.epsilon, o.epsilon > 0);
    this.#weights = [...weights];
    const zeros = () =>
      this.#weights.map((w) =>
        tf.tidy(() => tf.variable(tf.zerosLike(w.variable), false))
      );
    this.#m = zeros();
    this.#v = zeros();
  }

  /**
   * Applies one update. `grads[i]` is the gradient of the `i`-th weight
   * given to the constructor.
   */
  applyGradients(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.#weights.length) {
      throw new Error(
        `Adam got ${grads.length} gradients for ${this.#weights.length} weights`,
      );
    }
    this.iterations++;
    const t = this.iterations;
    const alphaValue = this.learningRate * Math.sqrt(1 - this.beta2 ** t) /
      (1 - this.beta1 ** t);
    this.#weights.forEach((w, i) => {
      adamUpdate(
        w.variable,
        grads[i]!,
        this.#m[i]!,
        this.#v[i]!,
        alphaValue,
        this.beta1,
        this.beta2,
        this.epsilon,
      );
    });
  }

  /** Copies the state off the backend. */
  async getState(): Promise<AdamState> {
    const read = (vars: tf.Variable[]) =>
      Promise.all(vars.map(async (t, i) => ({
        name: this.#weights[i]!.name,
        shape: [...t.shape],
        values: (await t.data()) as Float32Array,
      })));
    return {
      iterations: this.iterations,
      m: await read(this.#m),
      v: await read(this.#v),
    };
  }

  /** Restores a state from {@linkcode Adam.getState}; names and shapes must match. */
  setState(state: AdamState): void {
    const load = (vars: tf.Variable[], saved: WeightValues[], what: string) => {
      // Exactly this optimizer's weights: moments of other weights would
      // mean the state belongs to another set of frozen layers.
      if (saved.length !== vars.length) {
        throw new Error(
          `optimizer state has ${what}s of ${saved.length} weights for ` +
            `${vars.length} trainable weights`,
        );
      }
      const byName = new Map(saved.map((s) => [s.name, s]));
      vars.forEach((t, i) => {
        const name = this.#weights[i]!.name;
        const s = byName.get(name);
        if (!s || s.values.length !== t.size) {
          throw new Error(
            `optimizer state has no ${what} of ${t.size} values for '${name}'`,
          );
        }
        tf.tidy(() => t.assign(tf.tensor(s.values, t.shape)));
      });
    };
    load(this.#m, state.m, "first moment");
    load(this.#v, state.v, "second moment");
    this.iterations = state.iterations;
  }

  /** Frees the moment buffers. */
  dispose(): void {
    tf.dispose([...this.#m, ...this.#v]);
  }
}
