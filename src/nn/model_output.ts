/**
 * What a classifier's output means: probabilities (its last layer applies
 * `softmax`) or logits (the last layer is linear), and class probabilities
 * from either. Training always works on logits (`ctx.logits` skips a final
 * softmax), while the classifier, the report and evaluation want
 * probabilities; this file is the one place that tells the two apart, so a
 * model converted from Keras with `from_logits=True` (a linear head) serves
 * and reports like the seed CNN.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** The parts of a layer this file reads (any layer, merge layers included). */
interface LayerLike {
  readonly name: string;
  readonly className: string;
  config(): Record<string, unknown>;
}

/** The parts of a model this file reads: a Sequential or a graph model. */
export interface OutputModel {
  readonly layers: readonly LayerLike[];
  apply(x: tf.Tensor, ctx?: { training: boolean; logits?: boolean }): tf.Tensor;
}

/** How the last layer turns features into class scores. */
export interface ModelOutput {
  /**
   * `softmax`: the model outputs probabilities; `logits`: a linear last
   * layer (or one without an activation); `other`: another activation
   * (sigmoid, relu, ...), which is neither.
   */
  kind: "softmax" | "logits" | "other";
  /** The last layer's name. */
  layer: string;
  /** The last layer's Keras class name. */
  className: string;
  /** Its activation as Keras names it (`linear` when it has none). */
  activation: string;
}

/**
 * Classifies the model's output by its last layer's Keras `activation`
 * config: `Dense(activation="softmax")` and `Activation("softmax")` give
 * probabilities, `linear` or no activation gives logits.
 */
export function modelOutput(model: Pick<OutputModel, "layers">): ModelOutput {
  const last = model.layers[model.layers.length - 1];
  if (last === undefined) throw new RangeError("the model has no layers");
  const value = last.config().activation;
  // Keras writes the activation's name; a nested {class_name, config}
  // (serialized activation objects) names it there.
  const activation = typeof value === "string"
    ? value
    : typeof value === "object" && value !== null &&
        typeof (value as Record<string, unknown>).class_name === "string"
    ? String((value as Record<string, unknown>).class_name).toLowerCase()
    : "linear";
  const kind = activation === "softmax"
    ? "softmax"
    : activation === "linear" || activation === "None"
    ? "logits"
    : "other";
  return { kind, layer: last.name, className: last.className, activation };
}

/**
 * Class probabilities of a batch in inference mode: the model's own output
 * when it ends in softmax, else the softmax of its output (logits). The
 * caller disposes the result.
 */
export function probabilities(model: OutputModel, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const y = model.apply(x, { training: false });
    return modelOutput(model).kind === "softmax" ? y : tf.softmax(y);
  });
}

/**
 * Checks that the model really gives logits when training asks for them
 * (`ctx.logits`): for a softmax model the logits-mode output must differ
 * from the probabilities and give them back through softmax; for a logits
 * model both modes must agree. One forward pass of `x` (a small batch of
 * any values) each way. Returns the problem as one line, or null; a layer
 * that ignores `ctx.logits` would otherwise train on probabilities taken
 * for logits without any error.
 */
export async function logitsProblem(
  model: OutputModel,
  x: tf.Tensor,
): Promise<string | null> {
  const out = modelOutput(model);
  const [plain, viaLogits, same] = tf.tidy(() => {
    const y = model.apply(x, { training: false });
    const z = model.apply(x, { training: false, logits: true });
    const back = out.kind === "softmax" ? tf.softmax(z) : z;
    return [
      tf.max(tf.abs(tf.sub(back, y))),
      tf.max(tf.abs(y)),
      tf.max(tf.abs(tf.sub(z, y))),
    ];
  });
  // `data()`: the WebGPU backend cannot read synchronously in Deno.
  const [diff, scale, identical] = await Promise.all(
    [plain, viaLogits, same].map(async (t) => (await t.data())[0]!),
  );
  tf.dispose([plain, viaLogits, same]);
  const where = `layer '${out.layer}' (${out.className})`;
  if (out.kind === "softmax" && identical! < 1e-7) {
    return `${where} applies softmax even when training asks for logits; ` +
      `it must skip its softmax when ctx.logits is set`;
  }
  // 1e-4 relative: float32 round-off of one softmax over the scores.
  if (!(diff! <= 1e-4 * Math.max(1, scale!))) {
    return `${where}: the outputs with and without ctx.logits disagree by ` +
      `${diff}; a layer must change only a final softmax for logits`;
  }
  return null;
}
