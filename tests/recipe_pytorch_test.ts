/**
 * The PyTorch replica of the fast recipe (bench/pytorch_fast.py) is the
 * same recipe as simdnet's parts: its network, given simdnet's weights,
 * computes the same outputs in inference and training mode; its whitening
 * of the same images gives simdnet's stem; its TTA weights are tta.ts'.
 * Also the wrapper's argument split. Needs a Python with torch (Debian's
 * python3-torch); ignored without one.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { recipeArgs } from "../bench/recipe_pytorch.ts";
import { fastNet } from "../src/nn/fast_net.ts";
import { whiteningStem } from "../src/train/whitening.ts";
import { ttaViews } from "../src/train/tta.ts";
import { Rng } from "../src/util/random.ts";
import { python, torch } from "./_replica_python.ts";

await tf.setBackend("cpu");

/** Random CIFAR-shaped uint8 images, HWC. */
function images(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n * 3072);
  // Smooth in x so the covariance is far from diagonal.
  for (let i = 0; i < out.length; i += 3) {
    const base = rng.int(200);
    for (let c = 0; c < 3; c++) out[i + c] = base + rng.int(56);
  }
  return out;
}

Deno.test({
  name:
    "recipe_pytorch: the replica's network computes simdnet's outputs from simdnet's weights (inference and training mode)",
  ignore: torch === null,
  fn: async () => {
    const model = fastNet({ width: 0.125, seed: 3 });
    try {
      // Non-trivial BatchNorm state, so that inference uses it.
      const rng = new Rng(4);
      model.setWeights((await model.getWeights()).map((w) => ({
        ...w,
        values: w.name.endsWith("moving_variance")
          ? w.values.map(() => 0.5 + rng.next())
          : w.name.includes("bn")
          ? w.values.map(() => rng.uniform(-0.5, 0.5))
          : w.values,
      })));
      // In layer order (the frozen stem first), as the script walks the
      // network; `getWeights` lists trainable weights first, as Keras does.
      const byName = new Map(
        (await model.getWeights()).map((w) => [w.name, w]),
      );
      const weights = model.layers.flatMap((l) =>
        l.weights.map((w) => byName.get(w.name)!)
      );
      const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 7);
      const infer = model.apply(x, { training: false });
      const train = model.apply(x, { training: true });
      const got = await python<{ infer: number[]; train: number[] }>(
        `
import json, torch, pytorch_fast as pf
d = json.load(sys.stdin)
t = lambda w: torch.tensor(w["values"], dtype=torch.float32).reshape(w["shape"])
ws = d["weights"]
stem_k = t(ws[0]).permute(3, 2, 0, 1)
net = pf.fast_net(d["width"], stem_k, t(ws[1]))
i = 2
for m in net.modules():
    if isinstance(m, torch.nn.Conv2d) and m is not net[0]:
        m.weight.data.copy_(t(ws[i]).permute(3, 2, 0, 1)); i += 1
    elif isinstance(m, torch.nn.BatchNorm2d):
        m.bias.data.copy_(t(ws[i])); m.running_mean.copy_(t(ws[i + 1]))
        m.running_var.copy_(t(ws[i + 2])); i += 3
    elif isinstance(m, torch.nn.Linear):
        m.weight.data.copy_(t(ws[i]).T); i += 1
assert i == len(ws), (i, len(ws))
x = torch.tensor(d["x"]).reshape(2, 32, 32, 3).permute(0, 3, 1, 2)
net.eval()
with torch.no_grad():
    a = net(x)
    net.train()
    b = net(x)
json.dump({"infer": a.ravel().tolist(), "train": b.ravel().tolist()}, sys.stdout)
`,
        {
          width: 0.125,
          weights: weights.map((w) => ({
            shape: w.shape,
            values: [...w.values],
          })),
          x: [...x.dataSync()],
        },
      );
      const close = (a: ArrayLike<number>, b: number[], what: string) => {
        const scale = Math.max(...b.map(Math.abs));
        b.forEach((v, i) =>
          assert.ok(
            Math.abs(a[i]! - v) <= 1e-4 * scale,
            `${what} ${i}: ${a[i]} vs ${v}`,
          )
        );
      };
      close(infer.dataSync(), got.infer, "inference");
      close(train.dataSync(), got.train, "training mode");
      tf.dispose([x, infer, train]);
    } finally {
      model.dispose();
    }
  },
});

Deno.test({
  name:
    "recipe_pytorch: the replica's whitening of the same images is simdnet's stem; its TTA weights are tta.ts'",
  ignore: torch === null,
  fn: async () => {
    const n = 40;
    const hwc = images(n, 5);
    const stem = whiteningStem({
      images: hwc,
      labels: new Uint8Array(n),
      count: n,
      shape: [32, 32, 3],
    });
    const chw = new Array(n * 3072);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < 1024; p++) {
        for (let c = 0; c < 3; c++) {
          chw[i * 3072 + c * 1024 + p] = hwc[i * 3072 + p * 3 + c];
        }
      }
    }
    const got = await python<
      { kernel: number[]; bias: number[]; tta: number[] }
    >(
      `
import json, torch, pytorch_fast as pf
d = json.load(sys.stdin)
x = torch.tensor(d["images"], dtype=torch.uint8).reshape(-1, 3, 32, 32)
w, b = pf.whitening(x)
views = pf.tta_views(torch.zeros(1, 3, 32, 32))
json.dump({"kernel": w.permute(2, 3, 1, 0).ravel().tolist(), "bias": b.tolist(),
           "tta": [v[0] for v in views]}, sys.stdout)
`,
      { images: chw },
    );
    const scale = Math.max(...stem.kernel.map(Math.abs));
    stem.kernel.forEach((v, i) =>
      assert.ok(
        Math.abs(v - got.kernel[i]!) <= 1e-5 * scale,
        `kernel ${i}: ${v} vs ${got.kernel[i]}`,
      )
    );
    stem.bias.forEach((v, i) =>
      assert.ok(
        Math.abs(v - got.bias[i]!) <= 1e-5 * Math.max(1, Math.abs(v)),
        `bias ${i}`,
      )
    );
    const ours = ttaViews({ flip: true, translate: true }).map((v) => v.weight);
    assert.deepEqual(got.tta, ours);
  },
});

Deno.test("recipe_pytorch: the wrapper keeps --threads and passes the rest to the script", () => {
  assert.deepEqual(
    recipeArgs(["--width", "1", "--threads", "3", "--", "--seed", "2"]),
    {
      threads: 3,
      script: ["--width", "1", "--seed", "2", "--threads", "3"],
    },
  );
  assert.deepEqual(recipeArgs([]).script, ["--threads", "2"]);
  assert.throws(() => recipeArgs(["--threads", "0"]), /--threads/);
});
