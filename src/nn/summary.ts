/**
 * Keras 2's `model.summary()` table for sequential models, in the classic
 * layout: 65 columns, column ends at 29, 55 and 65, every field cut to its
 * column, a `_` rule between layers.
 *
 * @module
 */

/** One row of the summary. */
export interface SummaryRow {
  name: string;
  className: string;
  outputShape: string;
  params: number;
}

const LINE_LENGTH = 65;
// Keras' default relative positions [.45, .85, 1] of a 65-column line.
const POSITIONS = [29, 55, 65];

/**
 * Lays out one row like Keras' `print_row`: each field is appended after
 * replacing the previous field's last character with a space, then the line
 * is cut or padded to the field's end column.
 */
function row(fields: string[]): string {
  let line = "";
  fields.forEach((field, i) => {
    if (i > 0) line = line.slice(0, -1) + " ";
    line += field;
    const end = POSITIONS[i] ?? LINE_LENGTH;
    line = line.slice(0, end).padEnd(end);
  });
  return line;
}

/** Python's `'{:,}'.format(n)`. */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** The summary's lines, exactly as Keras 2 prints them. */
export function summaryLines(
  modelName: string,
  rows: SummaryRow[],
  trainable: number,
  nonTrainable: number,
): string[] {
  const lines = [
    `Model: "${modelName}"`,
    "_".repeat(LINE_LENGTH),
    row(["Layer (type)", "Output Shape", "Param #"]),
    "=".repeat(LINE_LENGTH),
  ];
  rows.forEach((r, i) => {
    lines.push(
      row([`${r.name} (${r.className})`, r.outputShape, String(r.params)]),
    );
    lines.push((i === rows.length - 1 ? "=" : "_").repeat(LINE_LENGTH));
  });
  lines.push(
    `Total params: ${thousands(trainable + nonTrainable)}`,
    `Trainable params: ${thousands(trainable)}`,
    `Non-trainable params: ${thousands(nonTrainable)}`,
    "_".repeat(LINE_LENGTH),
  );
  return lines;
}
