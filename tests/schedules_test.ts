/**
 * The learning-rate schedules against Keras' formulas written out here at
 * given and random steps, and ReduceLROnPlateau / ModelCheckpoint against
 * Keras' decision rules on hand-made metric sequences.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { ModelCheckpoint } from "../src/train/model_checkpoint.ts";
import { ReduceLROnPlateau } from "../src/train/reduce_lr_on_plateau.ts";
import {
  CosineDecay,
  ExponentialDecay,
  PiecewiseConstantDecay,
  TriangularSchedule,
} from "../src/train/schedules.ts";
import { createRng } from "../src/util/random.ts";

const rng = createRng(1202);
const close = (got: number, want: number, what: string) =>
  assert.ok(
    Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)),
    `${what}: ${got} vs ${want}`,
  );

Deno.test("schedules: ExponentialDecay is lr0 * rate^(step / steps), floored with staircase", () => {
  const s = new ExponentialDecay(0.1, 10, 0.5);
  close(s.at(0), 0.1, "step 0");
  close(s.at(10), 0.05, "step 10");
  close(s.at(5), 0.1 * Math.SQRT1_2, "step 5");
  const stair = new ExponentialDecay(0.1, 10, 0.5, true);
  close(stair.at(9), 0.1, "staircase 9");
  close(stair.at(25), 0.025, "staircase 25");
  for (let i = 0; i < 20; i++) {
    const [lr0, steps, rate] = [
      rng.uniform(1e-4, 1),
      1 + rng.int(100),
      rng.uniform(0.1, 1),
    ];
    const step = rng.int(1000);
    close(
      new ExponentialDecay(lr0, steps, rate).at(step),
      lr0 * Math.pow(rate, step / steps),
      "random",
    );
  }
  assert.throws(() => new ExponentialDecay(0.1, 0, 0.5), /decay steps 0/);
});

Deno.test("schedules: CosineDecay follows Keras 3 (alpha, warmup_target, warmup_steps)", () => {
  const plain = new CosineDecay({ initialLearningRate: 0.1, decaySteps: 100 });
  close(plain.at(0), 0.1, "start");
  close(plain.at(50), 0.05, "half way");
  close(plain.at(100), 0, "end");
  close(plain.at(500), 0, "after the end");
  const alpha = new CosineDecay({
    initialLearningRate: 0.1,
    decaySteps: 100,
    alpha: 0.1,
  });
  close(alpha.at(100), 0.01, "alpha floor");
  close(alpha.at(50), 0.1 * (0.9 * 0.5 + 0.1), "alpha half");
  // Keras 3: warm up linearly from the initial rate to the target, then
  // decay from the target over decay_steps.
  const warm = new CosineDecay({
    initialLearningRate: 0,
    decaySteps: 80,
    warmupTarget: 0.2,
    warmupSteps: 20,
  });
  close(warm.at(0), 0, "warm-up start");
  close(warm.at(10), 0.1, "warm-up middle");
  close(warm.at(20), 0.2, "warm-up end");
  close(warm.at(60), 0.1, "cosine middle");
  close(warm.at(100), 0, "cosine end");
  close(warm.at(1000), 0, "clamped");
  for (let i = 0; i < 20; i++) {
    const lr0 = rng.uniform(0, 0.1);
    const target = rng.uniform(0.1, 1);
    const [d, w, a] = [1 + rng.int(200), 1 + rng.int(50), rng.next()];
    const step = rng.int(400);
    const s = Math.min(step, d + w);
    const want = s < w
      ? (target - lr0) * (s / w) + lr0
      : target * ((1 - a) * 0.5 * (1 + Math.cos(Math.PI * (s - w) / d)) + a);
    const got = new CosineDecay({
      initialLearningRate: lr0,
      decaySteps: d,
      alpha: a,
      warmupTarget: target,
      warmupSteps: w,
    }).at(step);
    close(got, want, `random ${step}`);
  }
});

Deno.test("schedules: PiecewiseConstantDecay switches after each boundary (inclusive)", () => {
  const s = new PiecewiseConstantDecay([100, 200], [1, 0.5, 0.1]);
  assert.deepEqual([0, 100, 101, 200, 201, 10_000].map((x) => s.at(x)), [
    1,
    1,
    0.5,
    0.5,
    0.1,
    0.1,
  ]);
  assert.throws(
    () => new PiecewiseConstantDecay([1], [1]),
    /one more value than boundaries/,
  );
  assert.throws(
    () => new PiecewiseConstantDecay([2, 1], [1, 2, 3]),
    /increasing/,
  );
});

Deno.test("schedules: TriangularSchedule is numpy's interp through (0, warm-up, total)", () => {
  // np.interp(x, xp, fp), written out.
  const interp = (x: number, xp: number[], fp: number[]) => {
    if (x <= xp[0]!) return fp[0]!;
    if (x >= xp[xp.length - 1]!) return fp[fp.length - 1]!;
    const i = xp.findIndex((v) => v > x) - 1;
    return fp[i]! +
      (fp[i + 1]! - fp[i]!) * (x - xp[i]!) / (xp[i + 1]! - xp[i]!);
  };
  for (let i = 0; i < 30; i++) {
    const total = 10 + rng.int(500);
    const warm = rng.int(total);
    const fp = [rng.uniform(0, 0.5), rng.uniform(0.5, 2), rng.uniform(0, 0.1)];
    const s = new TriangularSchedule({
      initialLearningRate: fp[0]!,
      peakLearningRate: fp[1]!,
      endLearningRate: fp[2]!,
      warmupSteps: warm,
      totalSteps: total,
    });
    for (const step of [0, warm, total, rng.int(total + 20), rng.int(total)]) {
      const want = warm === 0 && step === 0
        ? fp[1]!
        : interp(step, [0, warm, total], fp);
      close(s.at(step), want, `step ${step} of ${warm}/${total}`);
    }
  }
  assert.throws(
    () =>
      new TriangularSchedule({
        initialLearningRate: 0,
        peakLearningRate: 1,
        endLearningRate: 0,
        warmupSteps: 5,
        totalSteps: 5,
      }),
    /totalSteps 5 is out of range/,
  );
});

/** Runs ReduceLROnPlateau over `values` at a constant base rate; returns the rate after each epoch. */
function plateauRates(
  cb: ReduceLROnPlateau,
  values: number[],
  base = 0.1,
): number[] {
  return values.map((v, epoch) => {
    const lr = cb.adjustLearningRate(base);
    cb.onEpochEnd(epoch, { val_loss: v, val_accuracy: v }, {
      model: null as unknown as Sequential,
      learningRate: lr,
      print: null,
    });
    return cb.adjustLearningRate(base);
  });
}

Deno.test("callbacks: ReduceLROnPlateau reduces after patience, honours min_delta, cooldown and min_lr", () => {
  // Keras: wait counts epochs without an improvement of min_delta; at
  // patience the rate is multiplied by factor and a cooldown starts.
  const rates = plateauRates(
    new ReduceLROnPlateau({ factor: 0.5, patience: 2, minDelta: 0.01 }),
    [1, 0.995, 0.99, 0.5, 0.6, 0.7, 0.8],
  );
  // 0.995 is not better by 0.01 (wait 1), 0.99 neither (wait 2: reduce),
  // 0.5 improves, then two more non-improvements reduce again.
  const want = [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025];
  rates.forEach((r, i) => close(r, want[i]!, `epoch ${i}`));
  const cool = plateauRates(
    new ReduceLROnPlateau({
      factor: 0.1,
      patience: 1,
      cooldown: 2,
      minLr: 0.002,
    }),
    [1, 2, 3, 4, 5, 6, 7],
  );
  // Reduce at epoch 1 (cooldown 2); Keras counts the cooldown down at the
  // start of each epoch end, so epoch 2 is in cooldown and epoch 3 is not:
  // it reduces to the floor 0.002 (not 0.001), never below it after.
  const coolWant = [0.1, 0.01, 0.01, 0.002, 0.002, 0.002, 0.002];
  cool.forEach((r, i) => close(r, coolWant[i]!, `cooldown epoch ${i}`));
  const max = plateauRates(
    new ReduceLROnPlateau({
      monitor: "val_accuracy",
      patience: 1,
      minDelta: 0,
    }),
    [0.5, 0.6, 0.6],
  );
  assert.deepEqual(
    max.map((r) => r < 0.1),
    [false, false, true],
    "accuracy: mode max",
  );
  // The state round-trips, infinities included.
  const a = new ReduceLROnPlateau({ patience: 3 });
  const b = new ReduceLROnPlateau({ patience: 3 });
  b.setState(JSON.parse(JSON.stringify(a.getState())));
  assert.equal(b.best, Infinity);
  assert.throws(
    () => new ReduceLROnPlateau({ factor: 1 }),
    /factor must be in \(0, 1\)/,
  );
});

Deno.test("callbacks: ModelCheckpoint with save_best_only saves the best epoch's model only", async () => {
  await tf.setBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "simdnet_mc_" });
  const model = new Sequential([new Flatten(), new Dense({ units: 2 })], {
    inputShape: [3],
    seed: 1,
  });
  try {
    const cb = new ModelCheckpoint({
      filepath: `${dir}/best`,
      monitor: "val_accuracy",
      saveBestOnly: true,
    });
    const saved: number[] = [];
    for (const [epoch, acc] of [0.5, 0.7, 0.6, 0.8, 0.8].entries()) {
      // A different model each epoch, so the saved file tells which.
      model.weights[0]!.variable.assign(tf.fill([3, 2], epoch));
      await cb.onEpochEnd(epoch, { val_accuracy: acc }, {
        model,
        learningRate: 0.1,
        print: null,
      });
      saved.push(cb.savedEpoch);
    }
    assert.deepEqual(saved, [1, 2, 2, 4, 4]);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/best/model.json`));
    assert.equal(json.format, "layers-model");
    const bin = new Float32Array(
      (await Deno.readFile(`${dir}/best/group1-shard1of1.bin`)).buffer,
    );
    assert.equal(bin[0], 3, "the weights of epoch 4 (index 3)");
    const every = new ModelCheckpoint({ filepath: `${dir}/e{epoch:02d}` });
    await every.onEpochEnd(6, {}, { model, learningRate: 0.1, print: null });
    assert.ok((await Deno.stat(`${dir}/e07/model.json`)).isFile);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
