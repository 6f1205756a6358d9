/**
 * Weight values off the backend: reading a model's weights for saving or
 * checkpoints, and setting them by Keras name with every shape checked
 * before any variable changes.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { type NamedWeight, sizeOf } from "./layer.ts";

/** Weight values detached from the backend, e.g. for saving. */
export interface WeightValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Copies each weight's values off the backend, in order. */
export async function readWeightValues(
  weights: readonly NamedWeight[],
): Promise<WeightValues[]> {
  return await Promise.all(weights.map(async (w) => ({
    name: w.name,
    shape: [...w.variable.shape],
    values: (await w.variable.data()) as Float32Array,
  })));
}

/**
 * Sets `weights` from `values` by Keras name. Every weight must be given,
 * with its shape; nothing is assigned unless all are.
 */
export function assignWeightValues(
  weights: readonly NamedWeight[],
  values: readonly WeightValues[],
): void {
  const byName = new Map(values.map((v) => [v.name, v]));
  for (const w of weights) {
    const v = byName.get(w.name);
    if (!v) throw new Error(`no value given for weight '${w.name}'`);
    const want = w.variable.shape;
    if (v.values.length !== sizeOf(want) || v.shape.join() !== want.join()) {
      throw new Error(
        `weight '${w.name}' has shape [${want}], got [${v.shape}] with ${v.values.length} values`,
      );
    }
  }
  for (const w of weights) {
    const v = byName.get(w.name)!;
    tf.tidy(() => w.variable.assign(tf.tensor(v.values, w.variable.shape)));
  }
}
