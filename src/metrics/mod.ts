/**
 * Classification metrics: confusion matrix, scikit-learn's classification
 * report (numbers, text and JSON), accuracy, and the seed notebook's
 * over/underfitting diagnosis.
 *
 * ```ts
 * import {
 *   accuracy,
 *   classificationReport,
 *   confusionMatrix,
 *   formatClassificationReport,
 * } from "@simdnet/simdnet/metrics";
 *
 * const yTrue = [0, 0, 1, 1, 1];
 * const yPred = [0, 1, 1, 1, 0];
 * console.log(accuracy(yTrue, yPred)); // 0.6
 * console.log(confusionMatrix(yTrue, yPred, 2)); // [ [ 1, 1 ], [ 1, 2 ] ]
 * const report = classificationReport(yTrue, yPred, ["cat", "dog"]);
 * console.log(formatClassificationReport(report)); // scikit-learn's text
 * ```
 *
 * @module
 */

export { accuracy } from "./accuracy.ts";
export { confusionMatrix } from "./confusion_matrix.ts";
export {
  classificationReport,
  classificationReportToDict,
  classificationReportToJson,
} from "./classification_report.ts";
export type {
  ClassificationReport,
  ClassificationReportDict,
  ClassRow,
  ClassScores,
  ClassScoresDict,
} from "./classification_report.ts";
export { formatClassificationReport } from "./format_classification_report.ts";
export {
  diagnose,
  OVERFITTING_GAP,
  UNDERFITTING_ACCURACY,
} from "./diagnosis.ts";
export type { AccuracyHistory, Diagnosis, DiagnosisCode } from "./diagnosis.ts";
