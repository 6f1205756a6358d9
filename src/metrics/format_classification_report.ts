/**
 * scikit-learn's text layout of a classification report.
 *
 * @module
 */

import type {
  ClassificationReport,
  ClassScores,
} from "./classification_report.ts";
import { codePointLength, formatFixed, rjust } from "../util/python_format.ts";

const HEADERS = ["precision", "recall", "f1-score", "support"];
/** scikit-learn sizes the name column to fit at least its longest summary heading. */
const LONGEST_SUMMARY = "weighted avg";
const COLUMN = 9;

/**
 * Formats a report exactly as scikit-learn's `classification_report` prints
 * it: same column widths, right alignment, blank lines, and Python's
 * round-half-even of the exact value to `digits` decimals (0.125 prints as
 * "0.12"); it ends with a newline, as scikit-learn's string does.
 *
 * The name column is as wide as the longest class name or "weighted avg".
 * Like scikit-learn (Python's `len` and `str.format`), widths count Unicode
 * code points, so a Japanese name such as "飛行機" counts 3 even though a
 * terminal draws it 6 columns wide: rows with CJK names line up as they do in
 * scikit-learn's output, which is ragged in a monospace font.
 *
 * @example
 * ```ts
 * const report = classificationReport(yTrue, yPred, ["cat", "dog"]);
 * console.log(formatClassificationReport(report));
 * ```
 * @throws {RangeError} when `digits` is not a whole number in 0..100.
 */
export function formatClassificationReport(
  report: ClassificationReport,
  digits: number = 2,
): string {
  // formatFixed validates digits; call it once up front so an empty report fails the same way.
  formatFixed(0, digits);
  const nameWidth = Math.max(
    0,
    ...report.classes.map((c) => codePointLength(c.name)),
  );
  const width = Math.max(nameWidth, LONGEST_SUMMARY.length, digits);
  const cell = (value: number): string =>
    " " + rjust(formatFixed(value, digits), COLUMN);
  // With no true positive at all, scikit-learn's supports come out of a float
  // array and print as "5.0"; mirror that so even this text matches.
  const support = (count: number): string =>
    rjust(report.accuracy === 0 ? `${count}.0` : String(count), COLUMN);
  const row = (name: string, s: ClassScores): string =>
    rjust(name, width) + " " + cell(s.precision) + cell(s.recall) +
    cell(s.f1Score) + " " + support(s.support) + "\n";

  let text = rjust("", width) + " " +
    HEADERS.map((h) => " " + rjust(h, COLUMN)).join("") + "\n\n";
  for (const c of report.classes) text += row(c.name, c);
  text += "\n";
  // The accuracy row leaves precision and recall blank: formatting "" keeps it empty.
  text += rjust("accuracy", width) + " " + " " + rjust("", COLUMN) + " " +
    rjust("", COLUMN) + cell(report.accuracy) + " " +
    support(report.macroAvg.support) + "\n";
  text += row("macro avg", report.macroAvg);
  text += row("weighted avg", report.weightedAvg);
  return text;
}
