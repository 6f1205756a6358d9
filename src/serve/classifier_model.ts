/**
 * The check `Classifier.load` and `Classifier.fromBytes` make on a model
 * read from files or bytes. A model file may describe any Sequential or
 * functional model; one that is no image classifier is a bad model file (exit 2 in
 * the CLIs), not a caller's `RangeError`.
 *
 * @module
 */

import {
  BYTE_SCALE,
  ModelFormatError,
  type ModelMetadata,
  type Normalization,
} from "../nn/model_io.ts";
import type { Model } from "../nn/model.ts";

/**
 * `model`, checked to be an image classifier (RGB input, two classes or
 * more); otherwise it is freed and a {@linkcode ModelFormatError} naming
 * `where` is thrown.
 */
export function classifierModel(model: Model, where: string): Model {
  const [, , c] = model.inputShape;
  const [classes] = model.outputShape;
  const problem = model.inputShape.length !== 3 || c !== 3
    ? `its input is [${model.inputShape}], not RGB images [height, width, 3]`
    : model.outputShape.length !== 1 || !classes || classes < 2
    ? `its output is [${model.outputShape}], not [classes >= 2]`
    : null;
  if (problem !== null) {
    model.dispose();
    throw new ModelFormatError(
      `${where}: the model is not an image classifier: ${problem}`,
    );
  }
  return model;
}

/**
 * How a classifier must rescale its `byte / 255` inputs for a model saved
 * with `metadata`: null when the model takes `byte / 255` itself (all
 * simdnet models so far), else the model's `byte * scale + offset`.
 */
export function inputRescale(
  metadata: ModelMetadata | null,
): Normalization | null {
  const norm = metadata?.normalization ?? BYTE_SCALE;
  const plain = Math.abs(norm.scale - BYTE_SCALE.scale) < 1e-12 &&
    norm.offset === 0;
  return plain ? null : norm;
}
