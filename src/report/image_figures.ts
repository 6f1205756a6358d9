/**
 * Pictures made of images with captions (the training grid, the predictions,
 * the feature maps) as standalone SVG documents with the PNGs embedded as
 * data URIs, so each file renders offline on its own.
 *
 * @module
 */

import { escapeXml, FONT_STACK, num } from "./svg.ts";

/** One line of a caption. */
export interface CaptionLine {
  text: string;
  /** CSS colour; black when absent. */
  color?: string;
}

/** One image and its caption. */
export interface Tile {
  /** `data:image/png;base64,…` of the image. */
  uri: string;
  /** Size to draw the image at (its pixel size, for sharp pixels). */
  width: number;
  height: number;
  caption: readonly CaptionLine[];
  /** Caption above the image (a title) instead of below (a label). */
  captionAbove?: boolean;
}

const LINE = 17;
const FONT = 13;
const PAD = 10;

/**
 * Lays tiles out in rows of `columns` (a column as wide as its widest tile,
 * a row as tall as its tallest), under an optional figure title.
 */
export function tileGridSvg(
  tiles: readonly Tile[],
  columns: number,
  title: string,
): string {
  if (tiles.length === 0) {
    throw new RangeError("no images to draw: pass at least one tile");
  }
  const cols = Math.max(1, Math.min(columns, tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const captionHeight = (t: Tile): number => t.caption.length * LINE + 4;
  const colWidths = Array.from({ length: cols }, (_, c) =>
    Math.max(
      ...tiles.filter((_, i) => i % cols === c).map((t) => t.width),
    ));
  const rowHeights = Array.from({ length: rows }, (_, r) =>
    Math.max(
      ...tiles.slice(r * cols, (r + 1) * cols).map((t) =>
        t.height + captionHeight(t)
      ),
    ));
  const titleHeight = 30;
  const width = colWidths.reduce((a, b) => a + b, 0) + (cols + 1) * PAD;
  const height = titleHeight + rowHeights.reduce((a, b) => a + b, 0) +
    (rows + 1) * PAD;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${
      escapeXml(FONT_STACK)
    }" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${num(width / 2)}" y="21" font-size="16" text-anchor="middle">${
      escapeXml(title)
    }</text>`,
  ];
  let y = titleHeight + PAD;
  for (let r = 0; r < rows; r++) {
    let x = PAD;
    for (let c = 0; c < cols; c++) {
      const tile = tiles[r * cols + c];
      const colWidth = colWidths[c] as number;
      if (tile) {
        const left = x + (colWidth - tile.width) / 2;
        const capH = captionHeight(tile);
        const imageTop = tile.captionAbove ? y + capH : y;
        const captionTop = tile.captionAbove ? y : y + tile.height + 4;
        out.push(
          `<image x="${num(left)}" y="${
            num(imageTop)
          }" width="${tile.width}" height="${tile.height}" href="${tile.uri}" style="image-rendering:pixelated" preserveAspectRatio="none"/>`,
        );
        tile.caption.forEach((line, k) => {
          out.push(
            `<text x="${num(x + colWidth / 2)}" y="${
              num(captionTop + (k + 1) * LINE - 4)
            }" font-size="${FONT}" text-anchor="middle" fill="${
              escapeXml(line.color ?? "#000000")
            }">${escapeXml(line.text)}</text>`,
          );
        });
      }
      x += colWidth + PAD;
    }
    y += (rowHeights[r] as number) + PAD;
  }
  out.push(`</svg>`);
  return out.join("\n");
}
