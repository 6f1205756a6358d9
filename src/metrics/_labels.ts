/**
 * Input checks shared by the metrics, so every metric rejects bad labels
 * with the same wording.
 *
 * @module
 */

/** Throws unless `numClasses` is a whole number of classes, at least 1. */
export function checkNumClasses(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `numClasses is ${numClasses}: pass the number of classes as a whole number >= 1 (10 for CIFAR-10)`,
    );
  }
}

/**
 * Throws unless both label arrays have the same length and hold class
 * indices in `0..numClasses-1`.
 */
export function checkLabelPairs(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number,
): void {
  checkNumClasses(numClasses);
  if (yTrue === null || typeof yTrue !== "object" || !("length" in yTrue)) {
    throw new TypeError(
      "yTrue is not an array: pass the true class indices as an array or typed array",
    );
  }
  if (yPred === null || typeof yPred !== "object" || !("length" in yPred)) {
    throw new TypeError(
      "yPred is not an array: pass the predicted class indices as an array or typed array",
    );
  }
  if (yTrue.length !== yPred.length) {
    throw new RangeError(
      `yTrue has ${yTrue.length} labels but yPred has ${yPred.length}: pass one predicted class per true label`,
    );
  }
  checkLabels("yTrue", yTrue, numClasses);
  checkLabels("yPred", yPred, numClasses);
}

function checkLabels(
  name: string,
  labels: ArrayLike<number>,
  numClasses: number,
): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (
      typeof label !== "number" || !Number.isInteger(label) || label < 0 ||
      label >= numClasses
    ) {
      throw new RangeError(
        `${name}[${i}] is ${
          String(label)
        }, but labels must be class indices in 0..${
          numClasses - 1
        }: pass integer classes (the argmax of the model output), not one-hot rows, probabilities or names`,
      );
    }
  }
}
