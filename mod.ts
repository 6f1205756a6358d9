/**
 * simdnet: a tensor runtime for Deno on WebAssembly SIMD with real threads
 * (and WebGPU when a hardware adapter exists), with a trainer, report and
 * classifier for the classic Keras CIFAR-10 CNN.
 *
 * Start the runtime, build the seed model, train one step on random data:
 *
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { cifarCnn, fit, initRuntime } from "@simdnet/simdnet";
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
 * import { Classifier, cifarCnn, modelToArtifacts } from "@simdnet/simdnet";
 *
 * const { json, weights } = await modelToArtifacts(cifarCnn({ seed: 1 }));
 * const classifier = await Classifier.fromBytes(json, weights, { backend: "cpu" });
 * const pixels = { data: new Uint8Array(64 * 48 * 4).fill(128), width: 64, height: 48, channels: 4 as const };
 * const top3 = await classifier.classify(pixels, { topK: 3 });
 * console.log(top3.map((p) => `${p.label} (${p.labelJa}) ${(100 * p.probability).toFixed(1)}%`));
 * classifier.dispose();
 * ```
 *
 * This module holds what training and classifying need. Each layer's whole
 * API is a subpath: `@simdnet/simdnet/runtime` (backends, WebGPU probing),
 * `/kernels` (the WASM kernel table), `/nn` (layers, model files, transfer
 * learning), `/data` (CIFAR-10 files, image folders, splits, batches),
 * `/image` (PNG/JPEG decoding, the PNG encoder, resizing), `/train` (fit,
 * fine-tuning, Adam, augmentation, checkpoints),
 * `/metrics` (scikit-learn's classification report, confusion matrix),
 * `/report` (`report.html` and its figures) and `/serve` (the classifier and
 * its HTTP service).
 *
 * @module
 */

// Runtime.
export {
  type BackendChoice,
  type InitOptions,
  initRuntime,
  RuntimeError,
  type RuntimeInfo,
  type RuntimeOptions,
  type WebGpuInfo,
} from "./src/runtime/mod.ts";

// Layers, the seed model, functional graphs (`Input`, `connect`, `Model`)
// and model files; a loaded model's class names (`modelMetadata`); transfer
// learning from a saved model (`freezeLayers`, `replaceHead`). Every other
// layer (BatchNormalization, pooling, merge layers...) is in `/nn`.
export {
  cifarCnn,
  type CifarCnnOptions,
  connect,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  freezeLayers,
  Input,
  type Layer,
  loadModel,
  type LoadOptions,
  MaxPooling2D,
  Model,
  ModelFormatError,
  modelMetadata,
  type ModelSource,
  modelToArtifacts,
  replaceHead,
  saveModel,
  Sequential,
} from "./src/nn/mod.ts";

// Data: CIFAR-10, or your own image folder (`loadImageFolder`; its
// options, result and `loadTrainingFolders` are in `/data`).
export {
  type Cifar10Data,
  DataError,
  type ImageSet,
  type Lang,
  loadCifar10,
  type LoadCifar10Options,
  loadImageFolder,
} from "./src/data/mod.ts";
export type { Pixels } from "./src/image/mod.ts";

// Training.
export {
  Adam,
  type AugmentOptions,
  CheckpointError,
  type EarlyStoppingOptions,
  type EpochLogs,
  evaluate,
  type Evaluation,
  fit,
  type FitOptions,
  type History,
  NonFiniteLossError,
  predictImages,
} from "./src/train/mod.ts";

// The report.
export {
  buildReportData,
  type ReportData,
  type ReportRun,
  writeReport,
} from "./src/report/mod.ts";

// Classifier and service.
export {
  Classifier,
  type ClassifierInput,
  type ClassifierOptions,
  type ClassifyOptions,
  type Prediction,
  type RunningService,
  serveClassifier,
  type ServeOptions,
} from "./src/serve/mod.ts";
