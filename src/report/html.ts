/**
 * The self-contained `report.html`: every picture inlined (PNG data URIs and
 * inline SVG), no script, and a content security policy that forbids
 * loading anything from elsewhere.
 *
 * @module
 */

import { formatFixed } from "../util/python_format.ts";
import { type PreparedReport, prepareReport } from "./prepare.ts";
import type { RasterTile } from "./prepare.ts";
import { escapeXml as esc, FONT_STACK } from "./svg.ts";
import type { Lang, ReportData } from "./types.ts";

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1b1f24; font-family: ${FONT_STACK}; line-height: 1.5; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 1.6rem; margin: 8px 0 4px; }
h2 { font-size: 1.2rem; margin: 0 0 12px; }
h3 { font-size: 1.02rem; margin: 18px 0 8px; }
section { background: #ffffff; border: 1px solid #dde1e6; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 3px 12px; text-align: left; vertical-align: top; }
th { background: #f7f8fa; font-weight: 600; }
.num { text-align: right; }
.sep td { border-top: 2px solid #c9ced6; }
pre { background: #f3f4f6; border-radius: 6px; padding: 12px; overflow-x: auto; font-size: 13px; margin: 0;
  font-family: "Noto Sans Mono CJK JP", "DejaVu Sans Mono", "Menlo", "Consolas", monospace; }
details { margin-top: 12px; }
summary { cursor: pointer; color: #3a4654; }
.kpi { display: flex; gap: 16px; flex-wrap: wrap; margin-bottom: 8px; }
.kpi div { background: #f3f6fb; border: 1px solid #dbe3ef; border-radius: 6px; padding: 8px 14px; }
.kpi b { display: block; font-size: 1.35rem; }
.chart svg { display: block; max-width: 100%; height: auto; }
figure { margin: 0; }
.grid { display: grid; grid-template-columns: repeat(5, minmax(0, 128px)); gap: 14px 18px; }
.grid figure { text-align: center; font-size: 13px; }
.grid img { display: block; width: 100%; height: auto; margin: 0 auto; image-rendering: pixelated; }
.grid figcaption { line-height: 1.3; }
.grid.titles figcaption { margin-bottom: 4px; }
.right { color: #008000; }
.wrong { color: #ff0000; }
.input img { width: 192px; height: auto; image-rendering: pixelated; }
.strip { margin-top: 14px; }
.strip img { display: block; width: 100%; height: auto; image-rendering: pixelated; }
.strip figcaption, .input figcaption { font-size: 14px; margin-bottom: 4px; }
.note { color: #5b6570; font-size: 12px; }
.diagnosis { padding: 10px 14px; border-radius: 6px; border-left: 5px solid; }
.diagnosis.good { background: #eef8ef; border-color: #2e8b3a; }
.diagnosis.overfitting, .diagnosis.underfitting { background: #fff5e8; border-color: #e07b00; }
`;

function img(t: RasterTile, alt: string): string {
  return `<img src="${t.uri}" width="${t.width}" height="${t.height}" alt="${
    esc(alt)
  }">`;
}

function section(id: string, heading: string, body: string): string {
  return `<section id="${id}">\n<h2>${esc(heading)}</h2>\n${body}\n</section>`;
}

function settingsHtml(p: PreparedReport): string {
  const rows = Object.entries(p.data.settings).map(([k, v]) =>
    `<tr><th scope="row">${esc(k)}</th><td>${esc(String(v))}</td></tr>`
  );
  return `<table><thead><tr><th>${esc(p.s.setting)}</th><th>${
    esc(p.s.value)
  }</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function summaryHtml(p: PreparedReport): string {
  const { summary } = p.data;
  if (typeof summary === "string") return `<pre>${esc(summary)}</pre>`;
  const rows = summary.map((r) =>
    `<tr><td>${esc(r.layer)}</td><td>${
      esc(r.outputShape)
    }</td><td class="num">${r.params.toLocaleString("en-US")}</td></tr>`
  );
  const total = summary.reduce((a, r) => a + r.params, 0);
  return `<table><thead><tr><th>${esc(p.s.layer)}</th><th>${
    esc(p.s.outputShape)
  }</th><th class="num">${esc(p.s.params)}</th></tr></thead><tbody>${
    rows.join("")
  }<tr class="sep"><th colspan="2">${
    esc(p.s.totalParams)
  }</th><td class="num">${
    total.toLocaleString("en-US")
  }</td></tr></tbody></table>`;
}

function evaluationHtml(p: PreparedReport): string {
  const { s, report } = p;
  const test = p.data.test;
  const onValidation = test?.set === "validation";
  const accLabel = onValidation ? s.valAccuracy : s.testAccuracy;
  const lossLabel = onValidation ? s.valLoss : s.testLoss;
  const kpi = test
    ? `<div class="kpi"><div>${esc(accLabel)}<b id="test-accuracy">${
      formatFixed(test.accuracy, 4)
    }</b></div><div>${esc(lossLabel)}<b id="test-loss">${
      formatFixed(test.loss, 4)
    }</b></div></div>`
    : `<p>${esc(s.notEvaluated)}</p>`;
  const f = (v: number): string => formatFixed(v, 2);
  const row = (
    name: string,
    r: { precision: number; recall: number; f1Score: number; support: number },
    cls = "",
  ): string =>
    `<tr${cls}><th scope="row">${esc(name)}</th><td class="num">${
      f(r.precision)
    }</td><td class="num">${f(r.recall)}</td><td class="num">${
      f(r.f1Score)
    }</td><td class="num">${r.support}</td></tr>`;
  const table = `<table><thead><tr><th></th><th class="num">${
    esc(s.precision)
  }</th><th class="num">${esc(s.recall)}</th><th class="num">${
    esc(s.f1)
  }</th><th class="num">${esc(s.support)}</th></tr></thead><tbody>${
    report.classes.map((c) => row(c.name, c)).join("")
  }<tr class="sep"><th scope="row">accuracy</th><td></td><td></td><td class="num">${
    f(report.accuracy)
  }</td><td class="num">${report.macroAvg.support}</td></tr>${
    row("macro avg", report.macroAvg)
  }${row("weighted avg", report.weightedAvg)}</tbody></table>`;
  return `${kpi}
<div id="classification-report"><h3>${esc(s.classificationReport)}</h3>${table}
<details><summary>${esc(s.scikitText)}</summary><pre>${
    esc(p.reportText)
  }</pre></details></div>
<div id="confusion-matrix"><h3>${
    esc(s.confusionMatrix)
  }</h3><figure class="chart">${p.confusionSvg}</figure></div>`;
}

function curvesHtml(p: PreparedReport): string {
  const d = p.diagnosis;
  const verdict = d
    ? `<p class="diagnosis ${d.code}" data-code="${d.code}">${
      esc(d.message[p.lang])
    }</p>`
    : `<p class="diagnosis">${esc(p.s.noHistory)}</p>`;
  return `<figure class="chart">${p.curvesSvg}</figure>
<div id="diagnosis"><h3>${esc(p.s.diagnosis)}</h3>${verdict}</div>`;
}

function trainHtml(p: PreparedReport): string {
  if (!p.trainTiles) return `<p>${esc(p.s.notAvailable)}</p>`;
  return `<div class="grid">${
    p.trainTiles.map((t) => {
      const label = t.caption[0]?.text ?? "";
      return `<figure>${img(t, label)}<figcaption>${
        esc(label)
      }</figcaption></figure>`;
    }).join("")
  }</div>`;
}

function predictionsHtml(p: PreparedReport): string {
  if (!p.predictionTiles) return `<p>${esc(p.s.notAvailable)}</p>`;
  return `<div class="grid titles">${
    p.predictionTiles.map((t) => {
      const lines = t.caption.map((l) => esc(l.text));
      const verdict = t.correct ? p.s.correct : p.s.wrong;
      return `<figure class="${t.correct ? "right" : "wrong"}" title="${
        esc(verdict)
      }"><figcaption>${lines.join("<br>")}</figcaption>${
        img(t, `${t.caption.map((l) => l.text).join(", ")} (${verdict})`)
      }</figure>`;
    }).join("")
  }</div>`;
}

function featuresHtml(p: PreparedReport): string {
  if (!p.featureInput) return `<p>${esc(p.s.notAvailable)}</p>`;
  const input = p.featureInput;
  const title = input.caption[0]?.text ?? "";
  const strips = p.featureStrips.map((t) => {
    const heading = t.caption[0]?.text ?? "";
    return `<figure class="strip"><figcaption>${
      esc(heading)
    } <span class="note">(${
      esc(p.s.channelsShown(t.shown, t.total, t.layerName))
    })</span></figcaption>${img(t, heading)}</figure>`;
  });
  return `<figure class="input"><figcaption>${esc(title)}</figcaption>${
    img(input, title)
  }</figure>\n${strips.join("\n")}`;
}

/** The HTML page of a prepared report. */
export function renderHtml(p: PreparedReport): string {
  const { s } = p;
  return `<!DOCTYPE html>
<html lang="${p.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(p.data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${esc(p.data.title)}</h1>
${section("settings", s.settings, settingsHtml(p))}
${section("summary", s.summary, summaryHtml(p))}
${section("metrics", s.evaluation, evaluationHtml(p))}
${section("learning-curves", s.learningCurves, curvesHtml(p))}
${section("train-samples", s.trainSamples, trainHtml(p))}
${section("predictions", s.predictions, predictionsHtml(p))}
${section("feature-maps", s.featureMaps, featuresHtml(p))}
</main>
</body>
</html>
`;
}

/**
 * Builds one self-contained `report.html` from `data`, in English or
 * Japanese (`"ja"`: the seed notebook's headings, class names and chart
 * titles). Every image is inlined, nothing is fetched, no script runs.
 *
 * Sections (element ids): `settings`, `summary`, `metrics` (test
 * loss/accuracy, `classification-report`, `confusion-matrix`),
 * `learning-curves` (with `diagnosis`), `train-samples`, `predictions`,
 * `feature-maps`.
 *
 * @example
 * ```ts
 * const html = buildReport(data, "ja");
 * await Deno.writeTextFile("report.html", html);
 * ```
 * @throws {RangeError | TypeError} naming the first bad field of `data` and the fix.
 */
export function buildReport(data: ReportData, lang: Lang = "en"): string {
  return renderHtml(prepareReport(data, lang));
}
