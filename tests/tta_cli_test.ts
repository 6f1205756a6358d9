/**
 * The test-time augmentation flags of `evaluate`, `classify` and `serve`
 * (`--tta`, `--tta-translate`, `SIMDNET_TTA`), in process on the `cpu`
 * backend: each command's figures equal the `Classifier`'s with the same
 * `tta` option (itself checked against averaging by hand in
 * `tta_test.ts`), `metrics.json` says which augmentation was used, and bad
 * values are usage errors naming their flag or variable.
 */

import assert from "node:assert/strict";
import { main as classifyMain } from "../src/cli/classify.ts";
import { main as evaluateMain } from "../src/cli/evaluate.ts";
import { main as trainMain } from "../src/cli/train.ts";
import { parseServeArgs } from "../src/cli/serve.ts";
import { ttaFlags } from "../src/cli/tta_flags.ts";
import { encodeRecords } from "../src/data/format.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { createClassifyHandler } from "../src/serve/handler.ts";
import type { TtaSetting } from "../src/train/tta.ts";
import { Rng } from "../src/util/random.ts";
import { pattern, png, withSavedModel } from "./classify_fixtures.ts";

const withModel = (run: (dir: string, model: string) => Promise<void>) =>
  withSavedModel("simdnet_cli_tta_", 77, run);

function batchFile(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => rng.int(256));
  const labels = new Uint8Array(n).map(() => rng.int(10));
  return encodeRecords({ images, labels, count: n });
}

/**
 * Accuracy and Keras' clipped cross-entropy of the records, through the
 * Classifier with `tta`.
 */
async function scoresOf(
  modelDir: string,
  file: Uint8Array,
  tta: TtaSetting,
): Promise<{ accuracy: number; loss: number }> {
  const classifier = await Classifier.load(modelDir, { backend: "cpu", tta });
  const n = file.length / 3073;
  let right = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const r = file.subarray(i * 3073, (i + 1) * 3073);
    const hwc = new Uint8Array(3072);
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) hwc[p * 3 + c] = r[1 + c * 1024 + p]!;
    }
    const top = await classifier.classify({
      data: hwc,
      width: 32,
      height: 32,
      channels: 3,
    }, { topK: 10 });
    if (top[0]!.index === r[0]) right++;
    const p = top.find((t) => t.index === r[0])!.probability;
    loss -= Math.log(Math.min(Math.max(p, 1e-7), 1 - 1e-7)) / n;
  }
  classifier.dispose();
  return { accuracy: right / n, loss };
}

Deno.test("tta flags: --tta is the mirror, --tta-translate adds translations, variable texts are checked", () => {
  assert.equal(ttaFlags({}), undefined);
  assert.deepEqual(ttaFlags({ tta: true }), { flip: true, translate: false });
  assert.deepEqual(ttaFlags({ "tta-translate": true }), {
    flip: true,
    translate: true,
  });
  assert.deepEqual(ttaFlags({ tta: " Yes ", "tta-translate": "0" }), {
    flip: true,
    translate: false,
  });
  assert.equal(ttaFlags({ tta: "off", "tta-translate": "false" }), undefined);
  assert.throws(
    () => ttaFlags({ tta: "mirror" }),
    /--tta must be true or false \(1 or 0\), got mirror/,
  );
});

Deno.test("evaluate --tta: the accuracy is the TTA classifier's and metrics.json names the augmentation", async () => {
  await withModel(async (dir, modelDir) => {
    await Deno.mkdir(`${dir}/data`);
    const test = batchFile(30, 3);
    await Deno.writeFile(`${dir}/data/test_batch.bin`, test);
    const base = [
      "--model",
      modelDir,
      "--data",
      `${dir}/data`,
      "--backend",
      "cpu",
    ];
    const losses: number[] = [];
    for (
      const [flag, setting, text] of [
        [[], false, "none"],
        [["--tta"], true, "mirror"],
        [
          ["--tta-translate"],
          { translate: true },
          "mirror + 1-pixel translations",
        ],
      ] as const
    ) {
      const out = `${dir}/eval${flag.join("")}`;
      assert.equal(
        await evaluateMain([
          ...base,
          ...flag,
          "--out",
          out,
          "--batch-size",
          "7",
        ]),
        0,
      );
      const metrics = JSON.parse(
        await Deno.readTextFile(`${out}/metrics.json`),
      );
      assert.equal(metrics.settings["test-time augmentation"], text);
      const want = await scoresOf(modelDir, test, setting);
      assert.equal(metrics.test.accuracy, want.accuracy);
      losses.push(metrics.test.loss);
      if (setting !== false) {
        assert.ok(Math.abs(metrics.test.loss - want.loss) < 1e-5, text);
      }
      // The report's predictions (confusion matrix) are the same TTA ones.
      assert.equal(metrics.accuracy, metrics.test.accuracy);
    }
    assert.equal(new Set(losses).size, 3, `${losses}`);
  });
});

Deno.test("train --tta: the final evaluation is the TTA classifier's and metrics.json names it", async () => {
  await withModel(async (dir, modelDir) => {
    await Deno.mkdir(`${dir}/data`);
    for (let b = 1; b <= 5; b++) {
      await Deno.writeFile(`${dir}/data/data_batch_${b}.bin`, batchFile(6, b));
    }
    const test = batchFile(16, 6);
    await Deno.writeFile(`${dir}/data/test_batch.bin`, test);
    const out = `${dir}/run`;
    const code = await trainMain([
      "--model",
      `${modelDir}/model.json`,
      "--data",
      `${dir}/data`,
      "--epochs",
      "1",
      "--batch-size",
      "8",
      "--backend",
      "cpu",
      "--out",
      out,
      "--tta",
    ]);
    assert.equal(code, 0);
    const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    assert.equal(metrics.settings["test-time augmentation"], "mirror");
    const want = await scoresOf(out, test, true);
    assert.equal(metrics.test.accuracy, want.accuracy);
    assert.ok(Math.abs(metrics.test.loss - want.loss) < 1e-5);
  });
});

Deno.test("classify --tta: the probabilities are the TTA classifier's, not the plain ones", async () => {
  await withModel(async (dir, modelDir) => {
    const a = `${dir}/a.png`;
    await Deno.writeFile(a, png(pattern(45, 38, 3, 5), 45, 38, 3));
    const bytes = await Deno.readFile(a);
    const want = async (tta: TtaSetting) => {
      const c = await Classifier.load(modelDir, { backend: "cpu", tta });
      const top = await c.classify(bytes, { topK: 10 });
      c.dispose();
      return top;
    };
    const run = async (flags: string[]) => {
      const lines: string[] = [];
      const base = [
        "--model",
        modelDir,
        "--backend",
        "cpu",
        "--json",
        "--top",
        "10",
      ];
      assert.equal(
        await classifyMain([...base, ...flags, a], (l) => lines.push(l)),
        0,
      );
      return JSON.parse(lines.join("\n"))[0].predictions;
    };
    const plain = await run([]);
    const mirrored = await run(["--tta"]);
    assert.deepEqual(mirrored, await want(true));
    assert.deepEqual(
      await run(["--tta-translate"]),
      await want({ translate: true }),
    );
    assert.deepEqual(plain, await want(false));
    assert.notDeepEqual(plain, mirrored);
  });
});

Deno.test("serve --tta: the flags, SIMDNET_TTA and SIMDNET_TTA_TRANSLATE, and a flag over its variable", () => {
  const tta = (args: string[], vars: Record<string, string> = {}) => {
    const a = parseServeArgs(["--model=m", ...args], (n) => vars[n]);
    assert.notEqual(a, "help");
    return a === "help" ? null : a.tta;
  };
  const mirror = { flip: true, translate: false };
  const translate = { flip: true, translate: true };
  assert.equal(tta([]), undefined);
  assert.deepEqual(tta(["--tta"]), mirror);
  assert.deepEqual(tta(["--tta-translate"]), translate);
  assert.deepEqual(tta([], { SIMDNET_TTA: "1" }), mirror);
  assert.deepEqual(tta([], { SIMDNET_TTA_TRANSLATE: "true" }), translate);
  assert.equal(tta([], { SIMDNET_TTA: "0" }), undefined);
  // A flag wins over its variable.
  assert.deepEqual(tta(["--tta"], { SIMDNET_TTA: "0" }), mirror);
  assert.throws(
    () => tta([], { SIMDNET_TTA_TRANSLATE: "maybe" }),
    /SIMDNET_TTA_TRANSLATE \(read for --tta-translate\) must be true or false \(1 or 0\), got maybe/,
  );
});

Deno.test("serve --tta: /healthz names the augmentation the answers average over", async () => {
  await withModel(async (_dir, modelDir) => {
    for (
      const [tta, text] of [
        [undefined, "none"],
        [{ translate: true }, "mirror + 1-pixel translations"],
      ] as const
    ) {
      const classifier = await Classifier.load(modelDir, {
        backend: "cpu",
        tta,
      });
      const service = createClassifyHandler(classifier, { decodeWorkers: 0 });
      try {
        const res = await service.handler(
          new Request("http://127.0.0.1/healthz"),
        );
        assert.equal((await res.json()).tta, text);
      } finally {
        service.close();
        classifier.dispose();
      }
    }
  });
});
