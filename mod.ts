/**
 * simdnet: a tensor runtime for Deno on WebAssembly SIMD with real threads
 * (and WebGPU when a hardware adapter exists), with a trainer, report and
 * classifier for the classic Keras CIFAR-10 CNN.
 *
 * Start the runtime, build the seed model, train one step on random data:
 *
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { cifarCnn, fit, initRuntime } from "./mod.ts";
 *
 * const info = await initRuntime({ backend: "cpu" }); // or "auto" (the default)
 * console.log(info.backend, info.reason);
 *
 * const model = cifarCnn({ seed: 42 });
 * const count = 8;
 * const images = new Uint8Array(count * 32 * 32 * 3).map((_, i) => i % 251);
 * const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
 * const data = { images, labels, count, shape: [32, 32, 3] as const };
 * const history = await fit(model, data, {
 *   epochs: 1,
 *   batchSize: 8,
 *   augment: false,
 *   verbose: 0,
 * });
 * console.log(history.loss.length); // 1
 * console.log(tf.getBackend()); // "cpu"
 * ```
 *
 * Classify an image (PNG/JPEG bytes, raw pixels or a tensor) with a saved or
 * in-memory model; with bytes (and `wasmBinary` bytes) it needs no permission:
 *
 * ```ts
 * import { Classifier, cifarCnn, modelToArtifacts } from "./mod.ts";
 *
 * const { json, weights } = await modelToArtifacts(cifarCnn({ seed: 1 }));
 * const classifier = await Classifier.fromBytes(json, weights, { backend: "cpu" });
 * const pixels = { data: new Uint8Array(64 * 48 * 4).fill(128), width: 64, height: 48, channels: 4 as const };
 * const top3 = await classifier.classify(pixels, { topK: 3 });
 * console.log(top3.map((p) => `${p.label} (${p.labelJa}) ${(100 * p.probability).toFixed(1)}%`));
 * classifier.dispose();
 * ```
 *
 * @module
 */

// Runtime and backends.
export {
  type InitOptions,
  initRuntime,
  resolveThreads,
  RuntimeError,
  runtimeInfo,
  setKernelThreads,
} from "./src/runtime/init.ts";
export { BACKEND_CHOICES } from "./src/runtime/types.ts";
export type {
  BackendChoice,
  RuntimeInfo,
  RuntimeOptions,
  WebGpuInfo,
} from "./src/runtime/types.ts";
export { registerGradients } from "./src/runtime/gradients.ts";
export { probeWebGpu, startWebGpu, stopWebGpu } from "./src/runtime/webgpu.ts";

// Data.
export * from "./src/data/mod.ts";
// The CLIs' exit codes (bad data 2, network 3, permission 4, usage 64, …).
export {
  EXIT_BAD_DATA,
  EXIT_DIVERGED,
  EXIT_NETWORK,
  EXIT_PERMISSION,
  EXIT_UNAVAILABLE,
  EXIT_USAGE,
  exitCodeFor,
} from "./src/cli/exit_codes.ts";
export { createRng, Rng, type RngState } from "./src/util/random.ts";

// Layers and the seed model.
export { cifarCnn, type CifarCnnOptions } from "./src/nn/cifar_cnn.ts";
export {
  type LayerOutput,
  Sequential,
  type SequentialOptions,
  type WeightValues,
} from "./src/nn/sequential.ts";
export { Conv2D } from "./src/nn/conv2d.ts";
export { MaxPooling2D } from "./src/nn/max_pooling2d.ts";
export { Dropout } from "./src/nn/dropout.ts";
export { Flatten } from "./src/nn/flatten.ts";
export { Dense } from "./src/nn/dense.ts";
export type { ApplyContext, Layer, NamedWeight } from "./src/nn/layer.ts";
export {
  DEFAULT_LIMITS,
  loadModel,
  loadModelArtifacts,
  type LoadOptions,
  ModelFormatError,
  modelFromArtifacts,
  type ModelJson,
  type ModelLimits,
  type ModelSource,
  modelToArtifacts,
  saveModel,
} from "./src/nn/model_io.ts";

// Training.
export {
  type EpochLogs,
  fit,
  type FitOptions,
  NonFiniteLossError,
} from "./src/train/fit.ts";
export {
  evaluate,
  type Evaluation,
  predictImages,
} from "./src/train/evaluate.ts";
export {
  Adam,
  ADAM_DEFAULTS,
  type AdamOptions,
  type AdamState,
  adamUpdate,
} from "./src/train/adam.ts";
export { correctCount, softmaxCrossEntropy } from "./src/train/loss.ts";
export {
  augmentBatch,
  type AugmentOptions,
  SEED_AUGMENTATION,
  transformMatrix,
} from "./src/train/augment.ts";
export {
  CheckpointError,
  type History,
  loadCheckpoint,
  saveCheckpoint,
  type TrainState,
} from "./src/train/checkpoint.ts";
export {
  EarlyStopping,
  type EarlyStoppingOptions,
} from "./src/train/early_stopping.ts";

// Metrics and the report.
export * from "./src/metrics/mod.ts";
export * from "./src/report/mod.ts";

// Classifier and service.
export {
  Classifier,
  type ClassifierInput,
  type ClassifierOptions,
  type ClassifyOptions,
  type Pixels,
  type Prediction,
} from "./src/serve/classifier.ts";
export {
  decodeImage,
  ImageDecodeError,
  sniffImageFormat,
} from "./src/image/image_decode.ts";
export { serveClassifier, type ServeOptions } from "./src/serve/server.ts";
