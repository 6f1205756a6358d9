/**
 * `Classifier`: a saved simdnet (or tfjs-layers / Keras-converted) image
 * classifier, ready to label PNG and JPEG files, raw pixels or tensors.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  loadModelArtifacts,
  modelFromArtifacts,
  type ModelJsonInput,
  modelMetadata,
  type ModelSource,
  type Normalization,
} from "../nn/model_io.ts";
import { modelOutput } from "../nn/model_output.ts";
import type { Model } from "../nn/model.ts";
import { resolveTta, type TtaOptions, ttaProbabilities } from "../train/tta.ts";
import type { RuntimeInfo } from "../runtime/types.ts";
import { classLabels } from "./classifier_labels.ts";
import { classifierModel, inputRescale } from "./classifier_model.ts";
import { ensureRuntime } from "./classifier_runtime.ts";
import { decodeImageToInput } from "../image/image_decode.ts";
import type { Pixels } from "../image/pixels.ts";
import { pixelsToInput } from "../image/resize.ts";

export type { Pixels } from "../image/pixels.ts";
export type {
  ClassifierInput,
  ClassifierOptions,
  ClassifyOptions,
  Prediction,
} from "./classifier_options.ts";
import type {
  ClassifierInput,
  ClassifierOptions,
  ClassifyOptions,
  Prediction,
} from "./classifier_options.ts";

function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/**
 * An image classifier over a loaded model: any model of RGB images whose
 * output is one score per class, ending in softmax or giving logits (a
 * linear last layer; its softmax is taken here). Inputs are resized to the
 * model's input size (32x32 for CIFAR-10) as `resize.ts` describes: area
 * averaging when shrinking, bilinear when enlarging; alpha is dropped and
 * grey is expanded to RGB. With the `tta` option each image's
 * probabilities are averaged with those of its mirror (and translations).
 *
 * Given bytes (model, weights and the tfjs WASM binary), it needs no Deno
 * permission at all: nothing is read from files or the environment, as in
 * an edge isolate or a `deno compile`d program.
 *
 * @example
 * ```ts
 * import { Classifier } from "./classifier.ts";
 * import { cifarCnn } from "../nn/cifar_cnn.ts";
 * import { modelToArtifacts } from "../nn/model_io.ts";
 * import { encodePng } from "../image/png_encode.ts";
 *
 * // An untrained model stands in for a trained one here.
 * const { json, weights } = await modelToArtifacts(cifarCnn({ seed: 1 }));
 * const classifier = await Classifier.fromBytes(json, weights, { backend: "cpu" });
 * const png = encodePng({ data: new Uint8Array(64 * 48 * 3).fill(90), width: 64, height: 48, channels: 3 });
 * const top = await classifier.classify(png, { topK: 3 });
 * console.log(top[0]); // e.g. { index: 3, label: "cat", labelJa: "猫", probability: 0.13 }
 * classifier.dispose();
 * ```
 */
export class Classifier {
  /** The model; owned by the classifier and freed by {@linkcode dispose}. */
  readonly model: Model;
  /** Class names by index. */
  readonly labels: readonly string[];
  /** Japanese class names by index, or null when there are none (not CIFAR-10). */
  readonly labelsJa: readonly string[] | null;
  /** The tensor runtime the classifier runs on. */
  readonly runtime: RuntimeInfo;
  /** Model input `[height, width, 3]`. */
  readonly inputShape: readonly [number, number, number];
  /** The test-time augmentation in force, or null for none. */
  readonly tta: Readonly<Required<TtaOptions>> | null;
  readonly #batchSize: number;
  readonly #maxPixels: number | undefined;
  readonly #softmax: boolean;
  readonly #rescale: Normalization | null;

  private constructor(
    model: Model,
    runtime: RuntimeInfo,
    options: ClassifierOptions,
  ) {
    const [h, w, c] = model.inputShape;
    const [classes] = model.outputShape;
    if (model.inputShape.length !== 3 || c !== 3 || !h || !w) {
      throw new RangeError(
        `a classifier needs a model of RGB images [height, width, 3], got ` +
          `[${model.inputShape}]`,
      );
    }
    if (model.outputShape.length !== 1 || !classes || classes < 2) {
      throw new RangeError(
        `a classifier needs a model with outputs [classes >= 2], got ` +
          `[${model.outputShape}]`,
      );
    }
    const metadata = modelMetadata(model);
    const { labels, labelsJa } = classLabels(classes, options, metadata);
    const batchSize = options.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `batchSize must be a whole number >= 1, got ${batchSize}`,
      );
    }
    this.model = model;
    this.runtime = runtime;
    this.labels = labels;
    this.labelsJa = labelsJa;
    this.inputShape = [h, w, c];
    this.#batchSize = batchSize;
    this.#maxPixels = options.maxPixels;
    // A linear (logits) head, e.g. from Keras with `from_logits=True`, gets
    // its softmax here.
    this.#softmax = modelOutput(model).kind === "softmax";
    this.tta = resolveTta(options.tta);
    this.#rescale = inputRescale(metadata);
  }

  /**
   * Loads a model from a directory, a `model.json` path or a URL
   * (`file:`, `http:`, `https:`) and starts the runtime if needed (or as
   * `backend`, `threads`, `wasmBinary` ask). Needs `--allow-read` for paths,
   * `--allow-net` for web URLs.
   */
  static async load(
    source: ModelSource,
    options: ClassifierOptions = {},
  ): Promise<Classifier> {
    // Files first: a wrong path fails before any runtime starts.
    const { limits } = options;
    const { json, weights, location } = await loadModelArtifacts(source, {
      limits,
    });
    const runtime = await ensureRuntime(options);
    return new Classifier(
      classifierModel(
        modelFromArtifacts(json, weights, { limits, source: location }),
        location,
      ),
      runtime,
      options,
    );
  }

  /**
   * Builds a classifier from `model.json` (bytes, text or object) and the
   * weight shards (joined, or a list in manifest order). With `wasmBinary`
   * bytes (`tfjs-backend-wasm-threaded-simd.wasm` for threads > 1, else
   * `tfjs-backend-wasm-simd.wasm`) or `backend: "cpu"`, no permission is used.
   */
  static async fromBytes(
    modelJson: ModelJsonInput,
    weights: Uint8Array | readonly Uint8Array[],
    options: ClassifierOptions = {},
  ): Promise<Classifier> {
    // The runtime first: building the model allocates tensors on it.
    const runtime = await ensureRuntime(options);
    return new Classifier(
      classifierModel(
        modelFromArtifacts(modelJson, weights, { limits: options.limits }),
        "model.json",
      ),
      runtime,
      options,
    );
  }

  /** Wraps a model in memory (the classifier takes ownership). */
  static async fromModel(
    model: Model,
    options: ClassifierOptions = {},
  ): Promise<Classifier> {
    return new Classifier(model, await ensureRuntime(options), options);
  }

  /** Number of classes. */
  get classes(): number {
    return this.labels.length;
  }

  /**
   * Decodes and resizes one non-tensor input to the model input
   * (`height x width x 3` float32 in [0, 1]), written into `out` at `offset`.
   * Throws an `ImageDecodeError` for bytes that are no PNG or JPEG.
   */
  preprocess(
    input: Uint8Array | ArrayBuffer | Pixels,
    out?: Float32Array,
    offset = 0,
  ): Float32Array {
    const [h, w] = this.inputShape;
    if (!(input instanceof Uint8Array || input instanceof ArrayBuffer)) {
      return pixelsToInput(input, h, w, out, offset);
    }
    // Decoded straight into the input: memory follows the model, not the file.
    const bytes = new Uint8Array(input),
      options = { maxPixels: this.#maxPixels };
    return decodeImageToInput(bytes, h, w, options, out, offset);
  }

  #tensorInput(t: tf.Tensor, batch = false): tf.Tensor4D {
    const [h, w] = this.inputShape;
    return tf.tidy(() => {
      let x = t.rank === 3 && !batch ? tf.expandDims(t, 0) : t;
      if (x.rank !== 4 || (x.shape[0] !== 1 && !batch)) {
        throw new RangeError(
          `a tensor input must be [height, width, channels] or ` +
            `[1, height, width, channels], got [${t.shape}]`,
        );
      }
      x = x.dtype === "float32" ? x : tf.div(tf.cast(x, "float32"), 255);
      const c = x.shape[3];
      if (c === 1 || c === 2) {
        x = tf.tile(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 1]), [1, 1, 1, 3]);
      } else if (c === 4) {
        x = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 3]);
      } else if (c !== 3) {
        throw new RangeError(`a tensor input needs 1 to 4 channels, got ${c}`);
      }
      if (x.shape[1] !== h || x.shape[2] !== w) {
        x = tf.image.resizeBilinear(x as tf.Tensor4D, [h, w], false, true);
      }
      return x as tf.Tensor4D;
    });
  }

  /**
   * Class probabilities of `count` preprocessed images (NHWC float32, as
   * {@linkcode preprocess} writes them), `count x classes`, computed
   * `batchSize` images per forward pass.
   */
  async predictPixels(x: Float32Array, count: number): Promise<Float32Array> {
    const [h, w, c] = this.inputShape;
    const size = h * w * c;
    if (x.length < count * size) {
      throw new RangeError(
        `${count} images need ${count * size} values, got ${x.length}`,
      );
    }
    const batch = tf.tensor4d(x.subarray(0, count * size), [count, h, w, c]);
    try {
      return await this.#predict(batch);
    } finally {
      batch.dispose();
    }
  }

  async #predict(x: tf.Tensor4D): Promise<Float32Array> {
    const n = x.shape[0];
    const out = new Float32Array(n * this.classes);
    for (let start = 0; start < n; start += this.#batchSize) {
      const size = Math.min(this.#batchSize, n - start);
      const probs = tf.tidy(() => {
        const part = n === size ? x : tf.slice(x, [start, 0, 0, 0], [
          size,
          -1,
          -1,
          -1,
        ]);
        // Inputs are bytes / 255 here; a model saved with another
        // normalization gets bytes * scale + offset.
        const input = this.#rescale === null ? part : tf.add(
          tf.mul(part, 255 * this.#rescale.scale),
          this.#rescale.offset,
        );
        return ttaProbabilities(input as tf.Tensor4D, (view) => {
          const y = this.model.apply(view, { training: false });
          return this.#softmax ? y : tf.softmax(y);
        }, this.tta ?? undefined);
      });
      try {
        // `data()`, not `dataSync()`: the WebGPU backend cannot read synchronously in Deno.
        out.set(await probs.data() as Float32Array, start * this.classes);
      } finally {
        probs.dispose();
      }
    }
    return out;
  }

  /** The `topK` best classes of row `row` of a probability matrix. */
  top(probs: Float32Array, row = 0, topK = 3): Prediction[] {
    if (!Number.isInteger(topK) || topK < 1) {
      throw new RangeError(`topK must be a whole number >= 1, got ${topK}`);
    }
    const k = this.classes;
    const order = [...Array(k).keys()].sort((a, b) =>
      probs[row * k + b]! - probs[row * k + a]! || a - b
    );
    const ja = this.labelsJa;
    return order.slice(0, Math.min(topK, k)).map((index) => ({
      index,
      label: this.labels[index]!,
      ...(ja ? { labelJa: ja[index]! } : {}),
      probability: probs[row * k + index]!,
    }));
  }

  /**
   * Classifies one image and returns its `topK` classes, best first.
   * Throws an `ImageDecodeError` for bytes that are no PNG or JPEG.
   */
  async classify(
    input: ClassifierInput,
    options: ClassifyOptions = {},
  ): Promise<Prediction[]> {
    const [result] = await this.classifyBatch([input], options);
    return result!;
  }

  /**
   * Classifies images in batches of `batchSize`: a list of inputs (each one
   * image), or a tensor `[n, height, width, channels]`. Returns one list of
   * predictions per image, in order.
   */
  async classifyBatch(
    inputs: readonly ClassifierInput[] | tf.Tensor4D,
    options: ClassifyOptions = {},
  ): Promise<Prediction[][]> {
    const topK = options.topK ?? 3;
    this.top(new Float32Array(this.classes), 0, topK); // checks topK early
    let probs: Float32Array;
    let count: number;
    if (isTensor(inputs)) {
      count = inputs.shape[0];
      const x = this.#tensorInput(inputs, true);
      try {
        probs = await this.#predict(x);
      } finally {
        x.dispose();
      }
    } else {
      count = inputs.length;
      if (count === 0) return [];
      if (inputs.some(isTensor)) {
        const [h, w, c] = this.inputShape;
        const x = tf.tidy(() =>
          tf.concat(
            inputs.map((input) =>
              isTensor(input)
                ? this.#tensorInput(input)
                : tf.tensor4d(this.preprocess(input), [1, h, w, c])
            ),
            0,
          )
        );
        try {
          probs = await this.#predict(x as tf.Tensor4D);
        } finally {
          x.dispose();
        }
      } else {
        const size = this.inputShape[0] * this.inputShape[1] * 3;
        const x = new Float32Array(count * size);
        inputs.forEach((input, i) =>
          this.preprocess(input as Uint8Array | Pixels, x, i * size)
        );
        probs = await this.predictPixels(x, count);
      }
    }
    return Array.from({ length: count }, (_, i) => this.top(probs, i, topK));
  }

  /**
   * Runs one batch of blank images of each size in `counts` through the
   * model (TTA included), so that the first requests do not pay for
   * compiling: V8 compiles tfjs' and the kernels' code on first use, and
   * small and large batches take different kernels. On 2026-12-03 (AMD
   * EPYC, 2 threads, the seed CNN) the first classification after loading
   * took 55-60 ms and the next ones about 1 ms. `serve` warms up, before it
   * listens, with 1 and the largest batch it can form (the smaller of
   * `--max-batch` and `--queue`).
   */
  async warmUp(counts: readonly number[] = [1]): Promise<void> {
    const [h, w, c] = this.inputShape;
    for (const n of counts) {
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(
          `warm-up batch sizes must be whole numbers >= 1, got ${n}`,
        );
      }
      await this.predictPixels(new Float32Array(n * h * w * c), n);
    }
  }

  /** Frees the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}
