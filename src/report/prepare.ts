/**
 * Turns {@linkcode ReportData} into everything the HTML page and the files
 * show: metrics, the diagnosis, chart SVGs and PNG tiles.
 *
 * @module
 */

import {
  type ClassificationReport,
  classificationReport,
  classificationReportToDict,
  confusionMatrix,
  diagnose,
  type Diagnosis,
  formatClassificationReport,
} from "../metrics/mod.ts";
import { confusionMatrixSvg } from "./confusion_chart.ts";
import { featureStrip } from "./feature_maps.ts";
import { type Strings, strings } from "./i18n.ts";
import type { Tile } from "./image_figures.ts";
import { imageAt, upscaleNearest } from "./image_grid.ts";
import {
  learningCurvesSvg,
  type Panel,
  TRAIN_COLOR,
  VALIDATION_COLOR,
} from "./learning_curves.ts";
import { encodePng, pngDataUri } from "../image/png_encode.ts";
import type { Pixels } from "../image/pixels.ts";
import type { ImageBatch, Lang, ReportData } from "./types.ts";
import {
  checkBatch,
  checkReportData,
  featureInputBatch,
  resolveClassNames,
} from "./validate.ts";

/** The seed's grid of training images is 5×5. */
export const TRAIN_GRID = 25;
/** Images are enlarged to about this many pixels a side. */
const TILE_PIXELS = 128;
const INPUT_PIXELS = 192;
/** matplotlib's 'green' and 'red', the seed's title colours. */
export const RIGHT_COLOR = "#008000";
/** See {@linkcode RIGHT_COLOR}. */
export const WRONG_COLOR = "#ff0000";

/** A tile that also keeps its pixels, for composite PNG files. */
export interface RasterTile extends Tile {
  raster: Pixels;
}

/** A prediction tile. */
export interface PredictionTile extends RasterTile {
  correct: boolean;
}

/** One layer's feature-map strip. */
export interface StripTile extends RasterTile {
  layerName: string;
  shown: number;
  total: number;
}

/** Everything derived from the data, in one language. */
export interface PreparedReport {
  data: ReportData;
  lang: Lang;
  s: Strings;
  classNames: string[];
  matrix: number[][];
  report: ClassificationReport;
  reportText: string;
  diagnosis: Diagnosis | null;
  confusionSvg: string;
  curvesSvg: string;
  trainTiles: RasterTile[] | null;
  predictionTiles: PredictionTile[] | null;
  featureInput: RasterTile | null;
  featureStrips: StripTile[];
}

function tile(
  raster: Pixels,
  pixels: number,
  caption: Tile["caption"],
  captionAbove: boolean,
): RasterTile {
  const factor = Math.max(
    1,
    Math.ceil(pixels / Math.max(raster.width, raster.height)),
  );
  const big = upscaleNearest(raster, factor);
  return {
    uri: pngDataUri(encodePng(big)),
    width: big.width,
    height: big.height,
    caption,
    captionAbove,
    raster: big,
  };
}

function batchRasters(
  batch: ImageBatch,
  where: string,
  numClasses: number,
  limit: number,
): Pixels[] {
  const shape = checkBatch(batch, where, numClasses);
  const count = Math.min(limit, shape.count);
  return Array.from(
    { length: count },
    (_, i) =>
      imageAt(batch.images, i, shape.height, shape.width, shape.channels),
  );
}

function safeDiagnosis(data: ReportData): Diagnosis | null {
  const { accuracy, val_accuracy } = data.history;
  const ok = (a: readonly number[]): boolean =>
    a.length > 0 && Number.isFinite(a[a.length - 1]);
  return ok(accuracy) && ok(val_accuracy) ? diagnose(data.history) : null;
}

/** matplotlib's third default colour (C2), for the learning rate. */
const RATE_COLOR = "#2ca02c";

/**
 * The learning-rate panel when the history has a rate per epoch (a
 * schedule's shape explains the curves' bends), else none.
 */
function learningRatePanel(
  rates: readonly number[] | undefined,
  title: string,
  epoch: string,
): Panel[] {
  if (!rates || rates.length === 0) return [];
  return [{
    title,
    xLabel: epoch,
    yLabel: title,
    series: [{ label: title, values: rates, color: RATE_COLOR }],
  }];
}

/** The learning curves: accuracy, loss and (when recorded) the rate. */
function curves(s: Strings, h: ReportData["history"]): string {
  return learningCurvesSvg([
    {
      title: s.modelAccuracy,
      xLabel: s.epoch,
      yLabel: s.accuracy,
      series: [
        { label: s.trainAccuracy, values: h.accuracy, color: TRAIN_COLOR },
        {
          label: s.valAccuracy,
          values: h.val_accuracy,
          color: VALIDATION_COLOR,
        },
      ],
    },
    {
      title: s.modelLoss,
      xLabel: s.epoch,
      yLabel: s.loss,
      series: [
        { label: s.trainLoss, values: h.loss, color: TRAIN_COLOR },
        { label: s.valLoss, values: h.val_loss, color: VALIDATION_COLOR },
      ],
    },
    ...learningRatePanel(h.learning_rate, s.learningRate, s.epoch),
  ], s.learningCurves);
}

/** The prediction samples, captioned green when right and red when wrong. */
function predictionTiles(
  pred: NonNullable<ReportData["predictionSamples"]>,
  s: Strings,
  classNames: readonly string[],
): PreparedReport["predictionTiles"] {
  const n = classNames.length;
  return batchRasters(pred, "predictionSamples", n, Infinity).map((r, i) => {
    const p = pred.predicted[i] as number;
    const t = pred.labels[i] as number;
    const color = p === t ? RIGHT_COLOR : WRONG_COLOR;
    return {
      ...tile(r, TILE_PIXELS, [
        { text: s.predictedLine(classNames[p]!), color },
        { text: s.trueLine(classNames[t]!), color },
      ], true),
      correct: p === t,
    };
  });
}

/** The feature maps' input image and one strip per layer. */
function featureTiles(
  maps: NonNullable<ReportData["featureMaps"]>,
  s: Strings,
  classNames: readonly string[],
): { input: RasterTile; strips: StripTile[] } {
  const [input] = batchRasters(
    featureInputBatch(maps),
    "featureMaps.input",
    classNames.length,
    1,
  );
  const strips = maps.layers.map((layer, i): StripTile => {
    const strip = featureStrip(layer);
    return {
      uri: pngDataUri(encodePng(strip.image)),
      width: strip.image.width,
      height: strip.image.height,
      caption: [{ text: s.layerMaps(i + 1) }],
      captionAbove: true,
      raster: strip.image,
      layerName: layer.name,
      shown: strip.shown,
      total: layer.channels,
    };
  });
  return {
    input: tile(input!, INPUT_PIXELS, [{
      text: s.originalImage(classNames[maps.inputLabel]!),
    }], true),
    strips,
  };
}

/**
 * Validates `data` and computes all report content for `lang`.
 *
 * @throws {RangeError | TypeError} naming the first bad field and its fix.
 */
export function prepareReport(data: ReportData, lang: Lang): PreparedReport {
  const s = strings(lang);
  if (!data || typeof data !== "object") {
    throw new TypeError("report data is missing: pass a ReportData object");
  }
  const classNames = resolveClassNames(data.classNames, lang);
  const n = classNames.length;
  checkReportData(data, n);
  const matrix = confusionMatrix(data.yTrue, data.yPred, n);
  const report = classificationReport(data.yTrue, data.yPred, classNames);
  // Fail here, not half-way through writing files, if a class name clashes.
  classificationReportToDict(report);
  const train = data.trainSamples;
  const trainTiles = train
    ? batchRasters(train, "trainSamples", n, TRAIN_GRID).map((r, i) =>
      tile(
        r,
        TILE_PIXELS,
        [{ text: classNames[train.labels[i] as number]! }],
        false,
      )
    )
    : null;
  const features = data.featureMaps
    ? featureTiles(data.featureMaps, s, classNames)
    : null;
  return {
    data,
    lang,
    s,
    classNames,
    matrix,
    report,
    reportText: formatClassificationReport(report),
    diagnosis: safeDiagnosis(data),
    confusionSvg: confusionMatrixSvg(matrix, classNames, {
      title: s.confusionMatrix,
      trueLabel: s.trueLabel,
      predictedLabel: s.predictedLabel,
    }, "simdnet-cm"),
    curvesSvg: curves(s, data.history),
    trainTiles,
    predictionTiles: data.predictionSamples
      ? predictionTiles(data.predictionSamples, s, classNames)
      : null,
    featureInput: features?.input ?? null,
    featureStrips: features?.strips ?? [],
  };
}
