/**
 * Layers, the functional `Model` (built with `Input` and `connect`, merged
 * with `Add`, `Concatenate`, `Multiply`) and its chain case `Sequential`,
 * the seed notebook's CIFAR-10 CNN, and
 * saving and loading in the TF.js Layers format (`model.json` and weight
 * shards, readable by `tf.loadLayersModel`; model files are checked as
 * untrusted input, and carry the class names, input shape and
 * normalization, read back by `modelMetadata`), a topology with fresh
 * weights (`loadTopology`, `modelFromTopology`), softmax or logits heads
 * (`modelOutput`, `probabilities`), and transfer learning (`freezeLayers`,
 * `replaceHead`).
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
 * A residual block, Keras' functional way: an `Input` symbol, `connect`
 * for each layer call, then a `Model` from input to output (saved as
 * tfjs-layers' functional `Model`).
 *
 * ```ts
 * import { initRuntime } from "@simdnet/simdnet/runtime";
 * import {
 *   Add,
 *   connect,
 *   Conv2D,
 *   Dense,
 *   Flatten,
 *   Input,
 *   Model,
 *   modelFromArtifacts,
 *   modelToArtifacts,
 * } from "@simdnet/simdnet/nn";
 *
 * await initRuntime({ backend: "cpu" });
 * const conv = () => new Conv2D({ filters: 3, kernelSize: 3, padding: "same" });
 * const x = Input({ shape: [8, 8, 3] });
 * const block = connect(new Add(), [x, connect(conv(), connect(conv(), x))]);
 * const y = connect(new Dense({ units: 2, activation: "softmax" }), connect(new Flatten(), block));
 * const model = new Model({ inputs: x, outputs: y, seed: 1 });
 * console.log(model.countParams()); // 2 * 84 + 193 * 2 = 554
 * const { json, weights } = await modelToArtifacts(model);
 * console.log(json.modelTopology.class_name); // Model
 * const copy = modelFromArtifacts(json, weights);
 * if (copy.countParams() !== model.countParams()) throw new Error("lost weights");
 * ```
 *
 * @module
 */

export { cifarCnn, type CifarCnnOptions } from "./cifar_cnn.ts";
export { Activation } from "./activation_layer.ts";
export {
  type ActivationName,
  activationNames,
  checkActivation,
} from "./activations.ts";
export {
  BatchNormalization,
  type BatchNormalizationOptions,
} from "./batch_normalization.ts";
export {
  batchNormInfer,
  batchNormTrain,
  type BatchNormTrainResult,
} from "./batch_norm_train.ts";
export { Conv2D, type Conv2DOptions } from "./conv2d.ts";
export { Dense, type DenseOptions } from "./dense.ts";
export { Dropout } from "./dropout.ts";
export { Flatten } from "./flatten.ts";
export { LeakyReLU } from "./leaky_relu.ts";
// `Normalization` here is the model metadata type (model_io.ts); Keras'
// layer of that name is exported as NormalizationLayer.
export {
  Normalization as NormalizationLayer,
  type NormalizationOptions,
} from "./normalization.ts";
export { ReLU, type ReLUOptions } from "./relu.ts";
export { Rescaling } from "./rescaling.ts";
export { type Padding2D, ZeroPadding2D } from "./zero_padding2d.ts";
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
export type {
  AnyLayer,
  ApplyContext,
  Initializer,
  Layer,
  MergeLayer,
  NamedWeight,
} from "./layer.ts";
export { glorotUniform, zeros } from "./initializers.ts";
export type { FusedActivation } from "./fused.ts";
export { Sequential, type SequentialOptions } from "./sequential.ts";
export {
  type GraphNode,
  type LayerOutput,
  Model,
  type ModelOptions,
  type WeightValues,
} from "./model.ts";
export { connect, Input, type InputOptions, SymbolicTensor } from "./graph.ts";
export {
  Add,
  Concatenate,
  type ConcatenateOptions,
  type MergeOptions,
  Multiply,
} from "./merge_layers.ts";
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
  loadTopology,
  modelFromTopology,
  type TopologyOptions,
} from "./model_from_topology.ts";
export {
  logitsProblem,
  type ModelOutput,
  modelOutput,
  type OutputModel,
  probabilities,
} from "./model_output.ts";
export {
  freezeLayers,
  frozenCount,
  frozenLayerNames,
  type HeadReplacement,
  replaceHead,
  type ReplaceHeadOptions,
  unfreezeAll,
} from "./transfer.ts";
