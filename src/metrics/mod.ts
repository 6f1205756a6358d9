/**
 * Classification metrics: confusion matrix, scikit-learn's classification
 * report (numbers, text and JSON), accuracy, and the seed notebook's
 * over/underfitting diagnosis.
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
