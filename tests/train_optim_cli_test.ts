/**
 * The optimizer, schedule, loss and callback flags of `deno task train`:
 * parsed into what `fit` takes, bad values refused in one line (exit 64,
 * the usage code of src/cli/exit_codes.ts), epochs turned into schedule
 * steps, and one run end to end on the `cpu` backend with SGD-Nesterov, a
 * cosine schedule, ReduceLROnPlateau and --save-best-only whose
 * history.json carries the learning rate and whose report still builds.
 */

import assert from "node:assert/strict";
import { main, parseTrainArgs, type TrainArgs } from "../src/cli/train.ts";
import { optimFitOptions } from "../src/cli/train_schedule.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { CosineDecay, TriangularSchedule } from "../src/train/schedules.ts";
import { Rng } from "../src/util/random.ts";

function parse(args: string[]): TrainArgs {
  const a = parseTrainArgs(args);
  assert.ok(a !== "help");
  return a;
}

Deno.test("train optim flags: defaults are the seed recipe, flags become the optimizer config", () => {
  const seed = parse([]);
  assert.deepEqual(seed.optim.optimizer, { kind: "adam", learningRate: 0.001 });
  assert.equal(seed.optim.schedule, "constant");
  assert.equal(seed.optim.labelSmoothing, 0);
  assert.equal(seed.optim.plateau, null);
  const a = parse([
    "--optimizer",
    "sgd",
    "--lr",
    "0.2",
    "--momentum",
    "0.85",
    "--nesterov",
    "--weight-decay",
    "5e-4",
    "--bias-lr-mult",
    "64",
    "--label-smoothing",
    "0.2",
    "--reduce-lr-on-plateau",
    "--plateau-patience",
    "3",
    "--save-best-only",
  ]);
  assert.deepEqual(a.optim.optimizer, {
    kind: "sgd",
    learningRate: 0.2,
    momentum: 0.85,
    nesterov: true,
    weightDecay: 5e-4,
    paramGroups: [{
      match: "/(bias|beta)$",
      learningRateMultiplier: 64,
      weightDecay: 0,
    }],
  });
  assert.equal(a.optim.labelSmoothing, 0.2);
  assert.deepEqual(a.optim.plateau, { factor: 0.5, patience: 3, minLr: 0 });
  assert.equal(a.optim.saveBestOnly, true);
});

Deno.test("train optim flags: bad values and flags without their optimizer or schedule are one-line usage errors", async () => {
  const bad: Array<[string[], RegExp]> = [
    [
      ["--optimizer", "lamb"],
      /^--optimizer must be one of sgd, adam, adamw, rmsprop, got lamb$/,
    ],
    [["--schedule", "linear"], /^--schedule must be one of constant, cosine/],
    [["--momentum", "0.9"], /^--momentum needs --optimizer sgd or rmsprop$/],
    [
      ["--optimizer", "sgd", "--momentum", "1"],
      /^--momentum must be in \[0, 1\), got 1$/,
    ],
    [
      ["--optimizer", "sgd", "--nesterov"],
      /^--nesterov needs --optimizer sgd and --momentum > 0$/,
    ],
    [["--weight-decay=-1"], /^--weight-decay must be a number >= 0/],
    [["--label-smoothing", "1"], /^--label-smoothing must be in \[0, 1\)/],
    [
      ["--warmup-epochs", "1"],
      /^--warmup-epochs needs --schedule cosine or triangular$/,
    ],
    [
      ["--schedule", "piecewise", "--boundaries", "2", "--lr-values", "0.1"],
      /^--lr-values must be 2 rates > 0/,
    ],
    [["--min-lr", "0.1"], /^--min-lr needs --reduce-lr-on-plateau$/],
    [
      ["--reduce-lr-on-plateau", "--plateau-factor", "2"],
      /^--plateau-factor must be in \(0, 1\)/,
    ],
  ];
  for (const [args, pattern] of bad) {
    assert.throws(() => parseTrainArgs(args), (e: Error) => {
      assert.match(e.message, pattern, args.join(" "));
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  assert.equal(await main(["--optimizer", "lamb"]), 64);
});

Deno.test("train optim flags: schedule durations in epochs become steps of the run", () => {
  const run = {
    lr: 0.1,
    epochs: 10,
    batchSize: 50,
    count: 1000,
    out: "/tmp/x",
    classNames: [],
  };
  const cosine = optimFitOptions(
    parse(["--schedule", "cosine", "--warmup-epochs", "2"]).optim,
    run,
  ).schedule;
  assert.ok(cosine instanceof CosineDecay);
  // 20 steps per epoch: 40 warm-up steps from 0 to --lr, then 160 of cosine.
  assert.deepEqual(
    [
      cosine.warmupSteps,
      cosine.decaySteps,
      cosine.warmupTarget,
      cosine.initialLearningRate,
    ],
    [40, 160, 0.1, 0],
  );
  const tri =
    optimFitOptions(parse(["--schedule", "triangular"]).optim, run).schedule;
  assert.ok(tri instanceof TriangularSchedule);
  // Defaults: from --lr / 5 up to --lr over 20% of the run, down to 0.
  assert.deepEqual(tri.options, {
    initialLearningRate: 0.02,
    peakLearningRate: 0.1,
    endLearningRate: 0,
    warmupSteps: 40,
    totalSteps: 200,
  });
  assert.equal(optimFitOptions(parse([]).optim, run).schedule, undefined);
  const piece = optimFitOptions(
    parse([
      "--schedule",
      "piecewise",
      "--boundaries",
      "3,6",
      "--lr-values",
      "0.1,0.01,0.001",
    ]).optim,
    run,
  ).schedule!;
  assert.deepEqual([60, 61, 120, 121].map((s) => piece.at(s)), [
    0.1,
    0.01,
    0.01,
    0.001,
  ]);
});

/** A few random CIFAR-10 records in the official binary layout. */
async function fakeCifar(dir: string, perFile: number): Promise<void> {
  const rng = new Rng(5);
  const records = (n: number) =>
    Uint8Array.from(
      { length: n * 3073 },
      (_, i) => i % 3073 === 0 ? rng.int(10) : rng.int(256),
    );
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(`${dir}/data_batch_${b}.bin`, records(perFile));
  }
  await Deno.writeFile(`${dir}/test_batch.bin`, records(6));
}

Deno.test("train optim flags: a run with SGD-Nesterov, cosine, plateau and save-best-only writes the rates and the best model", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_optim_cli_" });
  try {
    await fakeCifar(dir, 4);
    const out = `${dir}/run`;
    const args = [
      "--backend",
      "cpu",
      "--data",
      dir,
      "--out",
      out,
      "--epochs",
      "2",
      "--batch-size",
      "10",
      "--optimizer",
      "sgd",
      "--lr",
      "0.01",
      "--momentum",
      "0.9",
      "--nesterov",
      "--weight-decay",
      "1e-4",
      "--schedule",
      "cosine",
      "--warmup-epochs",
      "1",
      "--label-smoothing",
      "0.1",
      "--reduce-lr-on-plateau",
      "--save-best-only",
    ];
    assert.equal(await main(args), 0);
    const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
    // 2 steps per epoch: warm-up to 0.01 at step 2, the cosine's first rate
    // at step 3 (the last of epoch 2): 0.01 * 0.5 * (1 + cos(pi / 2)).
    assert.equal(history.learning_rate.length, 2);
    assert.ok(
      Math.abs(history.learning_rate[0] - 0.005) < 1e-12,
      `${history.learning_rate}`,
    );
    assert.ok(
      Math.abs(history.learning_rate[1] - 0.005) < 1e-12,
      `${history.learning_rate}`,
    );
    assert.ok((await Deno.stat(`${out}/best/model.json`)).isFile);
    assert.ok((await Deno.stat(`${out}/report.html`)).isFile);
    const state = await loadCheckpoint(`${out}/checkpoint.ckpt`);
    assert.equal(state.optimizer.kind, "sgd");
    assert.equal(state.step, 4);
    assert.deepEqual(Object.keys(state.callbacks), [
      "ReduceLROnPlateau",
      "ModelCheckpoint",
    ]);
    // Resuming with Adam is refused in one line, exit 2.
    assert.equal(
      await main([...args.slice(0, 10), "--resume", "--no-report"]),
      2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
