/**
 * The training report: one self-contained `report.html` (English or the
 * seed notebook's Japanese) with settings, model summary, metrics and all
 * the seed's pictures, plus `metrics.json` and the pictures as files.
 * `buildReportData` gathers a {@linkcode ReportData} from a trained model;
 * `writeReport` writes the files.
 *
 * ```ts
 * import { buildReport, CIFAR10_CLASS_NAMES, type ReportData } from "@simdnet/simdnet/report";
 *
 * const data: ReportData = {
 *   title: "simdnet CIFAR-10 CNN",
 *   settings: { epochs: 2, backend: "cpu" },
 *   summary: 'Model: "sequential"',
 *   history: { loss: [1.9, 1.5], accuracy: [0.3, 0.45], val_loss: [], val_accuracy: [] },
 *   test: { loss: 1.4, accuracy: 0.75 },
 *   yTrue: [0, 1, 2, 3],
 *   yPred: [0, 1, 2, 5],
 *   classNames: CIFAR10_CLASS_NAMES,
 * };
 * const html = buildReport(data, "ja"); // or writeReport(dir, data, "ja")
 * console.log(html.includes("飛行機")); // true
 * ```
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
