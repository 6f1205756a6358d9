/**
 * Per-class precision, recall and F1, computed as scikit-learn's
 * `classification_report` does.
 *
 * @module
 */

import { numpyMean, numpySum } from "../util/numpy_sum.ts";
import { confusionMatrix } from "./confusion_matrix.ts";

/** Scores of one class or one average row of a classification report. */
export interface ClassScores {
  /** Correct predictions of the class / all predictions of it; 0 when it was never predicted. */
  precision: number;
  /** Correct predictions of the class / all samples of it; 0 when it has no samples. */
  recall: number;
  /** Harmonic mean of precision and recall, `2·tp / (support + predicted)`; 0 when both counts are 0. */
  f1Score: number;
  /** Number of samples whose true class this is (for average rows: all samples). */
  support: number;
}

/** One class row of a {@linkcode ClassificationReport}. */
export interface ClassRow extends ClassScores {
  /** The class name, as passed in `classNames`. */
  name: string;
}

/** The numbers behind scikit-learn's `classification_report`. */
export interface ClassificationReport {
  /** One row per class, in class-index order. */
  classes: ClassRow[];
  /** Fraction of correct predictions (scikit-learn's "accuracy" row). */
  accuracy: number;
  /** Unweighted mean over classes (scikit-learn's "macro avg" row). */
  macroAvg: ClassScores;
  /** Mean over classes weighted by support (scikit-learn's "weighted avg" row). */
  weightedAvg: ClassScores;
}

/** One entry of scikit-learn's `output_dict=True` form. */
export interface ClassScoresDict {
  precision: number;
  recall: number;
  "f1-score": number;
  support: number;
}

/** scikit-learn's `classification_report(..., output_dict=True)` layout. */
export type ClassificationReportDict = Record<string, ClassScoresDict | number>;

const SUMMARY_KEYS = ["accuracy", "macro avg", "weighted avg"];

function checkClassNames(classNames: readonly string[]): void {
  if (!Array.isArray(classNames) || classNames.length === 0) {
    throw new TypeError(
      "classNames is empty or not an array: pass one name per class, e.g. ['airplane', 'automobile', ...]",
    );
  }
  const seen = new Set<string>();
  classNames.forEach((name, i) => {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(
        `classNames[${i}] is ${
          JSON.stringify(name)
        }: every class needs a non-empty string name`,
      );
    }
    if (seen.has(name)) {
      throw new RangeError(
        `classNames has "${name}" twice: class names must be unique so report rows can be told apart`,
      );
    }
    seen.add(name);
  });
}

function divide(numerator: number, denominator: number): number {
  // scikit-learn's default zero_division ("warn") scores an undefined ratio as 0.
  return denominator === 0 ? 0 : numerator / denominator;
}

/**
 * Computes the per-class and averaged scores of scikit-learn's
 * `classification_report(y_true, y_pred, labels=range(n), target_names=classNames)`.
 *
 * Classes are the indices `0..classNames.length-1`; a class that is never
 * predicted gets precision 0 (scikit-learn's default `zero_division`), one
 * absent from `yTrue` gets recall 0 and support 0. Averages are summed in
 * NumPy's pairwise order so they round like scikit-learn's.
 *
 * @example
 * ```ts
 * const report = classificationReport([0, 1, 1], [0, 1, 0], ["cat", "dog"]);
 * report.classes[1]!.recall; // 0.5
 * ```
 * @throws {RangeError} on empty or mismatched label arrays, labels outside
 * the class range, or duplicate class names.
 */
export function classificationReport(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classNames: readonly string[],
): ClassificationReport {
  checkClassNames(classNames);
  const n = classNames.length;
  const matrix = confusionMatrix(yTrue, yPred, n);
  if (yTrue.length === 0) {
    throw new RangeError(
      "yTrue and yPred are empty: a classification report needs at least one labelled sample",
    );
  }
  const predicted = new Array<number>(n).fill(0);
  let correct = 0;
  matrix.forEach((row, i) => {
    row.forEach((count, j) => predicted[j]! += count);
    correct += row[i] as number;
  });
  const classes: ClassRow[] = matrix.map((row, i) => {
    const tp = row[i] as number;
    const support = numpySum(row);
    const pred = predicted[i] as number;
    return {
      name: classNames[i] as string,
      precision: divide(tp, pred),
      recall: divide(tp, support),
      f1Score: divide(2 * tp, support + pred),
      support,
    };
  });
  const total = yTrue.length;
  const supports = classes.map((c) => c.support);
  const supportSum = numpySum(supports);
  const column = (key: "precision" | "recall" | "f1Score"): number[] =>
    classes.map((c) => c[key]);
  const weighted = (key: "precision" | "recall" | "f1Score"): number =>
    numpySum(column(key).map((v, i) => v * (supports[i] as number))) /
    supportSum;
  return {
    classes,
    accuracy: correct / total,
    macroAvg: {
      precision: numpyMean(column("precision")),
      recall: numpyMean(column("recall")),
      f1Score: numpyMean(column("f1Score")),
      support: total,
    },
    weightedAvg: {
      precision: weighted("precision"),
      recall: weighted("recall"),
      f1Score: weighted("f1Score"),
      support: total,
    },
  };
}

function toDict(scores: ClassScores): ClassScoresDict {
  return {
    precision: scores.precision,
    recall: scores.recall,
    "f1-score": scores.f1Score,
    support: scores.support,
  };
}

/**
 * The report in scikit-learn's `output_dict=True` layout: one key per class
 * name, then `"accuracy"` (a number), `"macro avg"` and `"weighted avg"`,
 * with the score keys `precision`, `recall`, `f1-score` and `support`.
 *
 * @throws {RangeError} when a class is named like a summary row.
 */
export function classificationReportToDict(
  report: ClassificationReport,
): ClassificationReportDict {
  const dict: ClassificationReportDict = {};
  for (const row of report.classes) {
    if (SUMMARY_KEYS.includes(row.name)) {
      throw new RangeError(
        `a class is named "${row.name}", which clashes with a summary row of the report: rename the class`,
      );
    }
    dict[row.name] = toDict(row);
  }
  dict["accuracy"] = report.accuracy;
  dict["macro avg"] = toDict(report.macroAvg);
  dict["weighted avg"] = toDict(report.weightedAvg);
  return dict;
}

/**
 * The report as JSON text in scikit-learn's `output_dict=True` layout
 * (see {@linkcode classificationReportToDict}), indented by `space`.
 */
export function classificationReportToJson(
  report: ClassificationReport,
  space: number = 2,
): string {
  return JSON.stringify(classificationReportToDict(report), null, space);
}
