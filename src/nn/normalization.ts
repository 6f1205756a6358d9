/**
 * Keras `Normalization` on the last axis: `(x - mean) / max(sqrt(variance),
 * 1e-7)` (Keras' `backend.epsilon()`), or the inverse with `invert`. The
 * mean and variance come from the config when given there, else from the
 * layer's non-trainable weights `mean`, `variance` and `count`, as Keras
 * saves a layer fitted with `adapt()`. tfjs-layers 4.22 has no such
 * layer; tests check it against the formula.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { boolSetting } from "./config_numbers.ts";
import {
  describe,
  type LayerConfig,
  ModelFormatError,
} from "./config_values.ts";
import type {
  ApplyContext,
  Layer,
  LayerPlan,
  NamedWeight,
  PlannedWeight,
} from "./layer.ts";
import { makeWeight } from "./weights.ts";

/** Keras' `backend.epsilon()`, the floor of the standard deviation. */
const EPSILON = 1e-7;

/** Options of {@linkcode Normalization}. */
export interface NormalizationOptions {
  /** Per-channel (or one) mean; with `variance`, no weights are created. */
  mean?: number | number[] | null;
  /** Per-channel (or one) variance, given together with `mean`. */
  variance?: number | number[] | null;
  /** Undo the normalisation instead: `x * sd + mean`; default false. */
  invert?: boolean;
  name?: string;
}

/** Feature-wise standardisation with fixed statistics. */
export class Normalization implements Layer {
  readonly className = "Normalization";
  name: string;
  trainable = true;
  readonly mean: number[] | null;
  readonly variance: number[] | null;
  readonly invert: boolean;
  weights: NamedWeight[] = [];

  /** Statistics from the options, or weights created at build time. */
  constructor(options: NormalizationOptions = {}) {
    const list = (v: number | number[] | null | undefined) =>
      v == null ? null : typeof v === "number" ? [v] : [...v];
    this.mean = list(options.mean);
    this.variance = list(options.variance);
    this.invert = options.invert ?? false;
    this.name = options.name ?? "";
    if ((this.mean === null) !== (this.variance === null)) {
      throw new RangeError(
        "Normalization needs both mean and variance, or neither (then " +
          "they are weights)",
      );
    }
    const values = [...(this.mean ?? []), ...(this.variance ?? [])];
    if (!values.every(Number.isFinite) || this.variance?.some((v) => v < 0)) {
      throw new RangeError(
        "Normalization mean and variance must be finite, variance >= 0",
      );
    }
  }

  /**
   * The input's shape; without config statistics, `mean` and `variance`
   * `[channels]` and `count` `[]`, all non-trainable.
   */
  plan(inputShape: readonly number[]): LayerPlan {
    const channels = inputShape[inputShape.length - 1];
    if (!channels) {
      throw new Error(
        `${this.name}: Normalization needs inputs with a channels axis, ` +
          `got [${inputShape}]`,
      );
    }
    for (const stat of [this.mean, this.variance]) {
      if (stat && stat.length !== 1 && stat.length !== channels) {
        throw new Error(
          `${this.name}: Normalization has ${stat.length} means or ` +
            `variances for ${channels} channels; give one or ${channels}`,
        );
      }
    }
    const weights: PlannedWeight[] = this.mean !== null ? [] : [
      { name: `${this.name}/mean`, shape: [channels], trainable: false },
      { name: `${this.name}/variance`, shape: [channels], trainable: false },
      { name: `${this.name}/count`, shape: [], trainable: false },
    ];
    return { output: [...inputShape], weights };
  }

  /** Creates the statistics weights (mean 0, variance 1) when needed. */
  build(inputShape: readonly number[]): number[] {
    const { output, weights } = this.plan(inputShape);
    this.weights = weights.map((w) => ({
      ...makeWeight(
        w.name,
        w.shape,
        w.name.endsWith("/variance")
          ? (s) => new Float32Array(s.reduce((a, b) => a * b, 1)).fill(1)
          : null,
      ),
      trainable: false,
    }));
    return output;
  }

  /** `(x - mean) / max(sqrt(variance), 1e-7)`, or its inverse. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const [mw, vw] = this.weights;
    const mean = this.mean ? tf.tensor1d(this.mean) : mw?.variable;
    const variance = this.variance ? tf.tensor1d(this.variance) : vw?.variable;
    if (!mean || !variance) {
      throw new Error(`${this.name}: layer used before build()`);
    }
    const sd = tf.maximum(tf.sqrt(variance), EPSILON);
    return this.invert
      ? tf.add(tf.mul(x, sd), mean)
      : tf.div(tf.sub(x, mean), sd);
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    const out = (v: number[] | null) => v === null || v.length !== 1 ? v : v[0];
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      axis: -1,
      mean: out(this.mean),
      variance: out(this.variance),
      invert: this.invert,
    };
  }
}

function stat(v: unknown): number | number[] | null | undefined {
  if (v == null) return null;
  if (typeof v === "number") return v;
  // Keras writes a per-channel statistic as a (possibly nested) list whose
  // leading axes are 1, e.g. [[[m0, m1, m2]]] for images.
  let flat: unknown = v;
  while (Array.isArray(flat) && flat.length === 1 && Array.isArray(flat[0])) {
    flat = flat[0];
  }
  if (Array.isArray(flat) && flat.every((n) => typeof n === "number")) {
    return flat as number[];
  }
  return undefined;
}

/** Reads a `Normalization` config (axis -1 only). */
export function normalizationFromConfig(
  { name, config: c, where, unsupported }: LayerConfig,
): Normalization {
  const axis = Array.isArray(c.axis) && c.axis.length === 1
    ? c.axis[0]
    : c.axis === undefined
    ? -1
    : c.axis;
  if (axis !== -1) {
    throw unsupported(
      `axis ${describe(c.axis)} (simdnet normalises the last axis only: ` +
        `use axis -1)`,
    );
  }
  const mean = stat(c.mean);
  const variance = stat(c.variance);
  if (mean === undefined || variance === undefined) {
    throw unsupported(
      `mean ${describe(c.mean)} and variance ${describe(c.variance)} (give ` +
        `numbers or per-channel lists, or neither and save them as weights)`,
    );
  }
  try {
    return new Normalization({
      name,
      mean,
      variance,
      invert: boolSetting(c, "invert", where, false),
    });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new ModelFormatError(
      `${where}: ${e.message.replace(/^Normalization /, "")}`,
    );
  }
}
