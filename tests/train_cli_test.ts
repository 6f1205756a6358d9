/**
 * `deno task train` end to end on the `cpu` backend, on a few generated
 * CIFAR-10 records in the official binary layout.
 */

import assert from "node:assert/strict";
import { CIFAR10_CLASSES_EN } from "../src/data/classes.ts";
import { loadModel, modelMetadata } from "../src/nn/model_io.ts";
import { EXIT_DIVERGED } from "../src/cli/exit_codes.ts";
import { main, parseTrainArgs } from "../src/cli/train.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { Rng } from "../src/util/random.ts";

/** Writes `perFile` random records into each training batch and the test batch. */
async function fakeCifar(
  dir: string,
  perFile: number,
  test: number,
): Promise<void> {
  const rng = new Rng(1);
  const records = (n: number) => {
    const out = new Uint8Array(n * 3073);
    for (let i = 0; i < n; i++) {
      out[i * 3073] = rng.int(10);
      for (let k = 1; k < 3073; k++) out[i * 3073 + k] = rng.int(256);
    }
    return out;
  };
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(`${dir}/data_batch_${b}.bin`, records(perFile));
  }
  if (test > 0) await Deno.writeFile(`${dir}/test_batch.bin`, records(test));
}

Deno.test("train cli: flags are parsed and checked", () => {
  const a = parseTrainArgs([]);
  assert.ok(a !== "help");
  assert.equal(a.epochs, 5);
  assert.equal(a.batchSize, 64);
  assert.equal(a.lr, 0.001);
  assert.equal(a.augment, true);
  assert.equal(a.valSplit, null);
  assert.match(a.out, /^runs\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d$/);
  const b = parseTrainArgs([
    "--no-augment",
    "--lr",
    "0.01",
    "--val-split",
    "0.2",
  ]);
  assert.ok(b !== "help" && !b.augment && b.lr === 0.01 && b.valSplit === 0.2);
  assert.equal(parseTrainArgs(["--help"]), "help");
  assert.throws(
    () => parseTrainArgs(["--epochs", "0"]),
    /--epochs must be a whole number >= 1/,
  );
  assert.throws(() => parseTrainArgs(["--resume"]), /--resume needs --out/);
  assert.throws(
    () => parseTrainArgs(["--backend", "tpu"]),
    /--backend must be/,
  );
  assert.throws(() => parseTrainArgs(["--bogus"]), /bogus/);
});

Deno.test("train cli: usage and data errors exit non-zero", async () => {
  assert.equal(await main(["--epochs", "x"]), 64);
  assert.equal(
    await main([
      "--backend",
      "cpu",
      "--data",
      "/nonexistent/simdnet",
      "--out",
      "/tmp/unused",
    ]),
    2,
  );
});

Deno.test("train cli: trains, saves, resumes and stops on a NaN loss", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_cli_" });
  try {
    await fakeCifar(dir, 4, 6);
    const out = `${dir}/run`;
    const args = [
      "--backend",
      "cpu",
      "--data",
      dir,
      "--out",
      out,
      "--epochs",
      "1",
      "--batch-size",
      "10",
      "--seed",
      "3",
    ];
    assert.equal(await main(args), 0);
    const names = new Set<string>();
    for await (const e of Deno.readDir(out)) names.add(e.name);
    for (
      const f of [
        "model.json",
        "group1-shard1of1.bin",
        "history.json",
        "checkpoint.ckpt",
        "report.html",
      ]
    ) {
      assert.ok(names.has(f), `${f} missing from ${[...names]}`);
    }
    const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
    assert.equal(history.loss.length, 1);
    assert.equal(history.val_loss.length, 1); // the test set validates
    // Beside Keras' keys: the training process's peak RSS, where Linux tells it.
    if (Deno.build.os === "linux") assert.ok(history.peak_rss_mb > 0, history);
    const model = await loadModel(out);
    assert.equal(model.countParams(), 2_168_362);
    // The data set's class names travel with the model.
    assert.deepEqual(modelMetadata(model)?.classNames, CIFAR10_CLASSES_EN);
    model.dispose();

    // Resuming a finished run trains nothing more and keeps the checkpoint.
    assert.equal(await main([...args, "--resume", "--no-report"]), 0);
    assert.equal((await loadCheckpoint(`${out}/checkpoint.ckpt`)).epoch, 1);
    // Other settings are refused.
    assert.equal(await main([...args, "--resume", "--batch-size", "5"]), 2);

    assert.equal(
      await main([
        "--backend",
        "cpu",
        "--data",
        dir,
        "--out",
        `${dir}/nan`,
        "--epochs",
        "3",
        "--batch-size",
        "10",
        "--lr",
        "1e30",
        "--no-report",
      ]),
      EXIT_DIVERGED,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const realData =
  Deno.permissions.querySync({ name: "env", variable: "CIFAR10_DIR" })
      .state === "granted"
    ? Deno.env.get("CIFAR10_DIR")
    : undefined;

Deno.test({
  name: "train cli: a short run on real CIFAR-10 (only with env CIFAR10_DIR)",
  ignore: realData === undefined,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "simdnet_real_" });
    try {
      const code = await main([
        "--backend",
        "cpu",
        "--data",
        realData!,
        "--out",
        out,
        "--limit",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--no-report",
      ]);
      assert.equal(code, 0);
      const history = JSON.parse(
        await Deno.readTextFile(`${out}/history.json`),
      );
      assert.ok(history.loss.every(Number.isFinite));
      assert.ok(history.val_accuracy[0] >= 0 && history.val_accuracy[0] <= 1);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
