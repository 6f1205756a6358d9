/**
 * Layers, the `Sequential` model, the seed notebook's CIFAR-10 CNN, and
 * saving and loading in the TF.js Layers format (`model.json` and weight
 * shards, readable by `tf.loadLayersModel`; model files are checked as
 * untrusted input, and carry the class names, input shape and
 * normalization, read back by `modelMetadata`), and transfer learning
 * (`freezeLayers`, `replaceHead`).
 *
 * ```ts
 * import { initRuntime } from "@simdnet/simdnet/runtime";
 * import {
 *   Conv2D,
 *   Dense,
 *   Flatten,
 *   MaxPooling2D,
 *   modelFromArtifacts,
 *   modelToArtifacts,
 *   Sequential,
 * } from "@simdnet/simdnet/nn";
 *
 * await initRuntime({ backend: "cpu" });
 * const model = new Sequential([
 *   new Conv2D({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }),
 *   new MaxPooling2D(),
 *   new Flatten(),
 *   new Dense({ units: 3, activation: "softmax" }),
 * ], { inputShape: [8, 8, 3], seed: 1 });
 * console.log(model.countParams()); // 112 + 195 = 307
 *
 * const { json, weights } = await modelToArtifacts(model);
 * const copy = modelFromArtifacts(json, weights);
 * console.log(copy.outputShape); // [ 3 ]
 * ```
 *
 * @module
 */

export { cifarCnn, type CifarCnnOptions } from "./cifar_cnn.ts";
export { Conv2D, type Conv2DOptions } from "./conv2d.ts";
export { Dense, type DenseOptions } from "./dense.ts";
export { Dropout } from "./dropout.ts";
export { Flatten } from "./flatten.ts";
export { MaxPooling2D, type MaxPooling2DOptions } from "./max_pooling2d.ts";
export {
  AveragePooling2D,
  type AveragePooling2DOptions,
} from "./average_pooling2d.ts";
export {
  DepthwiseConv2D,
  type DepthwiseConv2DOptions,
} from "./depthwise_conv2d.ts";
export {
  SeparableConv2D,
  type SeparableConv2DOptions,
} from "./separable_conv2d.ts";
export {
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  type GlobalPooling2DOptions,
} from "./global_pooling2d.ts";
export type { Pooling2DOptions } from "./pooling2d.ts";
export type { Regularizer } from "./regularizers.ts";
export type { ApplyContext, Initializer, Layer, NamedWeight } from "./layer.ts";
export { glorotUniform, zeros } from "./initializers.ts";
export type { FusedActivation } from "./fused.ts";
export {
  type LayerOutput,
  Sequential,
  type SequentialOptions,
  type WeightValues,
} from "./sequential.ts";
export {
  DEFAULT_LIMITS,
  loadModel,
  loadModelArtifacts,
  type LoadOptions,
  type ModelArtifacts,
  ModelFormatError,
  modelFromArtifacts,
  type ModelJson,
  type ModelJsonInput,
  type ModelLimits,
  type ModelMetadata,
  modelMetadata,
  type ModelSource,
  modelToArtifacts,
  type Normalization,
  parseModelJson,
  saveModel,
  type SaveOptions,
  weightPaths,
  WEIGHTS_FILE,
  type WeightSpec,
} from "./model_io.ts";
export {
  freezeLayers,
  frozenCount,
  frozenLayerNames,
  type HeadReplacement,
  replaceHead,
  type ReplaceHeadOptions,
  unfreezeAll,
} from "./transfer.ts";
