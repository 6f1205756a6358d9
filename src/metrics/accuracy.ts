/**
 * Plain classification accuracy.
 *
 * @module
 */

import { checkLabelPairs } from "./_labels.ts";

/**
 * The fraction of predictions equal to the true label, in `[0, 1]`.
 *
 * `numClasses`, when given, also checks that every label is a class index.
 *
 * @example
 * ```ts
 * accuracy([0, 1, 2, 2], [0, 1, 1, 2]); // 0.75
 * ```
 * @throws {RangeError} when the arrays are empty or differ in length.
 */
export function accuracy(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses?: number,
): number {
  if (numClasses !== undefined) {
    checkLabelPairs(yTrue, yPred, numClasses);
  } else if (yTrue.length !== yPred.length) {
    throw new RangeError(
      `yTrue has ${yTrue.length} labels but yPred has ${yPred.length}: pass one predicted class per true label`,
    );
  }
  if (yTrue.length === 0) {
    throw new RangeError(
      "yTrue and yPred are empty: accuracy needs at least one labelled sample",
    );
  }
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === yPred[i]) correct++;
  }
  return correct / yTrue.length;
}
