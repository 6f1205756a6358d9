/**
 * Helpers shared by the gradient configs in `gradients.ts` and
 * `gradients_nn.ts`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, NamedAttrMap } from "@tensorflow/tfjs-core";

/** Map from kernel input name to a thunk computing that input's gradient. */
export type GradMap = Record<string, () => tf.Tensor>;

/** Simplified gradient function: single `dy`, saved tensors, attributes. */
export type SimpleGradFunc = (
  dy: tf.Tensor,
  saved: tf.Tensor[],
  attrs: NamedAttrMap,
) => GradMap;

/** Options of {@linkcode defineGradient} about which tensors to keep. */
export interface SaveSpec {
  /** Names of the kernel inputs the gradient reads. */
  inputs?: string[];
  /** Keep the kernel's output (saved after the inputs). */
  output?: boolean;
  /** Keep every input, for kernels with a variable input count. */
  allInputs?: boolean;
}

/** Registers `fn` as the gradient of `kernelName`. */
export function defineGradient(
  kernelName: string,
  save: SaveSpec,
  fn: SimpleGradFunc,
): void {
  const config: GradConfig = {
    kernelName,
    inputsToSave: save.inputs,
    outputsToSave: save.output ? [true] : undefined,
    saveAllInputs: save.allInputs,
    gradFunc: (dy, saved, attrs) =>
      fn(Array.isArray(dy) ? first(dy) : dy, saved, attrs),
  };
  tf.registerGradient(config);
}

/** Returns `a[0]`, throwing if absent (keeps `noUncheckedIndexedAccess` honest). */
export function first<T>(a: readonly T[]): T {
  return at(a, 0);
}

/** Returns `a[i]`, throwing if out of range. */
export function at<T>(a: readonly T[], i: number): T {
  const v = a[i];
  if (v === undefined) throw new Error(`internal: missing saved tensor #${i}`);
  return v;
}

/**
 * Sums `g` down to `shape`, undoing numpy-style broadcasting: leading axes
 * that `shape` lacks and axes where `shape` has 1 are reduced.
 */
export function unbroadcast(g: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (tf.util.arraysEqual(g.shape, shape as number[])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const reduced = axes.length > 0 ? tf.sum(g, axes) : g;
  return tf.reshape(reduced, shape as number[]);
}

/** Normalises a reduction `axis` attribute to sorted non-negative axes. */
export function reductionAxes(
  axis: unknown,
  rank: number,
): number[] {
  if (axis === null || axis === undefined) {
    return Array.from({ length: rank }, (_, i) => i);
  }
  const list = Array.isArray(axis) ? axis as number[] : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
}
