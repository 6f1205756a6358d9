/**
 * The machine-readable side of a report: `metrics.json`.
 *
 * @module
 */

import { classificationReportToDict } from "../metrics/mod.ts";
import type { PreparedReport } from "./prepare.ts";

/**
 * `metrics.json` content: settings, test results, accuracy over
 * `yTrue`/`yPred`, scikit-learn's `output_dict` classification report keyed
 * by the class names of the report's language, the confusion matrix (rows
 * true, columns predicted), the history and the diagnosis. Non-finite
 * numbers become `null`, as `JSON.stringify` writes them.
 */
export function metricsJson(p: PreparedReport): string {
  const { data } = p;
  return JSON.stringify(
    {
      title: data.title,
      lang: p.lang,
      settings: data.settings,
      test: data.test,
      samples: p.report.macroAvg.support,
      accuracy: p.report.accuracy,
      classNames: p.classNames,
      classificationReport: classificationReportToDict(p.report),
      confusionMatrix: p.matrix,
      history: data.history,
      diagnosis: p.diagnosis,
    },
    null,
    2,
  ) + "\n";
}
