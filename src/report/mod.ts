/**
 * The training report: one self-contained `report.html` (English or the
 * seed notebook's Japanese) with settings, model summary, metrics and all
 * the seed's pictures, plus `metrics.json` and the pictures as files.
 *
 * @module
 */

export { buildReport } from "./html.ts";
export { buildReportData, type ReportRun } from "./build_report_data.ts";
export { writeReport } from "./write_report.ts";
export { CIFAR10_CLASS_NAMES } from "./i18n.ts";
export type {
  FeatureLayer,
  FeatureMaps,
  ImageBatch,
  Lang,
  PredictionBatch,
  ReportData,
  SummaryRow,
  TrainingHistory,
} from "./types.ts";
export { imageAt, tileImages, upscaleNearest } from "./image_grid.ts";
export {
  applyViridis,
  featureStrip,
  normalizeFeatureChannel,
} from "./feature_maps.ts";
export { confusionMatrixSvg } from "./confusion_chart.ts";
export { learningCurvesSvg } from "./learning_curves.ts";
