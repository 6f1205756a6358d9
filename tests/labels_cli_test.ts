/// <reference lib="dom" />
/**
 * A model saved with its own class names (any script, HTML-special
 * characters) is answered with those names by `deno task classify`
 * (table and JSON, also with `--lang ja`), by the service (JSON and the
 * page in Chromium, shown as text) and in `deno task evaluate`'s report,
 * without being told the names again.
 */

import assert from "node:assert/strict";
import { main as classifyMain } from "../src/cli/classify.ts";
import { main as evaluateMain } from "../src/cli/evaluate.ts";
import { encodeRecords } from "../src/data/format.ts";
import { saveModel } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { serveClassifier } from "../src/serve/server.ts";
import { chromiumAvailable, launchChromium } from "./_chromium.ts";
import { escapeXml } from "../src/report/svg.ts";
import {
  labelledModel,
  manyLabels,
  pattern,
  png,
} from "./classify_fixtures.ts";

const NAMES = ["猫 cat", "<b>dog</b> & co", "кошка", "🐱 emoji", "x'\"y"];

async function withLabelledModel(
  run: (dir: string, model: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_labels_cli_" });
  const model = labelledModel(NAMES.length, 61);
  try {
    await saveModel(model, `${dir}/model`, { classNames: NAMES });
    await run(dir, `${dir}/model`);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

type Answer = { index: number; label: string; labelJa?: string };

function checkAnswers(predictions: Answer[], count: number): void {
  assert.equal(predictions.length, count);
  for (const p of predictions) {
    assert.equal(p.label, NAMES[p.index], "the saved name of the class");
    assert.equal(p.labelJa, undefined, "no Japanese name is made up");
  }
}

Deno.test("labels cli: classify answers with the model's own names", async () => {
  await withLabelledModel(async (dir, model) => {
    const image = `${dir}/a.png`;
    await Deno.writeFile(image, png(pattern(50, 40, 3, 3), 50, 40, 3));
    const base = ["--model", model, "--backend", "cpu"];
    const lines: string[] = [];
    const json = [...base, "--json", "--top", "5", image];
    assert.equal(await classifyMain(json, (l) => lines.push(l)), 0);
    const [result] = JSON.parse(lines.join("\n"));
    checkAnswers(result.predictions, 5);

    // Names that do not fit the model: exit 2 with one line naming the file.
    const saved = JSON.parse(await Deno.readTextFile(`${model}/model.json`));
    saved.userDefinedMetadata.simdnet.classNames.pop();
    const broken = `${dir}/broken`;
    await Deno.mkdir(broken);
    await Deno.copyFile(
      `${model}/group1-shard1of1.bin`,
      `${broken}/group1-shard1of1.bin`,
    );
    await Deno.writeTextFile(`${broken}/model.json`, JSON.stringify(saved));
    const errors: string[] = [];
    const error = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const code = await classifyMain(
        ["--model", broken, "--backend", "cpu", image],
        () => {},
      );
      assert.equal(code, 2);
    } finally {
      console.error = error;
    }
    assert.equal(errors.length, 1, errors.join("|"));
    assert.match(
      errors[0]!,
      /broken\/model\.json: .*classNames has 4 names but the model has 5 classes/,
    );

    for (const lang of ["en", "ja"]) {
      lines.length = 0;
      const args = [...base, "--lang", lang, "--top", "5", image];
      assert.equal(await classifyMain(args, (l) => lines.push(l)), 0);
      const row = lines.join("\n").split("\n")[1]!;
      for (const p of result.predictions as Answer[]) {
        assert.ok(row.includes(`${p.label} `), `${lang}: ${p.label} in ${row}`);
      }
    }
  });
});

Deno.test("labels serve: JSON answers and the page show the model's own names", async () => {
  await withLabelledModel(async (dir, model) => {
    const classifier = await Classifier.load(model, { backend: "cpu" });
    const service = serveClassifier(classifier, {
      hostname: "127.0.0.1",
      port: 0,
      lang: "ja",
    });
    const url = `http://127.0.0.1:${service.addr.port}`;
    try {
      const image = png(pattern(40, 30, 3, 4), 40, 30, 3);
      const res = await fetch(`${url}/classify?topK=5`, {
        method: "POST",
        body: image,
        headers: { "content-type": "image/png" },
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      checkAnswers(body.predictions, 5);
      if (!chromiumAvailable("labels_cli_test")) return;

      const path = `${dir}/picture.png`;
      await Deno.writeFile(path, image);
      const { browser, close } = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(`${url}/`, { waitUntil: "load" });
        const input = await page.$("input#file");
        await input!.uploadFile(path);
        await page.waitForFunction(() =>
          document.body.dataset.state === "done"
        );
        const shown = await page.evaluate(() => ({
          labels: [...document.querySelectorAll("#results .label")].map((e) =>
            e.textContent
          ),
          injected: document.querySelectorAll("#results b").length,
        }));
        const top = (body.predictions as Answer[]).slice(0, 3);
        assert.deepEqual(shown.labels, top.map((p) => p.label));
        assert.equal(shown.injected, 0, "names are text, never markup");
      } finally {
        await close();
      }
    } finally {
      await service.server.shutdown();
      classifier.dispose();
    }
  });
});

Deno.test("labels evaluate: the report of a 10-class model with its own names uses them, not CIFAR-10's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_labels_eval_" });
  const names = manyLabels(10);
  const model = labelledModel(10, 62);
  try {
    await saveModel(model, `${dir}/model`, { classNames: names });
    await Deno.mkdir(`${dir}/data`);
    const n = 30;
    const images = pattern(32, 32 * n, 3, 8);
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    await Deno.writeFile(
      `${dir}/data/test_batch.bin`,
      encodeRecords({ images, labels, count: n }),
    );
    const out = `${dir}/eval`;
    const args = ["--model", `${dir}/model`, "--data", `${dir}/data`];
    const rest = ["--out", out, "--backend", "cpu", "--lang", "ja"];
    assert.equal(await evaluateMain([...args, ...rest]), 0);
    const html = await Deno.readTextFile(`${out}/report.html`);
    for (const name of names) assert.ok(html.includes(escapeXml(name)), name);
    assert.ok(!html.includes("飛行機"), "no CIFAR-10 names");
    assert.match(html, /<title>simdnet CNN \(10 classes\): 評価<\/title>/);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
