/**
 * The seed's learning-curve figure as SVG: accuracy and loss side by side,
 * training against validation per epoch, with legends and axis labels.
 *
 * @module
 */

import {
  escapeXml,
  FONT_STACK,
  niceTicks,
  num,
  textWidth,
  tickLabel,
} from "./svg.ts";

/** One line of a panel. */
export interface Series {
  label: string;
  /** Value per epoch; the first is epoch 1. Non-finite values leave a gap. */
  values: readonly number[];
  color: string;
}

/** One chart of the figure. */
export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
}

/** matplotlib's first two default line colours (C0, C1), which the seed's plots use. */
export const TRAIN_COLOR = "#1f77b4";
/** See {@linkcode TRAIN_COLOR}. */
export const VALIDATION_COLOR = "#ff7f0e";

const PANEL_WIDTH = 460;
const PANEL_HEIGHT = 320;
const GAP = 24;
const M = { left: 64, right: 16, top: 40, bottom: 52 };

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function overlaps(box: Box, px: number, py: number): boolean {
  return px >= box.x - 4 && px <= box.x + box.w + 4 && py >= box.y - 4 &&
    py <= box.y + box.h + 4;
}

const PLOT_W = PANEL_WIDTH - M.left - M.right;
const PLOT_H = PANEL_HEIGHT - M.top - M.bottom;

/** A panel's data-to-pixel mapping, and its y range. */
interface Scales {
  epochs: number;
  yMin: number;
  yMax: number;
  sx: (x: number) => number;
  sy: (y: number) => number;
}

function scales(panel: Panel): Scales {
  const epochs = Math.max(0, ...panel.series.map((s) => s.values.length));
  const finite = panel.series.flatMap((s) => s.values.filter(Number.isFinite));
  // matplotlib pads the data range by 5% on each side.
  let xMin = 1;
  let xMax = Math.max(1, epochs);
  if (xMax === xMin) {
    xMin -= 0.5;
    xMax += 0.5;
  }
  const xPad = (xMax - xMin) * 0.05;
  xMin -= xPad;
  xMax += xPad;
  let yMin = finite.length ? Math.min(...finite) : 0;
  let yMax = finite.length ? Math.max(...finite) : 1;
  if (yMax === yMin) {
    const pad = Math.abs(yMin) > 0 ? Math.abs(yMin) * 0.05 : 0.05;
    yMin -= pad;
    yMax += pad;
  }
  const yPad = (yMax - yMin) * 0.05;
  yMin -= yPad;
  yMax += yPad;
  return {
    epochs,
    yMin,
    yMax,
    sx: (x) => M.left + (x - xMin) / (xMax - xMin) * PLOT_W,
    sy: (y) => M.top + PLOT_H - (y - yMin) / (yMax - yMin) * PLOT_H,
  };
}

/** Grid lines, ticks, the frame and the axis titles. */
function frame(panel: Panel, sc: Scales, out: string[]): void {
  const xTicks = niceTicks(1, Math.max(1, sc.epochs), 8);
  const xStep = Math.max(1, Math.round(xTicks.step));
  const epochTicks = xTicks.ticks.filter((e) => e >= 1 && e % xStep === 0);
  for (const e of epochTicks.length ? epochTicks : [1]) {
    const x = num(sc.sx(e));
    out.push(
      `<line x1="${x}" y1="${M.top}" x2="${x}" y2="${
        M.top + PLOT_H
      }" stroke="#e6e6e6"/>`,
      `<line x1="${x}" y1="${M.top + PLOT_H}" x2="${x}" y2="${
        M.top + PLOT_H + 4
      }" stroke="#000000"/>`,
      `<text x="${x}" y="${
        M.top + PLOT_H + 17
      }" font-size="11" text-anchor="middle">${e}</text>`,
    );
  }
  const yTicks = niceTicks(sc.yMin, sc.yMax, 6);
  for (const t of yTicks.ticks) {
    const y = num(sc.sy(t));
    out.push(
      `<line x1="${M.left}" y1="${y}" x2="${
        M.left + PLOT_W
      }" y2="${y}" stroke="#e6e6e6"/>`,
      `<line x1="${
        M.left - 4
      }" y1="${y}" x2="${M.left}" y2="${y}" stroke="#000000"/>`,
      `<text x="${
        M.left - 7
      }" y="${y}" font-size="11" text-anchor="end" dominant-baseline="central">${
        tickLabel(t, yTicks.step)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#000000" stroke-width="0.8"/>`,
    `<text x="${num(M.left + PLOT_W / 2)}" y="${
      PANEL_HEIGHT - 12
    }" font-size="13" text-anchor="middle">${escapeXml(panel.xLabel)}</text>`,
    `<text transform="translate(16,${
      num(M.top + PLOT_H / 2)
    }) rotate(-90)" font-size="13" text-anchor="middle" dominant-baseline="central">${
      escapeXml(panel.yLabel)
    }</text>`,
  );
}

/**
 * Each series as points with tooltips, joined by lines that break at
 * missing values; returns the points' pixel positions.
 */
function lines(panel: Panel, sc: Scales, out: string[]): [number, number][] {
  const points: [number, number][] = [];
  for (const s of panel.series) {
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1) {
        out.push(
          `<polyline points="${
            run.join(" ")
          }" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"/>`,
        );
      }
      run = [];
    };
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return flush();
      const px = sc.sx(i + 1);
      const py = sc.sy(v);
      points.push([px, py]);
      run.push(`${num(px)},${num(py)}`);
      out.push(
        `<circle cx="${num(px)}" cy="${
          num(py)
        }" r="2.5" fill="${s.color}"><title>${
          escapeXml(`${s.label}, ${panel.xLabel} ${i + 1}: ${v}`)
        }</title></circle>`,
      );
    });
    flush();
  }
  return points;
}

/** The legend in the inner corner that hides the fewest points (matplotlib's "best"). */
function legend(
  panel: Panel,
  points: readonly [number, number][],
  out: string[],
): void {
  const legendW = 40 +
    Math.max(...panel.series.map((s) => textWidth(s.label, 12)));
  const legendH = 10 + panel.series.length * 20;
  const right = M.left + PLOT_W - legendW - 8;
  const bottom = M.top + PLOT_H - legendH - 8;
  const corners: Box[] = [
    { x: right, y: M.top + 8, w: legendW, h: legendH },
    { x: right, y: bottom, w: legendW, h: legendH },
    { x: M.left + 8, y: M.top + 8, w: legendW, h: legendH },
    { x: M.left + 8, y: bottom, w: legendW, h: legendH },
  ];
  const hidden = (b: Box): number =>
    points.filter(([x, y]) => overlaps(b, x, y)).length;
  const box = corners.reduce((best, b) => hidden(b) < hidden(best) ? b : best);
  out.push(
    `<rect x="${num(box.x)}" y="${num(box.y)}" width="${num(box.w)}" height="${
      num(box.h)
    }" rx="3" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`,
  );
  panel.series.forEach((s, k) => {
    const y = box.y + 15 + k * 20;
    out.push(
      `<line x1="${num(box.x + 8)}" y1="${num(y)}" x2="${
        num(box.x + 30)
      }" y2="${num(y)}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${num(box.x + 36)}" y="${
        num(y)
      }" font-size="12" dominant-baseline="central">${
        escapeXml(s.label)
      }</text>`,
    );
  });
}

function drawPanel(panel: Panel, offsetX: number, out: string[]): void {
  const sc = scales(panel);
  out.push(`<g transform="translate(${offsetX},0)">`);
  out.push(
    `<text x="${
      num(M.left + PLOT_W / 2)
    }" y="24" font-size="15" text-anchor="middle">${
      escapeXml(panel.title)
    }</text>`,
  );
  frame(panel, sc, out);
  legend(panel, lines(panel, sc, out), out);
  out.push(`</g>`);
}

/**
 * Draws panels side by side (the seed's `plt.subplots(1, 2)`) as one
 * standalone SVG document. Epochs are numbered from 1.
 */
export function learningCurvesSvg(
  panels: readonly Panel[],
  title: string,
): string {
  const width = panels.length * PANEL_WIDTH + (panels.length - 1) * GAP;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_HEIGHT}" viewBox="0 0 ${width} ${PANEL_HEIGHT}" font-family="${
      escapeXml(FONT_STACK)
    }" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${PANEL_HEIGHT}" fill="#ffffff"/>`,
  ];
  panels.forEach((p, i) => drawPanel(p, i * (PANEL_WIDTH + GAP), out));
  out.push(`</svg>`);
  return out.join("\n");
}
