/**
 * `data`, `train` and `evaluate` on a tiny image folder, through their
 * `main(args)` (cpu backend, one epoch, a few images).
 */

import assert from "node:assert/strict";
import { main as dataMain } from "../src/cli/data.ts";
import { main as evaluateMain } from "../src/cli/evaluate.ts";
import { main as trainMain, parseTrainArgs } from "../src/cli/train.ts";
import { loadTrainingFolders } from "../src/data/training_folders.ts";
import { loadModel } from "../src/nn/model_io.ts";
import {
  mixedFolder,
  pngFile,
  withTemp,
  writeTree,
} from "./_image_folder_fixtures.ts";

/** Runs `fn` with console.log / console.error captured. */
async function captured(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const { log, error } = console;
  let out = "", err = "";
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => void (err += a.join(" ") + "\n");
  try {
    return { code: await fn(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

const CLASSES = ["猫", "Ελληνικά", "dog"];

async function folder(dir: string, perClass = 4): Promise<void> {
  await writeTree(dir, {
    ...mixedFolder(CLASSES, perClass),
    "dog/broken.jpg": new TextEncoder().encode("not a jpeg"),
    "dog/.DS_Store": new Uint8Array(8),
  });
}

Deno.test("folder cli: data prints counts, sizes, colour types and skipped files", async () => {
  await withTemp(async (dir) => {
    await folder(dir);
    const run = await captured(() => dataMain(["--data", dir]));
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, new RegExp(`source: folder ${dir}\n`));
    assert.match(run.out, /dataset: 12 images/);
    assert.match(run.out, /0 dog +4\n/);
    assert.match(run.out, /1 Ελληνικά +4\n/);
    assert.match(run.out, /2 猫 +4\n/);
    assert.match(
      run.out,
      /image sizes \(4 distinct, 12 images; smallest 16x32, largest 32x32\)/,
    );
    assert.match(run.out, /png RGBA +3\n/);
    assert.match(run.out, /jpeg RGB +3\n/);
    assert.match(
      run.out,
      /skipped 1 file that could not be decoded:\n.*dog\/broken\.jpg: the data is neither/,
    );
    assert.doesNotMatch(run.out, /DS_Store/);
  });
});

Deno.test("folder cli: data errors exit 2 with one line naming the folder", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, { "only/a.png": pngFile(4, 4, 3, 1) });
    const one = await captured(() => dataMain(["--data", dir]));
    assert.equal(one.code, 2);
    assert.match(
      one.err,
      new RegExp(
        `^error: ${dir} has 1 class folder \\(only\\)[^\n]*; [^\n]+\n$`,
      ),
    );
    await Deno.remove(`${dir}/only`, { recursive: true });
    await Deno.writeFile(`${dir}/loose.png`, pngFile(4, 4, 3, 1));
    const none = await captured(() => dataMain(["--data", dir]));
    assert.equal(none.code, 2);
    assert.match(
      none.err,
      /holds neither CIFAR-10 batch files nor class folders/,
    );
  });
});

Deno.test("folder cli: train flags for image folders are parsed", () => {
  const a = parseTrainArgs([
    "--val-data",
    "v",
    "--test-data",
    "t",
    "--image-size",
    "24",
    "--cache-images",
  ]);
  assert.ok(a !== "help");
  assert.deepEqual(a.folder, {
    valData: "v",
    testData: "t",
    imageSize: 24,
    cacheImages: true,
  });
  const b = parseTrainArgs([]);
  assert.ok(b !== "help");
  assert.deepEqual(b.folder, {
    valData: undefined,
    testData: undefined,
    imageSize: 32,
    cacheImages: false,
  });
  assert.throws(() => parseTrainArgs(["--image-size", "0"]), /--image-size/);
});

Deno.test("folder cli: train then evaluate on a tiny folder", async () => {
  await withTemp(async (root) => {
    const data = `${root}/data`, out = `${root}/run`;
    await folder(data, 5);
    const common = ["--epochs", "1", "--batch-size", "4", "--backend", "cpu"];
    const train = await captured(() =>
      trainMain([
        ...common,
        "--data",
        data,
        "--out",
        out,
        "--no-report",
        "--val-split",
        "0.2",
        "--image-size",
        "16",
      ])
    );
    assert.equal(train.code, 0, train.err);
    assert.match(train.out, /train: 12 images, validation: 3 images/);
    assert.match(train.out, /^skipped 1 file[^\n]*\n[^\n]*broken\.jpg/m);
    const model = await loadModel(out);
    assert.deepEqual(model.inputShape, [16, 16, 3]);
    assert.deepEqual(model.outputShape, [3]);
    model.dispose();

    const evaluated = await captured(() =>
      evaluateMain([
        "--model",
        out,
        "--data",
        data,
        "--backend",
        "cpu",
        "--out",
        `${root}/eval`,
      ])
    );
    assert.equal(evaluated.code, 0, evaluated.err);
    assert.match(evaluated.out, /Test: 15 images/);
    const report = await Deno.readTextFile(
      `${root}/eval/classification_report.txt`,
    );
    for (const name of CLASSES) assert.ok(report.includes(name), report);

    // A folder with another class count than the model's is refused.
    await writeTree(`${root}/two`, mixedFolder(["a", "b"], 2));
    const two = await captured(() =>
      evaluateMain([
        "--model",
        out,
        "--data",
        `${root}/two`,
        "--backend",
        "cpu",
        "--out",
        `${root}/eval2`,
      ])
    );
    assert.equal(two.code, 2);
    assert.match(two.err, /has 2 class folders but the model has 3 classes/);
  });
});

Deno.test("folder cli: train with --val-data and --test-data, and a class mismatch", async () => {
  await withTemp(async (root) => {
    await folder(`${root}/train`, 4);
    await writeTree(`${root}/val`, mixedFolder(CLASSES, 2));
    await writeTree(`${root}/test`, mixedFolder(CLASSES, 1));
    const common = [
      "--epochs",
      "1",
      "--batch-size",
      "4",
      "--backend",
      "cpu",
      "--no-report",
      "--data",
      `${root}/train`,
    ];
    const ok = await captured(() =>
      trainMain([
        ...common,
        "--val-data",
        `${root}/val`,
        "--test-data",
        `${root}/test`,
        "--out",
        `${root}/run`,
      ])
    );
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /train: 12 images, test: 3 images/);
    const history = JSON.parse(
      await Deno.readTextFile(`${root}/run/history.json`),
    );
    assert.equal(history.val_loss.length, 1);

    await writeTree(`${root}/other`, mixedFolder(["dog", "猫", "bird"], 1));
    const bad = await captured(() =>
      trainMain([
        ...common,
        "--val-data",
        `${root}/other`,
        "--out",
        `${root}/run2`,
      ])
    );
    assert.equal(bad.code, 2);
    assert.match(
      bad.err,
      /^error: --val-data \S+other has other classes than the training data: missing \[Ελληνικά\], extra \[bird\]; /,
    );

    const both = await captured(() =>
      trainMain([...common, "--val-data", `${root}/val`, "--val-split", "0.2"])
    );
    assert.equal(both.code, 64);
  });
});

Deno.test("folder cli: loadTrainingFolders samples --limit across classes, seeded", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, mixedFolder(["a", "b", "c"], 6));
    const load = (seed: number) =>
      loadTrainingFolders({ dir, valSplit: 0.2, limit: 6, seed });
    const first = await load(1);
    assert.equal(first.train.count, 6);
    assert.equal(first.validation.count, 3);
    assert.equal(first.test, null);
    assert.ok(new Set(first.train.labels).size > 1, "not just the first class");
    assert.deepEqual((await load(1)).train.images, first.train.images);
    await assert.rejects(
      () => loadTrainingFolders({ dir, valData: dir, valSplit: 0.1 }),
      /both a validation folder and a validation split/,
    );
  });
});
