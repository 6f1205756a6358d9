/**
 * Keras 2's `model.summary()` table in the classic layout: for sequential
 * models 65 columns, column ends at 29, 55 and 65; for functional models
 * 98 columns, ends at 32, 53, 65 and 98 with a "Connected to" column (one
 * line per inbound tensor, `name[node][tensor]`); every field cut to its
 * column, a `_` rule between layers.
 *
 * @module
 */

import type { GraphNode } from "./graph.ts";
import { formatShape } from "./layer.ts";

/** One row of the summary. */
export interface SummaryRow {
  name: string;
  className: string;
  outputShape: string;
  params: number;
}

/** One row of the functional summary: a row and the layers it reads. */
export interface ConnectedRow extends SummaryRow {
  /** `name[0][0]` of each inbound tensor, in order; empty for the input. */
  connectedTo: string[];
}

const LINE_LENGTH = 65;
// Keras' default relative positions [.45, .85, 1] of a 65-column line.
const POSITIONS = [29, 55, 65];
// Keras' positions [.33, .55, .67, 1] of a 98-column line, truncated.
const GRAPH_LINE_LENGTH = 98;
const GRAPH_POSITIONS = [32, 53, 65, 98];

/**
 * Lays out one row like Keras' `print_row`: each field is appended after
 * replacing the previous field's last character with a space, then the line
 * is cut or padded to the field's end column.
 */
function row(fields: string[], positions = POSITIONS): string {
  let line = "";
  fields.forEach((field, i) => {
    if (i > 0) line = line.slice(0, -1) + " ";
    line += field;
    const end = positions[i]!;
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

/**
 * The functional summary's lines, as Keras 2 prints them: the input layer
 * first, a layer reading several tensors on one line per connection.
 */
export function functionalSummaryLines(
  modelName: string,
  rows: ConnectedRow[],
  trainable: number,
  nonTrainable: number,
): string[] {
  const width = GRAPH_LINE_LENGTH;
  const at = GRAPH_POSITIONS;
  const lines = [
    `Model: "${modelName}"`,
    "_".repeat(width),
    row(["Layer (type)", "Output Shape", "Param #", "Connected to"], at),
    "=".repeat(width),
  ];
  rows.forEach((r, i) => {
    const [first = "", ...more] = r.connectedTo;
    lines.push(
      row([
        `${r.name} (${r.className})`,
        r.outputShape,
        String(r.params),
        first,
      ], at),
    );
    for (const c of more) lines.push(row(["", "", "", c], at));
    lines.push((i === rows.length - 1 ? "=" : "_").repeat(width));
  });
  lines.push(
    `Total params: ${thousands(trainable + nonTrainable)}`,
    `Trainable params: ${thousands(trainable)}`,
    `Non-trainable params: ${thousands(nonTrainable)}`,
    "_".repeat(width),
  );
  return lines;
}

/** What {@linkcode graphSummaryLines} needs of a model. */
export interface GraphSummary {
  name: string;
  inputName: string;
  inputShape: readonly number[];
  nodes: readonly GraphNode[];
  outputShapes: readonly (readonly number[])[];
  /** Whether each layer reads the previous one only. */
  chain: boolean;
}

/**
 * A graph model's summary: Keras 2 prints a chain in the sequential layout
 * and any other graph with "Connected to"; both list the InputLayer first.
 */
export function graphSummaryLines(
  g: GraphSummary,
  trainable: number,
  nonTrainable: number,
): string[] {
  const input = {
    name: g.inputName,
    className: "InputLayer",
    outputShape: `[${formatShape(g.inputShape)}]`,
    params: 0,
    connectedTo: [],
  };
  const rows = g.nodes.map(({ layer, inputs }, i) => ({
    name: layer.name,
    className: layer.className,
    outputShape: formatShape(g.outputShapes[i] ?? []),
    params: layer.weights.reduce((n, w) => n + w.variable.size, 0),
    connectedTo: inputs.map((k) =>
      `${k < 0 ? g.inputName : g.nodes[k]!.layer.name}[0][0]`
    ),
  }));
  return g.chain
    ? summaryLines(g.name, [input, ...rows], trainable, nonTrainable)
    : functionalSummaryLines(g.name, [input, ...rows], trainable, nonTrainable);
}
