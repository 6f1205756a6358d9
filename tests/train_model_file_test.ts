/**
 * `deno task train --model FILE` on the `cpu` backend: a topology-only
 * `model.json` trains with fresh weights drawn from `--seed` exactly as
 * `Sequential` draws them, `--keep-weights` starts from the file's
 * weights, and a model that does not fit the data (input shape, class
 * count) fails before training with one line naming both sides and the
 * fix, exit 2; flags are checked.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { main, parseTrainArgs } from "../src/cli/train.ts";
import { buildTrainModel } from "../src/cli/train_model.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import {
  loadTopology,
  modelFromTopology,
} from "../src/nn/model_from_topology.ts";
import {
  ModelFormatError,
  type ModelJson,
  modelToArtifacts,
  saveModel,
} from "../src/nn/model_io.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { fakeCifar, weightsOf } from "./_train_fixtures.ts";

await tf.setBackend("cpu");

function net(
  seed: number,
  { size = 32, units = 10, head = "linear" as "linear" | "softmax" | "relu" } =
    {},
): Sequential {
  return new Sequential([
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new MaxPooling2D({ poolSize: 4 }),
    new Flatten(),
    new Dense({ units, activation: head }),
  ], { inputShape: [size, size, 3], seed });
}

/** Writes only `model.json` (no weight file) of `model` to `dir`. */
async function writeTopology(model: Sequential, dir: string): Promise<string> {
  const { json } = await modelToArtifacts(model);
  model.dispose();
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/model.json`;
  await Deno.writeTextFile(path, JSON.stringify(json));
  return path;
}

async function captured(fn: () => Promise<number>) {
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = console.error = (...args: unknown[]) =>
    lines.push(args.join(" "));
  try {
    return { code: await fn(), text: lines.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

Deno.test("train --model: flags are parsed and checked", () => {
  const a = parseTrainArgs(["--model", "m.json", "--keep-weights"]);
  assert.ok(a !== "help");
  assert.equal(a.transfer.model, "m.json");
  assert.equal(a.transfer.keepWeights, true);
  const b = parseTrainArgs(["--model", "m", "--freeze", "2", "--new-head"]);
  assert.ok(b !== "help");
  assert.equal(b.transfer.keepWeights, false);
  assert.equal(b.transfer.freeze, 2);
  assert.throws(
    () => parseTrainArgs(["--keep-weights"]),
    /--keep-weights needs --model FILE/,
  );
  assert.throws(
    () => parseTrainArgs(["--model", "a", "--from", "b"]),
    /--model and --from both choose the model/,
  );
});

Deno.test("train --model: fresh weights are the seed's Sequential draws; --keep-weights keeps the file's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_file_" });
  try {
    const path = await writeTopology(net(1), `${dir}/topo`);
    for (const seed of [42, 7]) {
      const reference = net(seed);
      const fresh = await loadTopology(path, { seed });
      assert.deepEqual(await weightsOf(fresh), await weightsOf(reference));
      reference.dispose();
      fresh.dispose();
    }
    const a = await loadTopology(`${dir}/topo`, { seed: 42 });
    const b = modelFromTopology(await Deno.readTextFile(path), { seed: 43 });
    assert.notDeepEqual(await weightsOf(a), await weightsOf(b));
    [a, b].forEach((m) => m.dispose());

    // --keep-weights: the saved weights, not the seed's.
    const saved = net(9);
    await saveModel(saved, `${dir}/full`);
    const spec = { classes: 10, shape: [32, 32, 3] as const };
    const kept = await buildTrainModel(
      {
        model: `${dir}/full`,
        keepWeights: true,
        from: undefined,
        freeze: undefined,
        newHead: false,
        fineTune: undefined,
        seed: 42,
      },
      spec,
      () => {},
    );
    assert.deepEqual(await weightsOf(kept.model), await weightsOf(saved));
    assert.equal(kept.report.weights, "the file's");
    assert.match(String(kept.settings.model), /^sha256:[0-9a-f]{64}$/);
    const redrawn = await buildTrainModel(
      {
        model: `${dir}/full`,
        keepWeights: false,
        from: undefined,
        freeze: undefined,
        newHead: false,
        fineTune: undefined,
        seed: 42,
      },
      spec,
      () => {},
    );
    const seed42 = net(42);
    assert.deepEqual(await weightsOf(redrawn.model), await weightsOf(seed42));
    assert.notEqual(redrawn.settings.model, kept.settings.model);
    [saved, kept.model, redrawn.model, seed42].forEach((m) => m.dispose());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --model: trains a logits model from a topology file, checks shapes and classes first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_cli_" });
  try {
    await fakeCifar(dir, 6);
    const common = [
      "--backend",
      "cpu",
      "--data",
      dir,
      "--epochs",
      "1",
      "--batch-size",
      "10",
      "--no-report",
      "--no-augment",
    ];
    const path = await writeTopology(net(1), `${dir}/topo`);
    const out = `${dir}/run`;
    const run = await captured(() =>
      main([...common, "--model", path, "--out", out])
    );
    assert.equal(run.code, 0, run.text);
    const json: ModelJson = JSON.parse(
      await Deno.readTextFile(`${out}/model.json`),
    );
    const layers = json.modelTopology.config.layers;
    assert.deepEqual(layers.map((l) => l.class_name), [
      "Conv2D",
      "MaxPooling2D",
      "Flatten",
      "Dense",
    ]);
    assert.equal(layers.at(-1)!.config.activation, "linear");
    const state = await loadCheckpoint(`${out}/checkpoint.ckpt`);
    assert.match(String(state.settings.model), /^sha256:[0-9a-f]{64}$/);
    assert.ok(state.history.loss.every(Number.isFinite));

    // Resuming with another seed is another starting model: refused.
    const other = await captured(() =>
      main([
        ...common,
        "--model",
        path,
        "--out",
        out,
        "--resume",
        "--seed",
        "3",
      ])
    );
    assert.equal(other.code, 2, other.text);
    assert.match(other.text, /other settings \(seed 42 -> 3; model "sha256:/);

    const small = await writeTopology(net(1, { size: 16 }), `${dir}/small`);
    const shape = await captured(() =>
      main([...common, "--model", small, "--out", `${dir}/x`])
    );
    assert.equal(shape.code, 2);
    assert.match(
      shape.text,
      /^error: .*takes \[16,16,3\] inputs but the training images are \[32,32,3\]; change the InputLayer's batch_input_shape/m,
    );

    const four = await writeTopology(
      net(1, { units: 4, head: "softmax" }),
      `${dir}/four`,
    );
    const classes = await captured(() =>
      main([...common, "--model", four, "--out", `${dir}/y`])
    );
    assert.equal(classes.code, 2);
    assert.match(
      classes.text,
      /^error: .*layer 'dense' \(Dense\) of .* outputs \[4\] but the data has 10 classes; add --new-head/m,
    );
    assert.equal(
      await Deno.stat(`${dir}/y/checkpoint.ckpt`).then(() => true, () => false),
      false,
      "no training before the check",
    );
    const headed = await captured(() =>
      main([...common, "--model", four, "--new-head", "--out", `${dir}/z`])
    );
    assert.equal(headed.code, 0, headed.text);
    assert.match(headed.text, /notice: replaced the head dense \(4 classes\)/);
    const z: ModelJson = JSON.parse(
      await Deno.readTextFile(`${dir}/z/model.json`),
    );
    assert.equal(z.modelTopology.config.layers.at(-1)!.config.units, 10);

    // A relu head gives neither probabilities nor logits.
    const relu = await writeTopology(net(1, { head: "relu" }), `${dir}/relu`);
    const reluRun = await captured(() =>
      main([...common, "--model", relu, "--out", `${dir}/r`])
    );
    assert.equal(reluRun.code, 2);
    assert.match(
      reluRun.text,
      /^error: layer 'dense' \(Dense\) ends .* with activation 'relu'; a classifier ends in softmax or linear \(logits\)/m,
    );

    const missing = await captured(() =>
      main([...common, "--model", `${dir}/nowhere`, "--out", `${dir}/w`])
    );
    assert.equal(missing.code, 2);
    assert.match(missing.text, /no model\.json at/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --model: a topology beyond the limits or not a model fails as a model file", async () => {
  const { json } = await modelToArtifacts(net(1));
  assert.throws(
    () =>
      modelFromTopology(JSON.stringify(json), {
        limits: { maxWeightBytes: 1000 },
      }),
    (e) =>
      e instanceof ModelFormatError &&
      /^model\.json: the model has \d+ parameters, more than the limit of 250$/
        .test(e.message),
  );
  assert.throws(
    () => modelFromTopology("{}", { source: "m.json" }),
    (e) =>
      e instanceof ModelFormatError &&
      /^m\.json has no modelTopology/.test(e.message),
  );
});
