/**
 * Builds the report data of a trained model (the seed notebook's outputs:
 * sample grid, learning curves, predictions, confusion matrix, feature maps)
 * for `writeReport` (`./write_report.ts`). `train` and `evaluate` both use
 * it, and so can any program holding a model and a data set.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { toFloatBatch } from "../data/batch.ts";
import type { ImageSet } from "../data/image_set.ts";
import { defaultClassNames, isCifar10Names } from "../data/classes.ts";
import { modelMetadata } from "../nn/model_metadata.ts";
import type { Model } from "../nn/model.ts";
import type { ReportData } from "./types.ts";
import { CIFAR10_CLASS_NAMES } from "./i18n.ts";
import type { History } from "../train/checkpoint.ts";
import { predictImages } from "../train/evaluate.ts";
import type { TtaSetting } from "../train/tta.ts";
import { Rng } from "../util/random.ts";

/** A model and what it was trained and evaluated on: what the report shows. */
export interface ReportRun {
  model: Model;
  history: History;
  train: ImageSet;
  /** The set the model was finally evaluated on (test set or validation split). */
  evaluated: ImageSet;
  evaluation: { loss: number; accuracy: number };
  /** Whether `evaluated` is the test set or a validation split; default "test". */
  evaluatedOn?: "test" | "validation";
  /** The run's settings, shown as a table (e.g. epochs, batch size, backend). */
  settings: Record<string, string | number | boolean>;
  /** Images per forward pass while predicting. */
  batchSize: number;
  /** Seed that picks the 15 prediction samples. */
  seed: number;
  /**
   * Class names by label index (the data set's); default the names saved
   * with the model, else CIFAR-10's for 10 classes, else `class 0`, ...
   * CIFAR-10's English names also get the notebook's Japanese ones.
   */
  classNames?: readonly string[];
  /**
   * The test-time augmentation `evaluation` used, so that the predictions
   * shown (confusion matrix, classification report) are the same ones.
   */
  tta?: TtaSetting;
}

/** The report's class names and title for a model with `classes` outputs. */
function namesAndTitle(
  run: ReportRun,
  classes: number,
): Pick<ReportData, "classNames" | "title"> {
  const names = run.classNames ?? modelMetadata(run.model)?.classNames ??
    defaultClassNames(classes);
  if (names.length !== classes) {
    throw new RangeError(
      `classNames has ${names.length} names but the model has ${classes} ` +
        `classes: pass one name per output unit`,
    );
  }
  // Japanese names and the CIFAR-10 title only where they are true.
  return isCifar10Names(names)
    ? { classNames: CIFAR10_CLASS_NAMES, title: "simdnet CIFAR-10 CNN" }
    : { classNames: [...names], title: `simdnet CNN (${classes} classes)` };
}

/** Layers whose outputs the report shows as feature maps. */
export const CONV_LIKE: ReadonlySet<string> = new Set([
  "Conv2D",
  "DepthwiseConv2D",
  "SeparableConv2D",
]);

function argmaxRows(probs: Float32Array, classes: number): Int32Array {
  const out = new Int32Array(probs.length / classes);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) {
      if (probs[i * classes + k]! > probs[i * classes + best]!) best = k;
    }
    out[i] = best;
  }
  return out;
}

/**
 * Gathers everything the report shows, running inference in batches; hand
 * the result to `writeReport` (which may change `title` or drop
 * `trainSamples` first).
 *
 * @example
 * ```ts
 * import { cifarCnn, evaluate, initRuntime } from "../../mod.ts";
 * import { buildReportData } from "./build_report_data.ts";
 *
 * await initRuntime({ backend: "cpu" });
 * const model = cifarCnn({ seed: 1 });
 * const count = 4;
 * const images = new Uint8Array(count * 32 * 32 * 3).map((_, i) => i % 251);
 * const labels = Uint8Array.from([0, 1, 2, 3]);
 * const set = { images, labels, count, shape: [32, 32, 3] as [number, number, number] };
 * const report = await buildReportData({
 *   model,
 *   history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] },
 *   train: set,
 *   evaluated: set,
 *   evaluation: await evaluate(model, set, count),
 *   settings: { epochs: 0 },
 *   batchSize: count,
 *   seed: 42,
 *   classNames: ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
 * });
 * console.log(report.yPred.length); // 4
 * // await writeReport("runs/example", report, "en");
 * model.dispose();
 * ```
 */
export async function buildReportData(run: ReportRun): Promise<ReportData> {
  const { model, evaluated, train } = run;
  const [h, w, c] = model.inputShape as [number, number, number];
  const size = h * w * c;
  const classes = model.outputShape[0] ?? 10;
  const named = namesAndTitle(run, classes);
  const yPred = argmaxRows(
    await predictImages(model, evaluated, run.batchSize, { tta: run.tta }),
    classes,
  );

  // The notebook shows 15 random test images with their predictions.
  const rng = new Rng(run.seed);
  const picks = Array.from(
    { length: Math.min(15, evaluated.count) },
    () => rng.int(evaluated.count),
  );
  const pickImages = new Uint8Array(picks.length * size);
  picks.forEach((j, i) =>
    pickImages.set(
      evaluated.images.subarray(j * size, (j + 1) * size),
      i * size,
    )
  );

  // ... and the feature maps of test image 12.
  const index = Math.min(12, evaluated.count - 1);
  const input = evaluated.images.slice(index * size, (index + 1) * size);
  const x = tf.tensor4d(toFloatBatch(evaluated, [index]), [1, h, w, c]);
  // The convolution layers present (none in an MLP: no feature maps), as
  // the seed notebook shows its conv layers; only image-shaped outputs.
  const all = model.activations(x, (l) => CONV_LIKE.has(l.className));
  const maps = all.filter((m) => m.output.rank === 4);
  tf.dispose(all.filter((m) => m.output.rank !== 4).map((m) => m.output));
  const layers = await Promise.all(maps.map(async (m) => {
    const [, mh, mw, mc] = m.output.shape as [number, number, number, number];
    return {
      name: m.name,
      height: mh,
      width: mw,
      channels: mc,
      data: (await m.output.data()) as Float32Array,
    };
  }));
  tf.dispose([x, ...maps.map((m) => m.output)]);

  const shown = Math.min(25, train.count);
  return {
    title: named.title,
    settings: run.settings,
    summary: model.summary(null),
    history: run.history,
    test: { ...run.evaluation, set: run.evaluatedOn ?? "test" },
    yTrue: evaluated.labels.subarray(0, evaluated.count),
    yPred,
    classNames: named.classNames,
    trainSamples: {
      images: train.images.subarray(0, shown * size),
      labels: train.labels.subarray(0, shown),
      height: h,
      width: w,
      channels: c,
    },
    predictionSamples: {
      images: pickImages,
      labels: picks.map((j) => evaluated.labels[j]!),
      predicted: picks.map((j) => yPred[j]!),
      height: h,
      width: w,
      channels: c,
    },
    featureMaps: {
      input,
      inputLabel: evaluated.labels[index]!,
      height: h,
      width: w,
      channels: c,
      layers,
    },
  };
}
