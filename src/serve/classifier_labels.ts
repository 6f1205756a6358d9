/**
 * The class names a classifier answers with: those the caller gives, else
 * those saved with the model (`userDefinedMetadata`), else the names a
 * model without metadata has always had: CIFAR-10's for 10 classes,
 * `class 0`, `class 1`, ... otherwise. Japanese names exist only for
 * CIFAR-10; other label sets are shown as given, in any script.
 *
 * @module
 */

import {
  CIFAR10_CLASSES_JA,
  defaultClassNames,
  isCifar10Names,
} from "../data/classes.ts";
import { checkClassNames, type ModelMetadata } from "../nn/model_metadata.ts";

/** The names of a classifier's outputs. */
export interface ClassLabels {
  /** Names by output index. */
  labels: readonly string[];
  /** Japanese names by output index, or null when none are known. */
  labelsJa: readonly string[] | null;
}

/**
 * Resolves the labels of a model with `classes` outputs.
 *
 * @throws {RangeError} when a given list does not hold one name per class.
 */
export function classLabels(
  classes: number,
  given: { labels?: readonly string[]; labelsJa?: readonly string[] },
  metadata: ModelMetadata | null,
): ClassLabels {
  const labels = given.labels
    ? checkClassNames(given.labels, classes, "labels")
    : metadata?.classNames ?? defaultClassNames(classes);
  const labelsJa = given.labelsJa
    ? checkClassNames(given.labelsJa, classes, "labelsJa")
    : isCifar10Names(labels)
    ? CIFAR10_CLASSES_JA
    : null;
  return { labels: [...labels], labelsJa: labelsJa && [...labelsJa] };
}
