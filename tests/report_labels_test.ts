/// <reference lib="dom" />
/**
 * The report for any data set: `buildReportData` takes the class names (or
 * the model's), the page shows them escaped in every section, Japanese
 * names and the CIFAR-10 title only for CIFAR-10, and a 50-class confusion
 * matrix renders in Chromium with every name and no overlapping text.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { CIFAR10_CLASSES_JA } from "../src/data/classes.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import { setModelMetadata } from "../src/nn/model_metadata.ts";
import { buildReportData } from "../src/report/build_report_data.ts";
import { confusionMatrixSvg } from "../src/report/confusion_chart.ts";
import { buildReport, CIFAR10_CLASS_NAMES } from "../src/report/mod.ts";
import { escapeXml } from "../src/report/svg.ts";
import { chromiumAvailable, launchChromium } from "./_chromium.ts";
import { parseXml } from "./_report_helpers.ts";
import { rng, syntheticImages } from "./_report_fixture.ts";
import { labelledModel, manyLabels } from "./classify_fixtures.ts";

await tf.setBackend("cpu");

const NAMES = manyLabels(50);

function imageSet(count: number, classes: number): ImageSet {
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classes);
  const images = syntheticImages(count, labels, rng(3));
  return { images, labels, count, shape: [32, 32, 3] };
}

async function reportOf(classes: number, names?: readonly string[]) {
  const model = labelledModel(classes, 12);
  const set = imageSet(2 * classes, classes);
  try {
    if (names) {
      setModelMetadata(model, {
        classNames: names,
        inputShape: [32, 32, 3],
        normalization: { scale: 1 / 255, offset: 0 },
      });
    }
    return await buildReportData({
      model,
      history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] },
      train: set,
      evaluated: set,
      evaluation: { loss: 1, accuracy: 0.5 },
      settings: { classes },
      batchSize: 32,
      seed: 1,
    });
  } finally {
    model.dispose();
  }
}

Deno.test("report labels: 50 classes from the model's metadata, escaped in every section", async () => {
  const data = await reportOf(50, NAMES);
  assert.deepEqual(data.classNames, NAMES);
  assert.equal(data.title, "simdnet CNN (50 classes)");
  for (const lang of ["en", "ja"] as const) {
    const html = buildReport(data, lang);
    assert.ok(!html.includes("<b>&amp;"), `${lang}: no raw markup from a name`);
    assert.ok(!html.includes("CIFAR"), `${lang}: not called CIFAR-10`);
    for (const name of NAMES.slice(0, 12)) {
      assert.ok(html.includes(escapeXml(name)), `${lang}: ${name}`);
    }
    // The report table, the sample grid and the predictions name classes.
    const table = html.slice(html.indexOf('id="classification-report"'));
    assert.ok(table.includes(escapeXml(NAMES[49]!)));
    assert.ok(!CIFAR10_CLASSES_JA.some((n) => html.includes(`>${n}<`)));
  }
});

Deno.test("report labels: given names win; CIFAR-10's (and no metadata) keep Japanese names", async () => {
  const model = labelledModel(3, 13);
  const set = imageSet(6, 3);
  const run = {
    model,
    history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] },
    train: set,
    evaluated: set,
    evaluation: { loss: 1, accuracy: 0.5 },
    settings: {},
    batchSize: 8,
    seed: 1,
  };
  try {
    const given = await buildReportData({
      ...run,
      classNames: ["a", "b", "c"],
    });
    assert.deepEqual(given.classNames, ["a", "b", "c"]);
    const unnamed = await buildReportData(run);
    assert.deepEqual(unnamed.classNames, ["class 0", "class 1", "class 2"]);
    await assert.rejects(
      buildReportData({ ...run, classNames: ["a"] }),
      /classNames has 1 names but the model has 3 classes/,
    );
  } finally {
    model.dispose();
  }
  const cifar = await reportOf(10);
  assert.equal(cifar.classNames, CIFAR10_CLASS_NAMES);
  assert.equal(cifar.title, "simdnet CIFAR-10 CNN");
  assert.ok(buildReport(cifar, "ja").includes(CIFAR10_CLASSES_JA[3]!));
});

/** A 50-class matrix with counts up to 999, as a long evaluation gives. */
function matrix50(): number[][] {
  const r = rng(5);
  return NAMES.map((_, i) =>
    NAMES.map((_, j) =>
      i === j ? 900 + Math.floor(r() * 99) : Math.floor(r() * r() * 60)
    )
  );
}

/** Whether `shown` is `name` with a middle part replaced by one ellipsis. */
function cutFrom(shown: string, name: string): boolean {
  const [head, tail, ...rest] = shown.split("…");
  return rest.length === 0 && tail !== undefined && head!.length > 0 &&
    name.startsWith(head!) && name.endsWith(tail) &&
    head!.length + tail.length < name.length;
}

Deno.test("report labels: the 50-class confusion matrix names every class and abbreviates long names", () => {
  const svg = confusionMatrixSvg(matrix50(), NAMES, {
    title: "Confusion matrix",
    trueLabel: "True label",
    predictedLabel: "Predicted label",
  });
  const doc = parseXml(svg, "50-class confusion matrix");
  const texts = [...doc.getElementsByTagName("text")].map((t) =>
    t.textContent ?? ""
  );
  const titles = [...doc.getElementsByTagName("title")].map((t) =>
    t.textContent ?? ""
  );
  for (const name of NAMES) {
    // Each name on both axes, whole or cut with its whole form as a tooltip.
    const drawn = texts.filter((t) => t === name || cutFrom(t, name));
    assert.equal(drawn.length, 2, name);
    if (drawn[0] !== name) assert.ok(titles.includes(name), `tooltip ${name}`);
  }
  assert.ok(texts.some((t) => t.includes("…")), "the long names are cut");
  const rows = [...doc.getElementsByTagName("text")].filter((t) =>
    t.getAttribute("x") === "-7"
  ).map((t) => t.textContent);
  assert.equal(new Set(rows).size, 50, "cut names stay distinct");
});

Deno.test({
  name:
    "report labels: the 50-class confusion matrix renders in Chromium with no overlapping text",
  ignore: !chromiumAvailable("report_labels_test"),
  async fn() {
    const svg = confusionMatrixSvg(matrix50(), NAMES, {
      title: "Confusion matrix",
      trueLabel: "True label",
      predictedLabel: "Predicted label",
    });
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.setContent(
        `<!doctype html><meta charset="utf-8"><body style="margin:0">${svg}</body>`,
      );
      const found = await page.evaluate(() => {
        const svg = document.querySelector("svg")!.getBoundingClientRect();
        const boxes = [...document.querySelectorAll("svg text")].map((t) => {
          const b = t.getBoundingClientRect();
          return {
            text: t.textContent ?? "",
            l: b.left,
            r: b.right,
            t: b.top,
            b: b.bottom,
          };
        });
        const outside = boxes.filter((b) =>
          b.l < svg.left - 0.5 || b.r > svg.right + 0.5 ||
          b.t < svg.top - 0.5 ||
          b.b > svg.bottom + 0.5
        ).map((b) => b.text);
        const overlaps: string[] = [];
        // Glyph boxes include line spacing: allow a pixel of touching.
        const slack = 1;
        for (let i = 0; i < boxes.length; i++) {
          for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i]!, c = boxes[j]!;
            if (
              Math.min(a.r, c.r) - Math.max(a.l, c.l) > slack &&
              Math.min(a.b, c.b) - Math.max(a.t, c.t) > slack
            ) overlaps.push(`${a.text} / ${c.text}`);
          }
        }
        return { count: boxes.length, outside, overlaps: overlaps.slice(0, 5) };
      });
      // 2,500 counts, 100 axis names, title, 2 axis titles, colour-bar ticks.
      assert.ok(found.count > 2600, `texts: ${found.count}`);
      assert.deepEqual(found.outside, [], "every text inside the picture");
      assert.deepEqual(found.overlaps, [], "no two texts overlap");
    } finally {
      await close();
    }
  },
});
