/**
 * The seed notebook's verdict on the learning curves.
 *
 * @module
 */

/** What {@linkcode diagnose} concluded. */
export type DiagnosisCode = "overfitting" | "underfitting" | "good";

/** The final accuracies that decide a {@linkcode Diagnosis}. */
export interface AccuracyHistory {
  /** Training accuracy per epoch. */
  accuracy: ArrayLike<number>;
  /** Validation accuracy per epoch. */
  val_accuracy: ArrayLike<number>;
}

/** The verdict, the numbers behind it, and the sentence to show. */
export interface Diagnosis {
  code: DiagnosisCode;
  /** Training accuracy of the last epoch. */
  trainAccuracy: number;
  /** Validation accuracy of the last epoch. */
  valAccuracy: number;
  /** `trainAccuracy - valAccuracy`. */
  gap: number;
  /** The sentence in English and in the seed's Japanese. */
  message: { en: string; ja: string };
}

/** Gap between training and validation accuracy above which the seed calls it overfitting. */
export const OVERFITTING_GAP = 0.1;
/** Training accuracy below which the seed calls it underfitting. */
export const UNDERFITTING_ACCURACY = 0.7;

const MESSAGES: Record<DiagnosisCode, { en: string; ja: string }> = {
  overfitting: {
    en:
      "The model may be overfitting - training accuracy is significantly higher than validation accuracy",
    ja: "モデルが過学習の可能性あり - 訓練精度が検証精度より著しく高い",
  },
  underfitting: {
    en:
      "The model may be underfitting - both training and validation accuracy are low",
    ja: "モデルが過少学習の可能性あり - 訓練精度と検証精度が共に低い",
  },
  good: {
    en: "The model appears to be learning well",
    ja: "モデルは適切に学習できているようです",
  },
};

function last(name: string, values: ArrayLike<number>): number {
  const value = values?.length ? values[values.length - 1] : undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new RangeError(
      `history.${name} ${
        value === undefined ? "is empty" : `ends with ${value}`
      }: train at least one epoch with validation data so the final accuracies are known`,
    );
  }
  return value;
}

/**
 * Judges the last epoch as the seed notebook does: overfitting when training
 * accuracy exceeds validation accuracy by more than 0.1, otherwise
 * underfitting when training accuracy is below 0.7, otherwise fine. The
 * comparisons are strict and in float64, as in the seed's Python.
 *
 * @example
 * ```ts
 * diagnose({ accuracy: [0.5, 0.95], val_accuracy: [0.5, 0.7] }).code; // "overfitting"
 * ```
 * @throws {RangeError} when either history is empty or ends with a non-number.
 */
export function diagnose(history: AccuracyHistory): Diagnosis {
  const trainAccuracy = last("accuracy", history.accuracy);
  const valAccuracy = last("val_accuracy", history.val_accuracy);
  const gap = trainAccuracy - valAccuracy;
  const code: DiagnosisCode = gap > OVERFITTING_GAP
    ? "overfitting"
    : trainAccuracy < UNDERFITTING_ACCURACY
    ? "underfitting"
    : "good";
  return { code, trainAccuracy, valAccuracy, gap, message: MESSAGES[code] };
}
