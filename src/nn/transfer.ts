/**
 * Transfer learning on a {@linkcode Model} (Sequential or functional): freezing the first layers
 * (Keras' `layer.trainable = False`) and replacing the classification head
 * by a fresh `Dense` of another size.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { cifarCnn } from "./cifar_cnn.ts";
 * import { freezeLayers, replaceHead } from "./transfer.ts";
 *
 * await tf.setBackend("cpu");
 * const model = cifarCnn({ seed: 1, inputShape: [8, 8, 3] });
 * replaceHead(model, 5, { seed: 2 }); // dense_head: 5 classes, fresh weights
 * freezeLayers(model, "conv2d_3"); // the conv blocks stay as they are
 * model.summary(); // ... Trainable params: 134,149 / Non-trainable params: 65,568
 * model.dispose();
 * ```
 *
 * @module
 */

import { createRng } from "../util/random.ts";
import { Dense } from "./dense.ts";
import { glorotUniform } from "./initializers.ts";
import type { Model } from "./model.ts";

/**
 * How many leading layers `spec` freezes: a count `N` (the first N layers)
 * or a layer name (up to and including that layer). An unknown name or an
 * out-of-range count is an error listing the layers.
 */
export function frozenCount(model: Model, spec: number | string): number {
  const names = model.layers.map((l) => l.name);
  if (typeof spec === "number") {
    if (!Number.isInteger(spec) || spec < 0 || spec > names.length) {
      throw new RangeError(
        `cannot freeze ${spec} layers: the model has ${names.length} ` +
          `(${names.join(", ")}); pass 0 to ${names.length} or a layer name`,
      );
    }
    return spec;
  }
  const i = names.indexOf(spec);
  if (i < 0) {
    throw new RangeError(
      `no layer named '${spec}' to freeze; the layers are ${names.join(", ")}`,
    );
  }
  return i + 1;
}

/**
 * Freezes the first layers (Keras `trainable = false`) and makes the rest
 * trainable: `spec` is a count `N` or the name of the last layer to
 * freeze. Frozen layers are not updated by `fit`, no gradient is computed
 * for them, `summary()` counts them as non-trainable, and `model.json`
 * saves `trainable: false`. Returns the names of the frozen layers.
 */
export function freezeLayers(
  model: Model,
  spec: number | string,
): string[] {
  const n = frozenCount(model, spec);
  model.layers.forEach((layer, i) => (layer.trainable = i >= n));
  return frozenLayerNames(model);
}

/** Makes every layer trainable again (the fine-tuning phase). */
export function unfreezeAll(model: Model): void {
  for (const layer of model.layers) layer.trainable = true;
}

/** Names of the layers whose `trainable` is false, in order. */
export function frozenLayerNames(model: Model): string[] {
  return model.layers.filter((l) => !l.trainable).map((l) => l.name);
}

/** Options of {@linkcode replaceHead}. */
export interface ReplaceHeadOptions {
  /** Seed of the new kernel's Glorot-uniform values; default 0. */
  seed?: number;
  /** Name of the new layer; default `dense_head` (`dense_head_1`, … if taken). */
  name?: string;
}

/** What {@linkcode replaceHead} did, for the notice a CLI prints. */
export interface HeadReplacement {
  /** Name of the layer replaced. */
  old: string;
  /** Its number of outputs. */
  oldUnits: number;
  /** Name of the new layer. */
  name: string;
  /** Its number of outputs (the classes). */
  units: number;
}

function freeName(model: Model, base: string, replaced: string): string {
  const taken = new Set(
    model.layers.map((l) => l.name).filter((n) => n !== replaced),
  );
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

/**
 * Replaces the model's head, its last layer, which must be a `Dense`, by a
 * new trainable `Dense` of `classes` units with the same activation, a
 * fresh Glorot-uniform kernel drawn from `seed` and a zero bias (Keras'
 * defaults). The old head's weights are freed.
 */
export function replaceHead(
  model: Model,
  classes: number,
  options: ReplaceHeadOptions = {},
): HeadReplacement {
  const index = model.layers.length - 1;
  const old = model.layers[index]!;
  if (!(old instanceof Dense)) {
    throw new Error(
      `the last layer '${old.name}' is a ${old.className}, not a Dense head; ` +
        `transfer learning replaces a final Dense layer`,
    );
  }
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(
      `a classification head needs a whole number of classes >= 2, got ${classes}`,
    );
  }
  const name = options.name ?? freeName(model, "dense_head", old.name);
  const head = new Dense({
    units: classes,
    activation: old.activation,
    useBias: old.useBias,
    name,
  });
  model.replaceLayer(
    index,
    head,
    glorotUniform(createRng(options.seed ?? 0)),
  );
  return { old: old.name, oldUnits: old.units, name, units: classes };
}
