/**
 * The confusion-matrix heatmap as SVG, drawn like the seed's matplotlib
 * figure: Blues colour map over the matrix's min..max, counts in the cells
 * (white where the count exceeds max/2), a colour bar, class names on both
 * axes with the x labels turned 45°, rows true and columns predicted.
 * Beyond 12 classes (up to 50 and more) the cells shrink to no less than
 * 16 px, the x labels stand vertical so that each keeps its column's width,
 * counts get the largest font their cell holds, and names wider than 150 px
 * are cut in the middle (the full name stays in a tooltip).
 *
 * @module
 */

import { BLUES, cssColorAt } from "./colormap.ts";
import {
  escapeXml,
  FONT_STACK,
  niceTicks,
  num,
  textWidth,
  tickLabel,
} from "./svg.ts";

/** Text of the confusion-matrix chart. */
export interface ConfusionChartText {
  title: string;
  trueLabel: string;
  predictedLabel: string;
}

const SIN45 = Math.SQRT1_2;
/** Widest class name drawn, in px; longer ones are cut with an ellipsis. */
const MAX_LABEL_PX = 150;

/**
 * `name` cut in the middle so that it is at most `max` px wide at `size`:
 * keeping both ends keeps names that differ only at the end (`… 8`,
 * `… 17`) apart.
 */
export function shortLabel(name: string, size: number, max: number): string {
  if (textWidth(name, size) <= max) return name;
  const chars = [...name];
  let head = Math.ceil(chars.length / 2);
  let tail = chars.length - head;
  const cut = () =>
    chars.slice(0, head).join("") + "…" +
    chars.slice(chars.length - tail).join("");
  while (head + tail > 1 && textWidth(cut(), size) > max) {
    if (head > tail) head--;
    else tail--;
  }
  return cut();
}

/** Cell size, label and count fonts and x-label angle for `n` classes. */
function layout(n: number, vmax: number) {
  if (n <= 12) {
    // The seed's figure: large cells, labels turned 45°.
    return { cell: 46, labelSize: 12, countSize: 13, angle: -45 };
  }
  const cell = Math.max(16, Math.floor(640 / n));
  // Counts fill at most 90% of the cell's width (digits are ~0.62 em).
  const digits = String(Math.round(vmax)).length;
  return {
    cell,
    labelSize: Math.min(12, cell * 0.7),
    countSize: Math.min(13, cell * 0.55, (cell * 0.9) / (digits * 0.62)),
    angle: -90,
  };
}

function labelText(
  attrs: string,
  name: string,
  shown: string,
): string {
  const text = `<text ${attrs}>${escapeXml(shown)}</text>`;
  return shown === name
    ? text
    : `<g><title>${escapeXml(name)}</title>${text}</g>`;
}

/** The geometry shared by the parts of one chart. */
interface Geometry {
  cell: number;
  size: number;
  labelSize: number;
  countSize: number;
  angle: number;
  left: number;
  top: number;
  xLabelDrop: number;
  /** The colour scale's position of a count, 0 (vmin) to 1 (vmax). */
  norm: (v: number) => number;
}

/** The cells with their counts (white on dark cells), each with a tooltip. */
function cells(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
  text: ConfusionChartText,
  g: Geometry,
  thresh: number,
): string[] {
  const out: string[] = [];
  const { cell, countSize, norm } = g;
  matrix.forEach((row, i) => {
    row.forEach((count, j) => {
      const x = j * cell;
      const y = i * cell;
      out.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${
          cssColorAt(BLUES, norm(count))
        }"><title>${
          escapeXml(
            `${text.trueLabel}: ${classNames[i]}, ${text.predictedLabel}: ${
              classNames[j]
            }: ${count}`,
          )
        }</title></rect>`,
      );
      out.push(
        `<text x="${num(x + cell / 2)}" y="${num(y + cell / 2)}" font-size="${
          num(countSize)
        }" text-anchor="middle" dominant-baseline="central" fill="${
          count > thresh ? "#ffffff" : "#000000"
        }">${count}</text>`,
      );
    });
  });
  return out;
}

/** Tick marks and class names on both axes, and the two axis titles. */
function axes(
  classNames: readonly string[],
  shown: readonly string[],
  text: ConfusionChartText,
  g: Geometry,
): string[] {
  const { cell, size, labelSize, angle } = g;
  const out: string[] = [];
  classNames.forEach((name, i) => {
    const c = num(i * cell + cell / 2);
    out.push(
      `<line x1="-4" y1="${c}" x2="0" y2="${c}" stroke="#000000"/>`,
      labelText(
        `x="-7" y="${c}" font-size="${
          num(labelSize)
        }" text-anchor="end" dominant-baseline="central"`,
        name,
        shown[i]!,
      ),
      `<line x1="${c}" y1="${size}" x2="${c}" y2="${
        size + 4
      }" stroke="#000000"/>`,
      labelText(
        `transform="translate(${c},${size + 8}) rotate(${angle})" font-size="${
          num(labelSize)
        }" text-anchor="end" dominant-baseline="central"`,
        name,
        shown[i]!,
      ),
    );
  });
  out.push(
    `<text transform="translate(${num(-g.left + 16)},${
      num(size / 2)
    }) rotate(-90)" font-size="13" text-anchor="middle" dominant-baseline="central">${
      escapeXml(text.trueLabel)
    }</text>`,
    `<text x="${num(size / 2)}" y="${
      num(size + g.xLabelDrop + 18)
    }" font-size="13" text-anchor="middle">${
      escapeXml(text.predictedLabel)
    }</text>`,
  );
  return out;
}

/** The colour bar: the whole map from vmin (bottom) to vmax (top), ticked. */
function colorBar(
  g: Geometry,
  barX: number,
  barWidth: number,
  ticks: readonly number[],
  tickTexts: readonly string[],
  gradientId: string,
): string[] {
  const { top, size, norm } = g;
  const out = [
    `<defs><linearGradient id="${gradientId}" x1="0" y1="1" x2="0" y2="0">`,
  ];
  for (let k = 0; k <= 32; k++) {
    out.push(
      `<stop offset="${num(k / 32)}" stop-color="${
        cssColorAt(BLUES, k / 32)
      }"/>`,
    );
  }
  out.push(
    `</linearGradient></defs>`,
    `<rect x="${num(barX)}" y="${
      num(top)
    }" width="${barWidth}" height="${size}" fill="url(#${gradientId})" stroke="#000000" stroke-width="0.8"/>`,
  );
  ticks.forEach((t, k) => {
    const y = num(top + size - norm(t) * size);
    out.push(
      `<line x1="${num(barX + barWidth)}" y1="${y}" x2="${
        num(barX + barWidth + 4)
      }" y2="${y}" stroke="#000000"/>`,
      `<text x="${
        num(barX + barWidth + 7)
      }" y="${y}" font-size="11" dominant-baseline="central">${
        tickTexts[k]
      }</text>`,
    );
  });
  return out;
}

/**
 * Draws `matrix` (rows = true class, columns = predicted class) as a
 * standalone SVG document; `idPrefix` keeps gradient ids unique when several
 * charts share one HTML page.
 */
export function confusionMatrixSvg(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
  text: ConfusionChartText,
  idPrefix: string = "cm",
): string {
  const n = classNames.length;
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new RangeError(
      `confusion matrix is not ${n}x${n}: pass one row and one column per class name`,
    );
  }
  const values = matrix.flat();
  const vmin = Math.min(...values);
  const vmax = Math.max(...values);
  const thresh = vmax / 2; // the seed's conf_matrix.max() / 2
  const { cell, labelSize, countSize, angle } = layout(n, vmax);
  const shown = classNames.map((c) => shortLabel(c, labelSize, MAX_LABEL_PX));
  const labelWidth = Math.max(...shown.map((c) => textWidth(c, labelSize)));
  const size = n * cell;

  const titleHeight = 34;
  const left = 24 + labelWidth + 12;
  const top = titleHeight + 6;
  const xLabelDrop = angle === -90
    ? labelWidth + 12
    : (labelWidth + labelSize) * SIN45 + 10;
  const bottom = xLabelDrop + 30;
  const barGap = 18;
  const barWidth = 16;
  const nice = niceTicks(vmin, vmax, 6);
  const step = nice.step;
  const ticks = vmax === vmin
    ? [vmin]
    : nice.ticks.filter((t) => t >= vmin - 1e-9 && t <= vmax + 1e-9);
  const tickTexts = ticks.map((t) => tickLabel(t, step));
  const barLabelWidth = Math.max(0, ...tickTexts.map((t) => textWidth(t, 11)));
  const width = Math.ceil(
    left + size + barGap + barWidth + 8 + barLabelWidth + 12,
  );
  const height = Math.ceil(top + size + bottom);
  const g: Geometry = {
    cell,
    size,
    labelSize,
    countSize,
    angle,
    left,
    top,
    xLabelDrop,
    norm: (v) => vmax === vmin ? 0 : (v - vmin) / (vmax - vmin),
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${
      escapeXml(FONT_STACK)
    }" role="img">`,
    `<title>${escapeXml(text.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${num(left + size / 2)}" y="${
      titleHeight - 10
    }" font-size="16" text-anchor="middle">${escapeXml(text.title)}</text>`,
    `<g transform="translate(${num(left)},${num(top)})">`,
    ...cells(matrix, classNames, text, g, thresh),
    `<rect width="${size}" height="${size}" fill="none" stroke="#000000" stroke-width="0.8"/>`,
    ...axes(classNames, shown, text, g),
    `</g>`,
    ...colorBar(
      g,
      left + size + barGap,
      barWidth,
      ticks,
      tickTexts,
      `${idPrefix}-blues`,
    ),
    `</svg>`,
  ].join("\n");
}
