/**
 * Checks on {@linkcode ReportData} that name the problem and the fix, run
 * before anything is drawn.
 *
 * @module
 */

import { checkFeatureLayer } from "./feature_maps.ts";
import type { ImageBatch, Lang, ReportData } from "./types.ts";

/** An image batch with its shape filled in. */
export interface BatchShape {
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** The class names to show in `lang`. */
export function resolveClassNames(
  classNames: ReportData["classNames"],
  lang: Lang,
): string[] {
  const names = Array.isArray(classNames)
    ? classNames
    : (classNames as Record<Lang, readonly string[]> | undefined)?.[lang];
  if (!Array.isArray(names) || names.length === 0) {
    throw new TypeError(
      `classNames has no names for language "${lang}": pass a list of class names, or { en: [...], ja: [...] } such as CIFAR10_CLASS_NAMES`,
    );
  }
  return [...names];
}

function checkClass(
  where: string,
  value: unknown,
  numClasses: number,
): void {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0 ||
    value >= numClasses
  ) {
    throw new RangeError(
      `${where} is ${String(value)}: pass a class index in 0..${
        numClasses - 1
      }`,
    );
  }
}

function checkSize(where: string, key: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `${where}.${key} is ${String(value)}: pass a whole number >= 1`,
    );
  }
  return value;
}

/** Checks an image batch against its labels and returns its shape. */
export function checkBatch(
  batch: ImageBatch,
  where: string,
  numClasses: number,
): BatchShape {
  const height = checkSize(where, "height", batch.height ?? 32);
  const width = checkSize(where, "width", batch.width ?? 32);
  const channels = batch.channels ?? 3;
  if (![1, 3, 4].includes(channels)) {
    throw new RangeError(
      `${where}.channels is ${channels}: pass 1 (grey), 3 (RGB) or 4 (RGBA)`,
    );
  }
  if (
    !(batch.images instanceof Uint8Array ||
      batch.images instanceof Uint8ClampedArray)
  ) {
    throw new TypeError(
      `${where}.images is not a Uint8Array: pass uint8 pixels 0..255 in N×H×W×C order (multiply 0..1 floats by 255 first)`,
    );
  }
  const count = batch.labels?.length ?? 0;
  const expected = count * height * width * channels;
  if (batch.images.length !== expected) {
    throw new RangeError(
      `${where}.images has ${batch.images.length} bytes but ${count} labels × ${height}×${width}×${channels} need ${expected}: pass one label per image and HWC pixels`,
    );
  }
  for (let i = 0; i < count; i++) {
    checkClass(`${where}.labels[${i}]`, batch.labels[i], numClasses);
  }
  return { count, height, width, channels };
}

/** The feature maps' input image as a batch of one. */
export function featureInputBatch(
  maps: NonNullable<ReportData["featureMaps"]>,
): ImageBatch {
  return {
    images: maps.input,
    labels: [maps.inputLabel],
    height: maps.height,
    width: maps.width,
    channels: maps.channels,
  };
}

/** Throws a descriptive error for the first problem found in `data`. */
export function checkReportData(data: ReportData, numClasses: number): void {
  if (!data || typeof data !== "object") {
    throw new TypeError("report data is missing: pass a ReportData object");
  }
  if (typeof data.title !== "string") {
    throw new TypeError("title is not a string: pass the report title");
  }
  if (!data.settings || typeof data.settings !== "object") {
    throw new TypeError(
      "settings is missing: pass an object of run settings (it may be empty)",
    );
  }
  const rates = data.history?.learning_rate;
  if (rates !== undefined && !Array.isArray(rates)) {
    throw new TypeError(
      "history.learning_rate is not an array: pass the per-epoch rates, or leave it out",
    );
  }
  for (const key of ["loss", "accuracy", "val_loss", "val_accuracy"] as const) {
    if (!Array.isArray(data.history?.[key])) {
      throw new TypeError(
        `history.${key} is not an array: pass Keras-style per-epoch arrays (empty when unknown)`,
      );
    }
  }
  if (data.test !== null && typeof data.test !== "object") {
    throw new TypeError(
      "test is neither null nor { loss, accuracy }: pass the test results, or null",
    );
  }
  const predictions = data.predictionSamples;
  if (predictions) {
    const { count } = checkBatch(predictions, "predictionSamples", numClasses);
    if (predictions.predicted?.length !== count) {
      throw new RangeError(
        `predictionSamples.predicted has ${predictions.predicted?.length} entries for ${count} images: pass one predicted class per image`,
      );
    }
    for (let i = 0; i < count; i++) {
      checkClass(
        `predictionSamples.predicted[${i}]`,
        predictions.predicted[i],
        numClasses,
      );
    }
  }
  if (data.trainSamples) {
    checkBatch(data.trainSamples, "trainSamples", numClasses);
  }
  const maps = data.featureMaps;
  if (maps) {
    checkBatch(
      featureInputBatch(maps),
      "featureMaps.input",
      numClasses,
    );
    maps.layers.forEach((layer, i) =>
      checkFeatureLayer(layer, `featureMaps.layers[${i}]`)
    );
  }
}
