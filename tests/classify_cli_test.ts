/**
 * `deno task classify` and `deno task evaluate`, in process on the `cpu`
 * backend, with a small saved model, generated images and generated
 * CIFAR-10 batch files.
 */

import assert from "node:assert/strict";
import { main as classifyMain } from "../src/cli/classify.ts";
import { main as evaluateMain } from "../src/cli/evaluate.ts";
import { encodeRecords } from "../src/data/format.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { Rng } from "../src/util/random.ts";
import {
  jpeg,
  paletteIndexOutOfRangePng,
  pattern,
  png,
  withSavedModel,
} from "./classify_fixtures.ts";

const withModel = (run: (dir: string, model: string) => Promise<void>) =>
  withSavedModel("simdnet_cli_classify_", 51, run);

Deno.test("classify cli: a table, JSON and Japanese labels of the top classes", async () => {
  await withModel(async (dir, modelDir) => {
    const a = `${dir}/a.png`, b = `${dir}/b.jpg`;
    await Deno.writeFile(a, png(pattern(60, 40, 4, 1), 60, 40, 4));
    await Deno.writeFile(b, jpeg(pattern(33, 33, 3, 2), 33, 33));
    const classifier = await Classifier.load(modelDir, { backend: "cpu" });
    const want = [
      await classifier.classify(await Deno.readFile(a)),
      await classifier.classify(await Deno.readFile(b)),
    ];
    classifier.dispose();

    const lines: string[] = [];
    const base = ["--model", modelDir, "--backend", "cpu"];
    assert.equal(await classifyMain([...base, a, b], (l) => lines.push(l)), 0);
    const table = lines.join("\n").split("\n");
    assert.match(table[0]!, /^image\s+top 1\s+top 2\s+top 3$/);
    assert.equal(table.length, 3);
    want.forEach((top, i) => {
      const cells = top.map((p) =>
        `${p.label} ${(100 * p.probability).toFixed(1)}%`
      );
      assert.match(
        table[i + 1]!,
        new RegExp(`^${[a, b][i]}\\s+${cells.join("\\s+")}$`),
      );
    });

    lines.length = 0;
    assert.equal(
      await classifyMain(
        [...base, "--json", "--top", "2", a],
        (l) => lines.push(l),
      ),
      0,
    );
    const parsed = JSON.parse(lines.join("\n"));
    assert.equal(parsed[0].file, a);
    assert.deepEqual(parsed[0].predictions, want[0]!.slice(0, 2));

    lines.length = 0;
    assert.equal(
      await classifyMain([...base, "--lang", "ja", b], (l) => lines.push(l)),
      0,
    );
    assert.match(lines[0]!, /^画像\s+1位\s+2位\s+3位/);
    assert.ok(lines[0]!.includes(want[1]![0]!.labelJa!));
  });
});

Deno.test("classify cli: a folder with one bad image classifies the others, one line for the bad one, exit 2", async () => {
  await withModel(async (dir, modelDir) => {
    const files = [`${dir}/a.png`, `${dir}/b.jpg`, `${dir}/c.png`];
    await Deno.writeFile(files[0]!, png(pattern(20, 20, 3, 1), 20, 20, 3));
    await Deno.writeFile(files[1]!, jpeg(pattern(30, 20, 3, 2), 30, 20));
    await Deno.writeFile(files[2]!, png(pattern(9, 9, 1, 3), 9, 9, 1));
    const bad = `${dir}/palette.png`;
    await Deno.writeFile(bad, await paletteIndexOutOfRangePng());
    const images = [files[0]!, bad, files[1]!, files[2]!];
    const base = ["--model", modelDir, "--backend", "cpu"];
    const stderr: string[] = [];
    const { error } = console;
    console.error = (...a: unknown[]) => stderr.push(a.join(" "));
    try {
      const text: string[] = [];
      assert.equal(
        await classifyMain([...base, ...images], (l) => text.push(l)),
        2,
      );
      const rows = text.join("\n").split("\n");
      assert.equal(rows.length, 5); // header + 4 images
      for (const f of files) {
        assert.match(
          rows.find((r) => r.startsWith(f))!,
          /\d+\.\d%\s+\S+ \d+\.\d%/,
        );
      }
      assert.match(rows[2]!, /^.*palette\.png\s+error: .*palette/i);
      assert.equal(stderr.length, 1);
      assert.match(
        stderr[0]!,
        /^error: .*palette\.png: .*palette index 7 is out of range/,
      );

      stderr.length = 0;
      const out: string[] = [];
      const code = await classifyMain(
        [...base, "--json", ...images],
        (l) => out.push(l),
      );
      assert.equal(code, 2);
      const parsed = JSON.parse(out.join("\n")) as {
        file: string;
        predictions?: unknown[];
        error?: string;
      }[];
      assert.deepEqual(parsed.map((r) => r.file), images);
      assert.deepEqual(parsed.map((r) => r.predictions?.length), [
        3,
        undefined,
        3,
        3,
      ]);
      assert.match(parsed[1]!.error!, /palette index 7 is out of range/);
      assert.equal(stderr.length, 1);
    } finally {
      console.error = error;
    }
  });
});

Deno.test("classify cli: bad images, models and flags exit non-zero", async () => {
  await withModel(async (dir, modelDir) => {
    const good = `${dir}/good.png`, bad = `${dir}/bad.png`;
    await Deno.writeFile(good, png(pattern(8, 8, 3, 3), 8, 8, 3));
    await Deno.writeTextFile(bad, "not a picture");
    const lines: string[] = [];
    const base = ["--model", modelDir, "--backend", "cpu"];
    const code = await classifyMain(
      [...base, "--json", good, bad, `${dir}/missing.png`],
      (l) => lines.push(l),
    );
    assert.equal(code, 2);
    const parsed = JSON.parse(lines.join("\n"));
    assert.equal(parsed[0].predictions.length, 3);
    assert.match(parsed[1].error, /neither a PNG nor a JPEG/);
    assert.equal(parsed[2].error, "no such file");

    const quiet = () => {};
    assert.equal(await classifyMain([good], quiet), 64);
    assert.equal(await classifyMain(["--model", modelDir], quiet), 64);
    assert.equal(await classifyMain([...base, "--top", "0", good], quiet), 64);
    assert.equal(
      await classifyMain([...base, "--lang", "fr", good], quiet),
      64,
    );
    assert.equal(
      await classifyMain(
        [...base.slice(2), "--model", `${dir}/nope`, good],
        quiet,
      ),
      2,
    );
    await Deno.writeTextFile(`${modelDir}/model.json`, "{ broken");
    assert.equal(await classifyMain([...base, good], quiet), 2);
    assert.equal(await classifyMain(["--help"], quiet), 0);
  });
});

/** `n` random records in the CIFAR-10 binary format. */
function batchFile(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => rng.int(256));
  const labels = new Uint8Array(n).map(() => rng.int(10));
  return encodeRecords({ images, labels, count: n });
}

/** Accuracy of the saved model on the records, through the classifier. */
async function accuracyOf(modelDir: string, file: Uint8Array): Promise<number> {
  const classifier = await Classifier.load(modelDir, { backend: "cpu" });
  const n = file.length / 3073;
  let right = 0;
  for (let i = 0; i < n; i++) {
    const r = file.subarray(i * 3073, (i + 1) * 3073);
    const hwc = new Uint8Array(3072);
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) hwc[p * 3 + c] = r[1 + c * 1024 + p]!;
    }
    const [top] = await classifier.classify({
      data: hwc,
      width: 32,
      height: 32,
      channels: 3,
    });
    if (top!.index === r[0]) right++;
  }
  classifier.dispose();
  return right / n;
}

Deno.test("evaluate cli: a directory with only test_batch.bin gives report.html and metrics.json", async () => {
  await withModel(async (dir, modelDir) => {
    await Deno.mkdir(`${dir}/data`);
    const test = batchFile(40, 1);
    await Deno.writeFile(`${dir}/data/test_batch.bin`, test);
    const out = `${dir}/eval`;
    const code = await evaluateMain([
      "--model",
      modelDir,
      "--data",
      `${dir}/data`,
      "--out",
      out,
      "--backend",
      "cpu",
      "--lang",
      "ja",
      "--batch-size",
      "16",
    ]);
    assert.equal(code, 0);
    const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    assert.equal(metrics.samples, 40);
    assert.equal(metrics.lang, "ja");
    assert.equal(metrics.accuracy, await accuracyOf(modelDir, test));
    assert.equal(metrics.test.accuracy, metrics.accuracy);
    assert.equal(metrics.settings["evaluated on"], "test set");
    const html = await Deno.readTextFile(`${out}/report.html`);
    assert.match(html, /<html lang="ja"/);
    // No training set: no training-sample pictures.
    await assert.rejects(
      Deno.stat(`${out}/train_samples.png`),
      Deno.errors.NotFound,
    );
    await Deno.stat(`${out}/predictions.png`);
  });
});

Deno.test("evaluate cli: without a test set the last 10% of the training data is used", async () => {
  await withModel(async (dir, modelDir) => {
    await Deno.mkdir(`${dir}/data`);
    const batches = [1, 2, 3, 4, 5].map((k) => batchFile(8, 10 + k));
    for (const [k, b] of batches.entries()) {
      await Deno.writeFile(`${dir}/data/data_batch_${k + 1}.bin`, b);
    }
    const code = await evaluateMain([
      "--model",
      modelDir,
      "--data",
      `${dir}/data`,
      "--backend",
      "cpu",
    ]);
    assert.equal(code, 0);
    // Default output: inside the model directory.
    const metrics = JSON.parse(
      await Deno.readTextFile(`${modelDir}/evaluation/metrics.json`),
    );
    assert.equal(metrics.samples, 4);
    assert.equal(metrics.settings["evaluated on"], "validation split (10%)");
    assert.equal(
      metrics.accuracy,
      await accuracyOf(modelDir, batches[4]!.subarray(4 * 3073)),
    );
    await Deno.stat(`${modelDir}/evaluation/train_samples.png`);
  });
});

Deno.test("evaluate cli: usage, data and model errors exit non-zero", async () => {
  await withModel(async (dir, modelDir) => {
    assert.equal(await evaluateMain([]), 64);
    assert.equal(await evaluateMain(["--model", modelDir, "--lang", "xx"]), 64);
    assert.equal(
      await evaluateMain([
        "--model",
        modelDir,
        "--data",
        `${dir}/none`,
        "--backend",
        "cpu",
      ]),
      2,
    );
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeFile(`${dir}/data/test_batch.bin`, batchFile(3, 2));
    assert.equal(
      await evaluateMain([
        "--model",
        `${dir}/nomodel`,
        "--data",
        `${dir}/data`,
        "--backend",
        "cpu",
      ]),
      2,
    );
  });
});
