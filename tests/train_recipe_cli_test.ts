/**
 * `deno task train --recipe fast` end to end on the `cpu` backend, on a
 * few generated CIFAR-10 records: the run trains the fractional epochs,
 * saves a model that loads, writes history with the learning rate and
 * the seconds of each epoch and the report, evaluates with the recipe's
 * TTA, and resumes; the recipe flags are checked.
 */

import assert from "node:assert/strict";
import { loadModel } from "../src/nn/model_io.ts";
import { main, parseTrainArgs } from "../src/cli/train.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { Rng } from "../src/util/random.ts";

/** `perFile` random records in each training batch file and the test batch. */
async function fakeCifar(dir: string, perFile: number): Promise<void> {
  const rng = new Rng(2);
  const records = (n: number) => {
    const out = new Uint8Array(n * 3073).map(() => rng.int(256));
    for (let i = 0; i < n; i++) out[i * 3073] = rng.int(10);
    return out;
  };
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(`${dir}/data_batch_${b}.bin`, records(perFile));
  }
  await Deno.writeFile(`${dir}/test_batch.bin`, records(perFile));
}

Deno.test("train recipe cli: --recipe and --width are parsed, and flags that would replace a part are refused", () => {
  const seed = parseTrainArgs([]);
  assert.ok(seed !== "help");
  assert.equal(seed.recipe.name, "seed");
  assert.equal(seed.epochs, 5);
  assert.equal(seed.tta, undefined);
  const fast = parseTrainArgs(["--recipe", "fast", "--width", "0.5"]);
  assert.ok(fast !== "help");
  assert.deepEqual(fast.recipe, { name: "fast", width: 0.5 });
  assert.equal(fast.epochs, 9.9);
  assert.equal(fast.batchSize, 1024);
  assert.deepEqual(fast.tta, { flip: true, translate: true });
  const mirror = parseTrainArgs(["--recipe", "fast", "--tta"]);
  assert.ok(mirror !== "help");
  assert.deepEqual(mirror.tta, { flip: true, translate: false });
  assert.throws(() => parseTrainArgs(["--width", "0.5"]), /--recipe fast/);
  assert.throws(() => parseTrainArgs(["--recipe", "slow"]), /--recipe must/);
  assert.throws(
    () => parseTrainArgs(["--recipe", "fast", "--optimizer", "adam"]),
    /drop --optimizer/,
  );
  assert.throws(
    () => parseTrainArgs(["--recipe", "fast", "--width", "0"]),
    /--width/,
  );
  assert.throws(
    () => parseTrainArgs(["--epochs", "1.5"]),
    /whole number/,
  );
});

Deno.test("train recipe cli: --recipe fast trains 1.5 epochs, saves, reports, evaluates with TTA and resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_recipe_cli_" });
  try {
    await fakeCifar(dir, 16);
    const out = `${dir}/run`;
    const args = [
      "--recipe",
      "fast",
      "--width",
      "0.0625",
      "--data",
      dir,
      "--epochs",
      "1.5",
      "--batch-size",
      "16",
      "--backend",
      "cpu",
      "--out",
      out,
    ];
    assert.equal(await main(args), 0);
    // 80 training images in batches of 16: 5 steps an epoch, 8 in 1.5.
    const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
    assert.equal(history.loss.length, 2);
    assert.equal(history.learning_rate.length, 2);
    assert.equal(history.seconds.length, 2);
    assert.ok(history.seconds.every((s: number) => s > 0), history.seconds);
    const state = await loadCheckpoint(`${out}/checkpoint.ckpt`);
    assert.equal(state.step, 8);
    assert.equal(state.lookahead?.every, 5);
    const model = await loadModel(out);
    assert.deepEqual(model.outputShape, [10]);
    model.dispose();
    const report = await Deno.readTextFile(`${out}/report.html`);
    assert.match(report, /flip/);
    // The settings table: the run's lines, then the recipe's.
    const { settings } = JSON.parse(
      await Deno.readTextFile(`${out}/metrics.json`),
    );
    assert.deepEqual(Object.keys(settings).slice(0, 11), [
      "epochs",
      "batch size",
      "learning rate",
      "augmentation",
      "seed",
      "backend",
      "threads",
      "training images",
      "test images",
      "training time (s)",
      "test-time augmentation",
    ]);
    assert.equal(settings.recipe, "fast");
    assert.equal(settings.width, 0.0625);
    assert.equal(settings.backend, "cpu");
    assert.equal(settings["training images"], 80);
    // Resuming a finished run trains nothing more and ends the same.
    const before = await Deno.readFile(`${out}/group1-shard1of1.bin`);
    assert.equal(await main([...args, "--resume"]), 0);
    assert.deepEqual(
      await Deno.readFile(`${out}/group1-shard1of1.bin`),
      before,
    );
    // Epochs this process did not train have no time.
    const again = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
    assert.deepEqual(again.seconds, [null, null]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
