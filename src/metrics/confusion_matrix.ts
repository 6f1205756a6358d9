/**
 * The confusion matrix, laid out as scikit-learn's `confusion_matrix`.
 *
 * @module
 */

import { checkLabelPairs } from "./_labels.ts";

/**
 * Counts how often each true class was predicted as each class.
 *
 * Row `i` is the true class `i` and column `j` the predicted class `j`, as in
 * scikit-learn, so `matrix[i][i]` counts the correct predictions of class `i`,
 * a row sums to that class's support and a column to how often it was
 * predicted. Every class in `0..numClasses-1` gets a row and a column, even
 * one that occurs in neither array.
 *
 * @example
 * ```ts
 * confusionMatrix([0, 1, 1], [0, 0, 1], 2); // [[1, 0], [1, 1]]
 * ```
 * @throws {RangeError} when the lengths differ or a label is not a class index.
 */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number,
): number[][] {
  checkLabelPairs(yTrue, yPred, numClasses);
  const flat = new Float64Array(numClasses * numClasses);
  for (let i = 0; i < yTrue.length; i++) {
    flat[(yTrue[i] as number) * numClasses + (yPred[i] as number)]! += 1;
  }
  const matrix: number[][] = [];
  for (let row = 0; row < numClasses; row++) {
    matrix.push(
      Array.from(flat.subarray(row * numClasses, (row + 1) * numClasses)),
    );
  }
  return matrix;
}
