import assert from "node:assert/strict";
import { encodePng } from "../src/image/mod.ts";
import {
  buildReport,
  confusionMatrixSvg,
  learningCurvesSvg,
  type ReportData,
  writeReport,
} from "../src/report/mod.ts";
import { BLUES, cssColorAt } from "../src/report/colormap.ts";
import { tileGridSvg } from "../src/report/image_figures.ts";
import { syntheticReportData } from "./_report_fixture.ts";
import { parseXml, randomRaster, readPng } from "./_report_helpers.ts";

Deno.test("confusion-matrix SVG is XML with Blues cells and seed-style text colours", () => {
  const matrix = [[50, 3, 0], [10, 20, 7], [0, 1, 40]];
  const names = ["飛行機", "自動車", "鳥"];
  const doc = parseXml(
    confusionMatrixSvg(matrix, names, {
      title: "混同行列",
      trueLabel: "正解ラベル",
      predictedLabel: "予測ラベル",
    }),
    "confusion matrix",
  );
  const cells = [...doc.getElementsByTagName("rect")].filter((r) =>
    r.getElementsByTagName("title").length
  );
  assert.equal(cells.length, 9);
  const texts = [...doc.getElementsByTagName("text")];
  const counts = texts.filter((t) =>
    /^\d+$/.test(t.textContent ?? "") &&
    t.getAttribute("dominant-baseline") === "central" &&
    t.getAttribute("text-anchor") === "middle"
  );
  matrix.flat().forEach((count, k) => {
    assert.equal(cells[k]!.getAttribute("fill"), cssColorAt(BLUES, count / 50));
    const label = counts[k]!;
    assert.equal(label.textContent, String(count));
    // Threshold max/2 = 25, strictly greater gives white.
    assert.equal(
      label.getAttribute("fill"),
      count > 25 ? "#ffffff" : "#000000",
    );
  });
  const all = texts.map((t) => t.textContent);
  for (const s of ["混同行列", "正解ラベル", "予測ラベル", ...names]) {
    assert.ok(all.includes(s), s);
  }
  const rotated = texts.filter((t) =>
    /rotate\(-45\)/.test(t.getAttribute("transform") ?? "")
  );
  assert.deepEqual(rotated.map((t) => t.textContent), names);
  assert.equal(doc.getElementsByTagName("linearGradient").length, 1);
  assert.throws(
    () =>
      confusionMatrixSvg([[1]], names, {
        title: "",
        trueLabel: "",
        predictedLabel: "",
      }),
    /not 3x3/,
  );
});

Deno.test("learning-curve SVG has two panels with legends and gaps for NaN", () => {
  const svg = learningCurvesSvg([
    {
      title: "モデルの精度",
      xLabel: "エポック",
      yLabel: "精度",
      series: [
        { label: "訓練精度", values: [0.3, 0.5, 0.6], color: "#1f77b4" },
        { label: "検証精度", values: [0.4, 0.55, 0.58], color: "#ff7f0e" },
      ],
    },
    {
      title: "モデルの損失",
      xLabel: "エポック",
      yLabel: "損失",
      series: [
        {
          label: "訓練損失",
          values: [2, Number.NaN, 1.2, 1],
          color: "#1f77b4",
        },
        { label: "検証損失", values: [1.5], color: "#ff7f0e" },
      ],
    },
  ], "title");
  const doc = parseXml(svg, "learning curves");
  const texts = [...doc.getElementsByTagName("text")].map((t) => t.textContent);
  for (
    const s of [
      "モデルの精度",
      "モデルの損失",
      "訓練精度",
      "検証精度",
      "訓練損失",
      "検証損失",
      "精度",
      "損失",
    ]
  ) {
    assert.ok(texts.includes(s), s);
  }
  assert.equal(texts.filter((t) => t === "エポック").length, 2);
  // 2 accuracy lines, loss split by NaN into one 2-point run; single points get markers only.
  assert.equal(doc.getElementsByTagName("polyline").length, 3);
  assert.equal(doc.getElementsByTagName("circle").length, 3 + 3 + 3 + 1);
});

Deno.test("image-grid SVG embeds PNG data URIs with captions", () => {
  const uri = "data:image/png;base64," +
    btoa(String.fromCharCode(...encodePng(randomRaster(4, 4, 3, 1))));
  const doc = parseXml(
    tileGridSvg(
      [
        {
          uri,
          width: 4,
          height: 4,
          caption: [{ text: "予測: 猫", color: "#008000" }, {
            text: "正解: 猫",
            color: "#008000",
          }],
          captionAbove: true,
        },
        { uri, width: 4, height: 4, caption: [{ text: "a < b & c" }] },
      ],
      5,
      "t",
    ),
    "image grid",
  );
  const images = [...doc.getElementsByTagName("image")];
  assert.equal(images.length, 2);
  assert.ok(images.every((i) => i.getAttribute("href") === uri));
  const texts = [...doc.getElementsByTagName("text")];
  assert.ok(texts.some((t) => t.textContent === "a < b & c"));
  assert.equal(
    texts.find((t) => t.textContent === "予測: 猫")?.getAttribute("fill"),
    "#008000",
  );
});

const JA_WORDS = [
  "混同行列",
  "モデルの精度",
  "モデルの損失",
  "訓練精度",
  "検証精度",
  "訓練損失",
  "検証損失",
  "エポック",
  "正解ラベル",
  "予測ラベル",
  "予測: ",
  "正解: ",
  "元の画像 - クラス: 猫",
  "畳み込み層 1の特徴マップ",
  "畳み込み層 4の特徴マップ",
  "分類レポート",
  "テスト精度",
  "テスト損失",
  "飛行機",
  "トラック",
  "モデルが過少学習の可能性あり - 訓練精度と検証精度が共に低い",
];
const EN_WORDS = [
  "Confusion matrix",
  "Model accuracy",
  "Model loss",
  "Training accuracy",
  "Validation accuracy",
  "Training loss",
  "Validation loss",
  "Epoch",
  "True label",
  "Predicted label",
  "Predicted: ",
  "True: ",
  "Original image - class: cat",
  "Feature maps of conv layer 1",
  "Classification report",
  "Test accuracy",
  "airplane",
  "truck",
  "The model may be underfitting",
];
const SECTIONS = [
  "settings",
  "summary",
  "metrics",
  "classification-report",
  "confusion-matrix",
  "learning-curves",
  "diagnosis",
  "train-samples",
  "predictions",
  "feature-maps",
];

Deno.test("buildReport has every section, in English and in Japanese", () => {
  const data = syntheticReportData(3);
  const en = buildReport(data, "en");
  const ja = buildReport(data, "ja");
  for (const id of SECTIONS) {
    assert.ok(en.includes(`id="${id}"`), `en ${id}`);
    assert.ok(ja.includes(`id="${id}"`), `ja ${id}`);
  }
  for (const w of JA_WORDS) assert.ok(ja.includes(w), `ja: ${w}`);
  for (const w of EN_WORDS) assert.ok(en.includes(w), `en: ${w}`);
  assert.ok(
    !en.includes("飛行機") && !en.includes("混同行列"),
    "no Japanese in the English report",
  );
  assert.match(ja, /<html lang="ja">/);
  // 25 training + 15 predictions + 1 input + 4 layers.
  assert.equal(ja.match(/<img /g)?.length, 45);
  assert.equal(ja.match(/<svg /g)?.length, 2);
  for (const key of Object.keys(data.settings)) {
    assert.ok(ja.includes(key), key);
  }
  assert.ok(ja.includes("2,097,664"), "summary rows");
  assert.ok(
    en.includes("0.6842") && en.includes("0.9312"),
    "test accuracy and loss",
  );
  // The scikit-learn text is included as-is (its padding counts code points).
  assert.ok(ja.includes("         飛行機       "));
});

Deno.test("buildReport is self-contained and escapes text", () => {
  const data: ReportData = {
    ...syntheticReportData(4),
    title: `<script>alert("x")</script>`,
    settings: { "a&b": "<b>" },
    summary: "Model: <sequential>",
  };
  const html = buildReport(data, "en");
  assert.ok(!/<script/i.test(html), "no script");
  assert.ok(!/<link\b/i.test(html), "no linked resources");
  assert.ok(
    html.includes("&lt;script&gt;") && html.includes("a&amp;b") &&
      html.includes("&lt;sequential&gt;"),
  );
  for (const m of html.matchAll(/\s(?:src|href)="([^"]*)"/g)) {
    assert.match(m[1]!, /^data:image\/png;base64,/, "only inline images");
  }
  for (const m of html.matchAll(/https?:\/\/[^"'\s)]*/g)) {
    assert.equal(m[0], "http://www.w3.org/2000/svg", "no external URL");
  }
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

Deno.test("buildReport copes with missing pictures and rejects bad data", () => {
  const base = syntheticReportData(5);
  const bare: ReportData = {
    ...base,
    summary: "Total params: 1",
    test: null,
    history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] },
    trainSamples: null,
    predictionSamples: undefined,
    featureMaps: null,
    classNames: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
  };
  const html = buildReport(bare, "en");
  assert.equal(html.match(/Not available for this run\./g)?.length, 3);
  assert.ok(html.includes("not evaluated"));
  assert.ok(html.includes("No training history"));
  assert.equal(html.match(/<img /g), null);

  assert.throws(
    () =>
      buildReport({
        ...base,
        trainSamples: { images: new Uint8Array(10), labels: [1] },
      }, "en"),
    /trainSamples\.images has 10 bytes but 1 labels × 32×32×3 need 3072/,
  );
  assert.throws(
    () =>
      buildReport({ ...base, yPred: Array.from(base.yPred).slice(1) }, "en"),
    /yTrue has 1000 labels but yPred has 999/,
  );
  assert.throws(
    () =>
      buildReport({
        ...base,
        predictionSamples: {
          ...base.predictionSamples!,
          predicted: [
            11,
            ...Array.from(base.predictionSamples!.predicted).slice(1),
          ],
        },
      }, "ja"),
    /predictionSamples\.predicted\[0\] is 11: pass a class index in 0\.\.9/,
  );
  assert.throws(
    () => buildReport({ ...base, classNames: { en: ["a"] } as never }, "ja"),
    /no names for language "ja"/,
  );
  assert.throws(() => buildReport(base, "fr" as never), /pass "en" or "ja"/);
  assert.throws(
    () =>
      buildReport({
        ...base,
        trainSamples: { images: new Float32Array(3072) as never, labels: [1] },
      }, "en"),
    /not a Uint8Array/,
  );
});

Deno.test("writeReport writes the page, metrics.json and parseable pictures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_report_" });
  try {
    const data = syntheticReportData(6);
    const written = await writeReport(`${dir}/out`, data, "ja");
    const names = written.map((p) => p.slice(p.lastIndexOf("/") + 1)).sort();
    assert.deepEqual(names, [
      "classification_report.txt",
      "confusion_matrix.svg",
      "feature_input.png",
      "feature_maps.svg",
      "feature_maps_1.png",
      "feature_maps_2.png",
      "feature_maps_3.png",
      "feature_maps_4.png",
      "learning_curves.svg",
      "metrics.json",
      "predictions.png",
      "predictions.svg",
      "report.html",
      "train_samples.png",
      "train_samples.svg",
    ]);
    for (const path of written) {
      if (path.endsWith(".svg")) parseXml(await Deno.readTextFile(path), path);
      if (path.endsWith(".png")) {
        const png = readPng(await Deno.readFile(path));
        assert.ok(png.width > 0 && png.height > 0, path);
      }
    }
    // The 5×5 training grid: 128-pixel tiles, 4-pixel gaps, first tile = first image enlarged.
    const grid = readPng(await Deno.readFile(`${dir}/out/train_samples.png`));
    assert.equal(grid.width, 5 * 128 + 4 * 4);
    assert.equal(grid.height, 5 * 128 + 4 * 4);
    const images = data.trainSamples!.images;
    for (const [x, y] of [[0, 0], [127, 127], [45, 90]]) {
      const src = (Math.floor(y! / 4) * 32 + Math.floor(x! / 4)) * 3;
      const dst = (y! * grid.width + x!) * 3;
      assert.deepEqual([...grid.data.subarray(dst, dst + 3)], [
        ...images.subarray(src, src + 3),
      ]);
    }
    const metrics = JSON.parse(
      await Deno.readTextFile(`${dir}/out/metrics.json`),
    );
    assert.equal(metrics.lang, "ja");
    assert.equal(metrics.confusionMatrix.length, 10);
    assert.equal(
      metrics.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      1000,
    );
    assert.equal(metrics.classificationReport["猫"].precision, 0); // class 3 is never predicted
    assert.equal(metrics.classificationReport["猫"].support, 100);
    assert.equal(metrics.diagnosis.code, "underfitting");
    assert.deepEqual(metrics.test, data.test);
    const text = await Deno.readTextFile(
      `${dir}/out/classification_report.txt`,
    );
    assert.match(text, /^ {14}precision {4}recall {2}f1-score {3}support\n\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the headline names the validation split when there was no test set", () => {
  const data = syntheticReportData(8);
  const onTest = buildReport(data, "en");
  assert.match(onTest, /Test accuracy/);
  const onVal = buildReport({
    ...data,
    test: { ...data.test!, set: "validation" },
  }, "en");
  assert.match(onVal, /Validation accuracy/);
  assert.doesNotMatch(onVal, /Test accuracy/);
  assert.match(
    buildReport({ ...data, test: { ...data.test!, set: "validation" } }, "ja"),
    /検証精度/,
  );
});
