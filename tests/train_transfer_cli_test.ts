/**
 * `deno task train --from` end to end on the `cpu` backend: a small saved
 * model is the start, its head is replaced for CIFAR-10's ten classes, the
 * first conv is frozen, then everything is fine-tuned; flags are checked,
 * and resuming with another --freeze is refused.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { main, parseTrainArgs } from "../src/cli/train.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { type ModelJson, saveModel } from "../src/nn/model_io.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { fakeCifar } from "./_train_fixtures.ts";

await tf.setBackend("cpu");

/** A small 32x32 model with four classes, as a pretrained source. */
function source(): Sequential {
  return new Sequential([
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new MaxPooling2D({ poolSize: 4 }),
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new MaxPooling2D({ poolSize: 2 }),
    new Flatten(),
    new Dense({ units: 4, activation: "softmax" }),
  ], { inputShape: [32, 32, 3], seed: 2 });
}

async function captured(fn: () => Promise<number>) {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return { code: await fn(), text: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

const modelJson = async (dir: string): Promise<ModelJson> =>
  JSON.parse(await Deno.readTextFile(`${dir}/model.json`));

Deno.test("train cli: transfer flags are parsed and checked", () => {
  const a = parseTrainArgs([
    "--from",
    "m",
    "--freeze",
    "3",
    "--fine-tune-epochs",
    "2",
    "--lr",
    "0.002",
  ]);
  assert.ok(a !== "help");
  assert.deepEqual(a.transfer, {
    model: undefined,
    keepWeights: false,
    from: "m",
    freeze: 3,
    newHead: false,
    fineTune: { epochs: 2, learningRate: 0.0002 },
  });
  const b = parseTrainArgs([
    "--from",
    "m",
    "--freeze",
    "conv2d_3",
    "--new-head",
    "--fine-tune-epochs",
    "1",
    "--fine-tune-lr",
    "1e-5",
  ]);
  assert.ok(b !== "help");
  assert.equal(b.transfer.freeze, "conv2d_3");
  assert.equal(b.transfer.newHead, true);
  assert.equal(b.transfer.fineTune?.learningRate, 1e-5);
  assert.throws(
    () => parseTrainArgs(["--freeze", "2"]),
    /--freeze needs --from DIR/,
  );
  assert.throws(
    () => parseTrainArgs(["--new-head"]),
    /--new-head needs --from/,
  );
  assert.throws(
    () => parseTrainArgs(["--from", "m", "--fine-tune-lr", "1e-4"]),
    /--fine-tune-lr needs --fine-tune-epochs/,
  );
  assert.throws(
    () => parseTrainArgs(["--from", "m", "--fine-tune-epochs", "0"]),
    /--fine-tune-epochs must be a whole number >= 1/,
  );
});

Deno.test("train cli: --from a saved model replaces the head, freezes, fine-tunes and refuses another --freeze on resume", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_cli_transfer_" });
  try {
    await fakeCifar(dir, 6);
    const src = source();
    await saveModel(src, `${dir}/source`);
    src.dispose();
    const common = [
      "--backend",
      "cpu",
      "--data",
      dir,
      "--from",
      `${dir}/source`,
      "--epochs",
      "1",
      "--batch-size",
      "10",
      "--no-report",
      "--no-augment",
    ];
    const out = `${dir}/ft`;
    const run = await captured(() =>
      main([
        ...common,
        "--out",
        out,
        "--freeze",
        "conv2d",
        "--fine-tune-epochs",
        "1",
      ])
    );
    assert.equal(run.code, 0, run.text);
    assert.match(
      run.text,
      /notice: replaced the head dense \(4 classes\) with dense_head \(10 classes\), fresh weights from seed 42/,
    );
    assert.match(
      run.text,
      /Trainable params: 798\nNon-trainable params: 112\n/,
    );
    const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
    assert.equal(history.loss.length, 2);
    const json = await modelJson(out);
    const layers = json.modelTopology.config.layers;
    assert.equal(layers.at(-1)!.config.name, "dense_head");
    assert.equal(layers.at(-1)!.config.units, 10);
    // Fine-tuning ends with every layer trainable.
    assert.ok(layers.every((l) => l.config.trainable === true));
    const state = await loadCheckpoint(`${out}/checkpoint.ckpt`);
    assert.equal(state.settings.frozen, "conv2d");
    assert.equal(state.settings.phase, 2);
    assert.match(String(state.settings.fromModel), /^sha256:[0-9a-f]{64}$/);

    // Without fine-tuning the frozen layer is saved as such.
    const frozenOut = `${dir}/frozen`;
    assert.equal(
      await main([...common, "--out", frozenOut, "--freeze", "2"]),
      0,
    );
    const flags = (await modelJson(frozenOut)).modelTopology.config.layers
      .map((l) => l.config.trainable);
    assert.deepEqual(flags, [false, false, true, true, true, true]);

    // Resuming with another --freeze is another run: refused, exit 2.
    assert.equal(
      await main([...common, "--out", frozenOut, "--freeze", "1", "--resume"]),
      2,
    );
    // An unknown layer name is a usage error naming the layers.
    assert.equal(
      await main([...common, "--out", `${dir}/x`, "--freeze", "conv9"]),
      64,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
