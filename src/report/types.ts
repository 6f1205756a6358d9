/**
 * The plain data a report is built from, so the trainer, the evaluator and
 * tests can fill it without depending on each other.
 *
 * @module
 */

import type { Lang } from "../data/classes.ts";

// The one language type lives with the class names (data, the lowest layer
// that needs it); report files keep importing it from here.
export type { Lang };

/** Per-epoch values, as Keras' `history.history`. Arrays may be empty. */
export interface TrainingHistory {
  loss: readonly number[];
  accuracy: readonly number[];
  val_loss: readonly number[];
  val_accuracy: readonly number[];
  /**
   * The learning rate of each epoch (Keras 3's `learning_rate`); when
   * present, the report draws it beside the learning curves.
   */
  learning_rate?: readonly number[];
}

/**
 * A batch of `N` images as uint8 pixels in `N × height × width × channels`
 * (HWC) order, with one label per image; `N` is `labels.length`.
 */
export interface ImageBatch {
  /** Pixels 0..255. Float images in 0..1 must be scaled by 255 first. */
  images: Uint8Array | Uint8ClampedArray;
  /** Class index of each image. */
  labels: ArrayLike<number>;
  /** Image height; default 32 (CIFAR-10). */
  height?: number;
  /** Image width; default 32. */
  width?: number;
  /** 1 (grey), 3 (RGB, default) or 4 (RGBA). */
  channels?: number;
}

/** Test images with the model's predicted class for each. */
export interface PredictionBatch extends ImageBatch {
  /** Predicted class index of each image. */
  predicted: ArrayLike<number>;
}

/** The activations of one convolution layer for one input image. */
export interface FeatureLayer {
  /** Layer name, e.g. "conv2d_1". */
  name: string;
  height: number;
  width: number;
  channels: number;
  /** `height × width × channels` activations (HWC), as the layer outputs them. */
  data: Float32Array | readonly number[];
}

/** One input image and what each convolution layer made of it. */
export interface FeatureMaps {
  /** The input image, uint8 HWC (`height × width × channels`, default 32×32×3). */
  input: Uint8Array | Uint8ClampedArray;
  /** True class of the input image. */
  inputLabel: number;
  height?: number;
  width?: number;
  channels?: number;
  /** Convolution layers in model order. */
  layers: readonly FeatureLayer[];
}

/** One row of a model summary table. */
export interface SummaryRow {
  /** Layer name and type, e.g. "conv2d (Conv2D)". */
  layer: string;
  /** Output shape, e.g. "(None, 32, 32, 32)". */
  outputShape: string;
  /** Trainable and non-trainable parameters of the layer. */
  params: number;
}

/**
 * Everything {@linkcode buildReport} shows.
 *
 * `yTrue`/`yPred` are class indices over the whole test set; the metrics
 * (classification report, confusion matrix) are computed from them. The
 * image sections are optional: a missing one is reported as not available.
 */
export interface ReportData {
  /** Report title, e.g. "simdnet CIFAR-10 CNN". */
  title: string;
  /** Free-form run settings shown as a table, in insertion order (epochs, batch size, backend, threads, timings…). */
  settings: Record<string, string | number | boolean>;
  /** The model summary: Keras-style text shown verbatim, or rows for a table. */
  summary: string | readonly SummaryRow[];
  /** Per-epoch training history. */
  history: TrainingHistory;
  /** Final test loss and accuracy, or null when the model was not evaluated. */
  test: {
    loss: number;
    accuracy: number;
    /** Which set these figures come from; "validation" when there was no test set. Default "test". */
    set?: "test" | "validation";
  } | null;
  /** True class of each test sample. */
  yTrue: ArrayLike<number>;
  /** Predicted class of each test sample. */
  yPred: ArrayLike<number>;
  /**
   * Class names by index: one list for every language, or one per language
   * (see `CIFAR10_CLASS_NAMES`).
   */
  classNames: readonly string[] | Readonly<Record<Lang, readonly string[]>>;
  /** Training images for the 5×5 sample grid (the first 25 are shown). */
  trainSamples?: ImageBatch | null;
  /** Test images with predictions (the seed shows 15 random ones). */
  predictionSamples?: PredictionBatch | null;
  /** Feature maps of one test image. */
  featureMaps?: FeatureMaps | null;
}
