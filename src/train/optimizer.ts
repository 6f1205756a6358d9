/**
 * The `Optimizer` interface every optimizer of `fit` implements, and the
 * base class that holds what they share: the weights, the per-weight slot
 * buffers (Keras' optimizer variables, e.g. Adam's `momentum` and
 * `velocity`), parameter groups, Keras 3's decoupled `weight_decay`, and the
 * state a checkpoint saves.
 *
 * Learning rate: `learningRate` is the current rate; `fit` sets it before
 * each step from the schedule (and ReduceLROnPlateau), as Keras 3 reads its
 * schedule at `iterations` before each update.
 *
 * Weight decay (Keras 3's `BaseOptimizer._apply_weight_decay`, run before
 * the update step): `w -= w * weight_decay * lr`, with the weight's own rate
 * (its group's multiplier included).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedWeight } from "../nn/layer.ts";
import type { WeightValues } from "../nn/sequential.ts";

/** The optimizers `fit` knows, by Keras' lower-case names. */
export type OptimizerKind = "sgd" | "adam" | "adamw" | "rmsprop";

/**
 * A parameter group: the weights whose name matches `match` (a regular
 * expression, tested against names such as `batch_normalization/beta`) get
 * their own learning-rate multiplier and weight decay. The first matching
 * group wins; other weights use the optimizer's settings.
 */
export interface ParamGroup {
  /** Regular expression on the weight name. */
  match: string;
  /** Multiplies the optimizer's current learning rate. Default 1. */
  learningRateMultiplier?: number;
  /** This group's decoupled weight decay; default the optimizer's. */
  weightDecay?: number;
}

/** An optimizer's state, for checkpoints. */
export interface OptimizerState {
  /** The optimizer's kind; a state is only restored into the same kind. */
  kind: OptimizerKind;
  /** Updates applied (Keras' `iterations`). */
  iterations: number;
  /** Slot buffers by slot name (in `slotNames` order), one per weight. */
  slots: Record<string, WeightValues[]>;
}

/** Keras-style config values. */
export type ConfigValue = number | boolean | string | null;

/** What `fit` needs of an optimizer. */
export interface Optimizer {
  /** Keras' lower-case name of the optimizer. */
  readonly kind: OptimizerKind;
  /** The current learning rate (set by the schedule each step). */
  learningRate: number;
  /** The slot buffers it keeps per weight, in checkpoint order. */
  readonly slotNames: readonly string[];
  /** Updates applied so far. */
  iterations: number;
  /** Applies one update; `grads[i]` belongs to the `i`-th weight. */
  applyGradients(grads: readonly tf.Tensor[]): void;
  /** Copies the state off the backend. */
  getState(): Promise<OptimizerState>;
  /** Restores a state of the same kind and weights. */
  setState(state: OptimizerState): void;
  /** Keras' `get_config()` keys (snake_case), for settings and reports. */
  getConfig(): Record<string, ConfigValue>;
  /** Frees the slot buffers. */
  dispose(): void;
}

/** Options every optimizer takes. */
export interface BaseOptions {
  /** Initial learning rate. */
  learningRate?: number;
  /** Keras 3's decoupled weight decay; default 0 (AdamW: 0.004). */
  weightDecay?: number;
  /** Per-group learning-rate multipliers and weight decays. */
  paramGroups?: readonly ParamGroup[];
}

/** Throws a one-line RangeError naming the option and its valid range. */
export function checkOption(
  optimizer: string,
  name: string,
  value: number,
  ok: boolean,
  range: string,
): number {
  if (!ok || !Number.isFinite(value)) {
    throw new RangeError(
      `${optimizer} ${name} ${value} is out of range; it must be ${range}`,
    );
  }
  return value;
}

/** Each weight's learning-rate multiplier and weight decay. */
function resolveGroups(
  kind: string,
  weights: readonly NamedWeight[],
  groups: readonly ParamGroup[],
  weightDecay: number,
): { multipliers: number[]; decays: number[] } {
  const compiled = groups.map((g) => {
    let re: RegExp;
    try {
      re = new RegExp(g.match);
    } catch {
      throw new RangeError(
        `${kind} parameter group match '${g.match}' is not a regular expression`,
      );
    }
    const mult = g.learningRateMultiplier ?? 1;
    checkOption(kind, "learningRateMultiplier", mult, mult >= 0, ">= 0");
    const wd = g.weightDecay ?? weightDecay;
    checkOption(kind, "group weightDecay", wd, wd >= 0, ">= 0");
    return { re, mult, wd };
  });
  const multipliers: number[] = [];
  const decays: number[] = [];
  for (const w of weights) {
    const g = compiled.find((c) => c.re.test(w.name));
    multipliers.push(g?.mult ?? 1);
    decays.push(g?.wd ?? weightDecay);
  }
  return { multipliers, decays };
}

/**
 * The shared part of the optimizers: slots, groups, weight decay, state.
 * A subclass names its slots and implements `updateWeight`.
 */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly kind: OptimizerKind;
  learningRate: number;
  readonly weightDecay: number;
  iterations = 0;
  readonly slotNames: readonly string[];
  protected readonly weights: NamedWeight[];
  /** Slot buffers: `slots[s][i]` is slot `slotNames[s]` of weight `i`. */
  protected readonly slots: tf.Variable[][];
  /** Learning-rate multiplier of each weight. */
  protected readonly multipliers: number[];
  /** Weight decay of each weight. */
  protected readonly decays: number[];
  readonly #groups: readonly ParamGroup[];

  /**
   * Creates the slot buffers up front (zeros), so the number of live
   * tensors does not change after the first step.
   */
  constructor(
    name: string,
    weights: readonly NamedWeight[],
    options: BaseOptions,
    defaults: { learningRate: number; weightDecay: number },
    slotNames: readonly string[],
  ) {
    this.learningRate = checkOption(
      name,
      "learningRate",
      options.learningRate ?? defaults.learningRate,
      (options.learningRate ?? defaults.learningRate) > 0,
      "> 0",
    );
    const wd = options.weightDecay ?? defaults.weightDecay;
    this.weightDecay = checkOption(name, "weightDecay", wd, wd >= 0, ">= 0");
    this.#groups = [...(options.paramGroups ?? [])];
    this.weights = [...weights];
    const resolved = resolveGroups(name, weights, this.#groups, wd);
    this.multipliers = resolved.multipliers;
    this.decays = resolved.decays;
    this.slotNames = slotNames;
    this.slots = slotNames.map(() =>
      this.weights.map((w) =>
        tf.tidy(() => tf.variable(tf.zerosLike(w.variable), false))
      )
    );
  }

  /** Slot `name` of weight `i`. */
  protected slot(name: string, i: number): tf.Variable {
    return this.slots[this.slotNames.indexOf(name)]![i]!;
  }

  /** Updates weight `i` with gradient `g` at learning rate `lr` (its group's). */
  protected abstract updateWeight(
    i: number,
    g: tf.Tensor,
    lr: number,
  ): void;

  /** Called once per step before the weights are updated (`iterations` already counts it). */
  protected beginStep(): void {}

  /** Keras' config of the subclass' own hyper-parameters. */
  protected abstract ownConfig(): Record<string, ConfigValue>;

  applyGradients(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.weights.length) {
      throw new Error(
        `${this.kind} got ${grads.length} gradients for ${this.weights.length} weights`,
      );
    }
    this.iterations++;
    this.beginStep();
    this.weights.forEach((w, i) => {
      const lr = this.learningRate * this.multipliers[i]!;
      const wd = this.decays[i]!;
      if (wd > 0) {
        // Keras 3: decoupled decay before the update, at the current rate.
        tf.tidy(() => {
          w.variable.assign(
            tf.sub(w.variable, tf.mul(w.variable, tf.scalar(wd * lr))),
          );
        });
      }
      this.updateWeight(i, grads[i]!, lr);
    });
  }

  async getState(): Promise<OptimizerState> {
    const slots: Record<string, WeightValues[]> = {};
    for (const [s, name] of this.slotNames.entries()) {
      slots[name] = await Promise.all(
        this.slots[s]!.map(async (t, i) => ({
          name: this.weights[i]!.name,
          shape: [...t.shape],
          values: (await t.data()) as Float32Array,
        })),
      );
    }
    return { kind: this.kind, iterations: this.iterations, slots };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new Error(
        `optimizer state is ${state.kind}'s, not ${this.kind}'s`,
      );
    }
    for (const [s, slot] of this.slotNames.entries()) {
      const saved = state.slots[slot] ?? [];
      const vars = this.slots[s]!;
      // Exactly this optimizer's weights: slots of other weights would
      // mean the state belongs to another set of frozen layers.
      if (saved.length !== vars.length) {
        throw new Error(
          `optimizer state has ${slot} slots of ${saved.length} weights for ` +
            `${vars.length} trainable weights`,
        );
      }
      const byName = new Map(saved.map((v) => [v.name, v]));
      vars.forEach((t, i) => {
        const name = this.weights[i]!.name;
        const v = byName.get(name);
        if (!v || v.values.length !== t.size) {
          throw new Error(
            `optimizer state has no ${slot} of ${t.size} values for '${name}'`,
          );
        }
        tf.tidy(() => t.assign(tf.tensor(v.values, t.shape)));
      });
    }
    this.iterations = state.iterations;
  }

  getConfig(): Record<string, ConfigValue> {
    return {
      name: this.kind,
      learning_rate: this.learningRate,
      weight_decay: this.weightDecay,
      ...this.ownConfig(),
      ...(this.#groups.length > 0
        ? { param_groups: JSON.stringify(this.#groups) }
        : {}),
    };
  }

  dispose(): void {
    tf.dispose(this.slots.flat());
  }
}
