/**
 * Writing a report and its pictures to a folder.
 *
 * @module
 */

import { join } from "node:path";
import { tileGridSvg } from "./image_figures.ts";
import { tileImages } from "./image_grid.ts";
import { renderHtml } from "./html.ts";
import { metricsJson } from "./metrics_json.ts";
import { encodePng } from "../image/png_encode.ts";
import {
  type PreparedReport,
  prepareReport,
  type RasterTile,
} from "./prepare.ts";
import type { Lang, ReportData } from "./types.ts";

/** Name and content of every file of a report. */
export function reportFiles(
  p: PreparedReport,
): { name: string; content: string | Uint8Array }[] {
  const { s } = p;
  const files: { name: string; content: string | Uint8Array }[] = [
    { name: "report.html", content: renderHtml(p) },
    { name: "metrics.json", content: metricsJson(p) },
    { name: "classification_report.txt", content: p.reportText },
    { name: "confusion_matrix.svg", content: p.confusionSvg + "\n" },
    { name: "learning_curves.svg", content: p.curvesSvg + "\n" },
  ];
  const composite = (tiles: RasterTile[], columns: number): Uint8Array =>
    encodePng(tileImages(tiles.map((t) => t.raster), columns, 4, 255));
  if (p.trainTiles) {
    files.push(
      {
        name: "train_samples.svg",
        content: tileGridSvg(p.trainTiles, 5, s.trainSamples) + "\n",
      },
      { name: "train_samples.png", content: composite(p.trainTiles, 5) },
    );
  }
  if (p.predictionTiles) {
    files.push(
      {
        name: "predictions.svg",
        content: tileGridSvg(p.predictionTiles, 5, s.predictions) + "\n",
      },
      { name: "predictions.png", content: composite(p.predictionTiles, 5) },
    );
  }
  if (p.featureInput) {
    files.push(
      {
        name: "feature_maps.svg",
        content:
          tileGridSvg([p.featureInput, ...p.featureStrips], 1, s.featureMaps) +
          "\n",
      },
      { name: "feature_input.png", content: encodePng(p.featureInput.raster) },
      ...p.featureStrips.map((t, i) => ({
        name: `feature_maps_${i + 1}.png`,
        content: encodePng(t.raster),
      })),
    );
  }
  return files;
}

/**
 * Writes `report.html` (as {@linkcode buildReport}), `metrics.json`,
 * `classification_report.txt` and each picture into `dir`, creating it if
 * needed: `confusion_matrix.svg`, `learning_curves.svg`,
 * `train_samples.svg/.png`, `predictions.svg/.png`, `feature_maps.svg`,
 * `feature_input.png` and `feature_maps_<n>.png` (image files only for the
 * sections `data` has). Existing files of those names are replaced.
 *
 * Needs `--allow-write` for `dir`. Returns the paths written.
 *
 * @throws {RangeError | TypeError} on bad data, before any file is written.
 */
export async function writeReport(
  dir: string,
  data: ReportData,
  lang: Lang = "en",
): Promise<string[]> {
  if (typeof dir !== "string" || dir.length === 0) {
    throw new TypeError(
      "dir is empty: pass the folder to write the report into",
    );
  }
  const files = reportFiles(prepareReport(data, lang));
  await Deno.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const file of files) {
    const path = join(dir, file.name);
    if (typeof file.content === "string") {
      await Deno.writeTextFile(path, file.content);
    } else {
      await Deno.writeFile(path, file.content);
    }
    written.push(path);
  }
  return written;
}
