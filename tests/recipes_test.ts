/**
 * The fast recipe wired into `fit` (src/train/recipes.ts): its SGD steps
 * against the PyTorch replica's own optimizer and scheduler
 * (bench/pytorch_fast.py's `make_optimizer`, run by python3 with torch), a
 * whole run on a tiny random set (steps, partial last epoch, lookahead
 * finished, history), a run interrupted after an epoch and resumed from
 * its checkpoint ending bit-identical to an uninterrupted one, and a run
 * stopped early ending on the slow weights.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import type { ImageSet } from "../src/data/image_set.ts";
import { batchNormBiases } from "../src/nn/fast_net.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { fit } from "../src/train/fit.ts";
import { makeOptimizer } from "../src/train/optimizers.ts";
import {
  type FastRecipe,
  recipeFitOptions,
  recipes,
} from "../src/train/recipes.ts";
import { Rng } from "../src/util/random.ts";
import { python, torch } from "./_replica_python.ts";

await tf.setBackend("cpu");
registerGradients();

/** `n` random 32x32 RGB images with random labels of 10 classes. */
function tinySet(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  return {
    images: new Uint8Array(n * 3072).map(() => rng.int(256)),
    labels: new Uint8Array(n).map(() => rng.int(10)),
    count: n,
    shape: [32, 32, 3],
  };
}

// The replica's optimizer and scheduler on a conv weight and a BatchNorm
// offset holding the given values, stepped with the given mean gradients
// (times the batch: the replica's loss is summed).
const TORCH_STEPS = `
import json, torch
from torch import nn
import pytorch_fast as pf
a = json.load(sys.stdin)
conv = nn.Conv2d(1, 1, 1, bias=False)
conv.weight = nn.Parameter(torch.tensor(a["w"], dtype=torch.float64))
bn = pf.batch_norm(len(a["b"]))
bn.bias = nn.Parameter(torch.tensor(a["b"], dtype=torch.float64))
model = nn.Sequential(conv, bn)
opt, sched, _ = pf.make_optimizer(model, a["batch"], a["total"])
if not a["decay"]:
    for g in opt.param_groups:
        g["weight_decay"] = 0.0
for gw, gb in zip(a["gw"], a["gb"]):
    conv.weight.grad = torch.tensor(gw, dtype=torch.float64) * a["batch"]
    bn.bias.grad = torch.tensor(gb, dtype=torch.float64) * a["batch"]
    opt.step()
    sched.step()
print(json.dumps({"w": conv.weight.tolist(), "b": bn.bias.tolist()}))
`;

/** Our recipe's optimizer on the same two weights for `steps` steps. */
async function ourSteps(
  recipe: FastRecipe,
  grads: { gw: number[][]; gb: number[][] },
  decay: boolean,
): Promise<{ w: Float32Array; b: Float32Array }> {
  const model = recipe.model;
  const beta = batchNormBiases(model)[0]!;
  const kernel = model.trainableWeights.find((w) => w.name.endsWith("kernel"))!;
  const config = decay ? recipe.optimizer : {
    ...recipe.optimizer,
    weightDecay: 0,
    paramGroups: recipe.optimizer.paramGroups!.map((g) => ({
      ...g,
      weightDecay: 0,
    })),
  };
  const opt = makeOptimizer([kernel, beta], config);
  grads.gw.forEach((gw, k) => {
    opt.learningRate = recipe.schedule.at(k);
    const g = [
      tf.tensor(gw, kernel.variable.shape),
      tf.tensor(grads.gb[k]!, beta.variable.shape),
    ];
    opt.applyGradients(g);
    tf.dispose(g);
  });
  opt.dispose();
  return {
    w: (await kernel.variable.data()) as Float32Array,
    b: (await beta.variable.data()) as Float32Array,
  };
}

Deno.test({
  name:
    "recipes: the fast recipe's SGD steps are the PyTorch replica's (same step, the BatchNorm offsets at 64x; the rate change and the decay as the module says)",
  ignore: torch === null,
  async fn() {
    const data = tinySet(64, 3);
    const recipe = recipes.fast(data, { width: 0.0625, batchSize: 8 });
    const s = recipe.settings;
    const kernel = recipe.model.trainableWeights.find((w) =>
      w.name.endsWith("kernel")
    )!;
    const beta = batchNormBiases(recipe.model)[0]!;
    const w0 = Array.from(await kernel.variable.data());
    const b0 = Array.from(await beta.variable.data());
    const rng = new Rng(8);
    const draw = (n: number) =>
      Array.from({ length: n }, () => rng.uniform(-1, 1));
    const grads = {
      gw: [draw(w0.length), draw(w0.length)],
      gb: [draw(b0.length), draw(b0.length)],
    };
    const input = {
      w: w0,
      b: b0,
      batch: recipe.batchSize,
      total: recipe.totalSteps,
      ...grads,
    };
    // Without decay: one step is the replica's exactly; the second differs
    // by Keras' velocity keeping step 1's rate: mu^2 (lr2 - lr1) g1.
    const torchNoDecay = await python<{ w: number[]; b: number[] }>(
      TORCH_STEPS,
      { ...input, decay: false },
    );
    const ours = await ourSteps(recipe, grads, false);
    const mu = s.momentum;
    const lr1 = recipe.schedule.at(0);
    const lr2 = recipe.schedule.at(1);
    assert.ok(lr2 > lr1, "the warm-up must change the rate between steps");
    const flat = (v: unknown): number[] =>
      Array.isArray(v) ? v.flatMap(flat) : [v as number];
    const check = (
      got: Float32Array,
      want: number[],
      g1: number[],
      mult: number,
    ) => {
      want.forEach((t, i) => {
        const predicted = t + mu * mu * (lr2 - lr1) * mult * g1[i]!;
        assert.ok(
          Math.abs(got[i]! - predicted) < 2e-6 * (1 + Math.abs(t)),
          `element ${i}: ours ${got[i]}, torch ${t}, predicted ${predicted}`,
        );
      });
    };
    check(ours.w, flat(torchNoDecay.w), grads.gw[0]!, 1);
    check(ours.b, torchNoDecay.b, grads.gb[0]!, 64);
    // The term is not negligible: the check above could tell them apart.
    const gap = mu * mu * (lr2 - lr1) * 64 *
      Math.max(...grads.gb[0]!.map(Math.abs));
    assert.ok(gap > 1e-4, `gap ${gap}`);
    recipe.model.dispose();
  },
});

Deno.test({
  name:
    "recipes: the decoupled decay shrinks a weight per step as the replica's L2 decay through the momentum settles to",
  ignore: torch === null,
  async fn() {
    const data = tinySet(64, 4);
    const recipe = recipes.fast(data, { width: 0.0625, batchSize: 8 });
    // Zero gradients at the peak rate: the replica's weights settle to a
    // geometric decay; ours shrink by the same rate each step.
    const shrink = await python<{ w: number; b: number }>(
      `
import json, torch
from torch import nn
import pytorch_fast as pf
a = json.load(sys.stdin)
conv = nn.Conv2d(1, 1, 1, bias=False)
conv.weight = nn.Parameter(torch.ones(1, 1, 1, 1, dtype=torch.float64))
bn = pf.batch_norm(1)
bn.bias = nn.Parameter(torch.ones(1, dtype=torch.float64))
opt, _, _ = pf.make_optimizer(nn.Sequential(conv, bn), a["batch"], 10)
for g in opt.param_groups:
    g["lr"] = g["initial_lr"]  # schedule factor 1: the peak rate
for _ in range(400):
    conv.weight.grad = torch.zeros_like(conv.weight)
    bn.bias.grad = torch.zeros_like(bn.bias)
    before = (conv.weight.item(), bn.bias.item())
    opt.step()
print(json.dumps({"w": 1 - conv.weight.item() / before[0],
                  "b": 1 - bn.bias.item() / before[1]}))
`,
      { batch: recipe.batchSize },
    );
    const d = recipe.settings.decoupledDecayPerStep;
    for (const got of [shrink.w, shrink.b]) {
      assert.ok(Math.abs(got - d) < 1e-9, `torch ${got}, ours ${d}`);
    }
    // And ours: one step at the peak rate with a zero gradient.
    const beta = batchNormBiases(recipe.model)[0]!;
    const kernel = recipe.model.trainableWeights[0]!;
    const opt = makeOptimizer([kernel, beta], recipe.optimizer);
    opt.learningRate = recipe.settings.learningRate;
    const before = [
      (await kernel.variable.data())[0]!,
      (await beta.variable.data())[0]!,
    ];
    const zeros = [tf.zerosLike(kernel.variable), tf.zerosLike(beta.variable)];
    opt.applyGradients(zeros);
    tf.dispose(zeros);
    const after = [
      (await kernel.variable.data())[0]!,
      (await beta.variable.data())[0]!,
    ];
    before.forEach((b, i) => {
      if (b === 0) return;
      const rate = 1 - after[i]! / b;
      assert.ok(Math.abs(rate - d) < 1e-6, `weight ${i}: ${rate} vs ${d}`);
    });
    opt.dispose();
    recipe.model.dispose();
  },
});

/** Trains the tiny recipe; `stopAfter` throws at that epoch's end. */
async function runRecipe(
  data: ImageSet,
  options: { checkpoint?: string; resume?: boolean; stopAfter?: number } = {},
) {
  const recipe = recipes.fast(data, {
    width: 0.0625,
    batchSize: 16,
    epochs: 2.5,
    seed: 7,
  });
  const history = await fit(recipe.model, data, {
    ...recipeFitOptions(recipe),
    verbose: 0,
    checkpoint: options.checkpoint,
    resume: options.resume,
    onEpochEnd: (epoch) => {
      if (epoch === options.stopAfter) throw new Error("interrupted");
    },
  });
  const weights = (await recipe.model.getWeights()).map((w) => w.values);
  recipe.model.dispose();
  return { recipe, history, weights };
}

Deno.test("recipes: a tiny fast-recipe run takes 2.5 epochs of whole batches, ends on the slow weights and logs each epoch's rate", async () => {
  const data = tinySet(40, 5);
  const dir = await Deno.makeTempDir({ prefix: "simdnet_recipe_" });
  try {
    const ckpt = `${dir}/run.ckpt`;
    const { recipe, history } = await runRecipe(data, { checkpoint: ckpt });
    // 40 images in batches of 16: 2 whole batches an epoch, 5 steps.
    assert.equal(recipe.totalSteps, 5);
    assert.equal(recipe.epochs, 3);
    assert.equal(history.loss.length, 3);
    assert.ok(history.loss.every(Number.isFinite));
    const state = await loadCheckpoint(ckpt);
    assert.equal(state.step, 5);
    assert.equal(state.optimizer.iterations, 5);
    assert.equal(state.lookahead?.every, 5);
    // The schedule's rate of each epoch's last step (steps 1, 3, 4).
    const expected = [1, 3, 4].map((k) => recipe.schedule.at(k));
    history.learning_rate.forEach((lr, i) =>
      assert.ok(Math.abs(lr - expected[i]!) < 1e-12, `${lr} ${expected[i]}`)
    );
    // finish(): the model's weights are the slow ones.
    state.weights.forEach((w, i) => {
      assert.deepEqual(w.values, state.lookahead!.slow[i]!.values, w.name);
    });
    assert.match(String(state.settings.batches), /flip-translate/);
    assert.equal(state.settings.totalSteps, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recipes: a fast-recipe run interrupted after an epoch and resumed ends bit-identical to an uninterrupted one", async () => {
  const data = tinySet(48, 6);
  const dir = await Deno.makeTempDir({ prefix: "simdnet_recipe_" });
  try {
    const straight = await runRecipe(data);
    const ckpt = `${dir}/run.ckpt`;
    await assert.rejects(
      runRecipe(data, { checkpoint: ckpt, stopAfter: 1 }),
      /interrupted/,
    );
    const saved = await loadCheckpoint(ckpt);
    assert.equal(saved.epoch, 2);
    // Mid-run the slow weights differ from the model's (lookahead ran at 5).
    assert.ok(
      saved.weights.some((w, i) =>
        w.values.some((v, j) => v !== saved.lookahead!.slow[i]!.values[j])
      ),
    );
    const resumed = await runRecipe(data, { checkpoint: ckpt, resume: true });
    assert.equal(resumed.weights.length, straight.weights.length);
    resumed.weights.forEach((w, i) => assert.deepEqual(w, straight.weights[i]));
    assert.deepEqual(resumed.history, straight.history);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recipes: a run with lookahead that stops early ends on the slow weights", async () => {
  const data = tinySet(48, 9);
  const dir = await Deno.makeTempDir({ prefix: "simdnet_recipe_" });
  try {
    const recipe = recipes.fast(data, { width: 0.0625, batchSize: 16 });
    const ckpt = `${dir}/run.ckpt`;
    // No epoch improves the loss by 100: the second one stops the run,
    // long before the recipe's last step would finish the lookahead.
    const history = await fit(recipe.model, data, {
      ...recipeFitOptions(recipe),
      verbose: 0,
      checkpoint: ckpt,
      earlyStopping: { monitor: "loss", patience: 0, minDelta: 100 },
    });
    assert.ok(history.loss.length < recipe.epochs, `${history.loss.length}`);
    const state = await loadCheckpoint(ckpt);
    assert.ok(state.stoppedEarly);
    assert.ok(state.step < recipe.totalSteps);
    state.weights.forEach((w, i) =>
      assert.deepEqual(w.values, state.lookahead!.slow[i]!.values, w.name)
    );
    recipe.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
