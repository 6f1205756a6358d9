/**
 * The fast recipe's network (src/nn/fast_net.ts) and its initialisers
 * (src/nn/dirac.ts): shapes and parameter counts by formula, the dirac
 * initialisation by its definition (identity channels pass the input
 * through), PyTorch's default uniform bounds, and the whole network against
 * `@tensorflow/tfjs-layers` 4.22 loading simdnet's model.json (outputs, and
 * gradients in training mode with tfjs' own gradient configs), simdnet on
 * cpu and wasm at 1 and 2 threads; the round trip back into simdnet.
 */

import assert from "node:assert/strict";
import { Conv2D } from "../src/nn/conv2d.ts";
import { diracInit, torchUniform } from "../src/nn/dirac.ts";
import {
  batchNormBiases,
  fastNet,
  fastNetWidths,
  setStem,
} from "../src/nn/fast_net.ts";
import { modelFromArtifacts, modelToArtifacts } from "../src/nn/model_io.ts";
import { modelOutput, probabilities } from "../src/nn/model_output.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { initRuntime } from "../src/runtime/init.ts";
import {
  onEachTarget,
  randomValues,
  registeredIsOurs,
  relErr,
  rngFor,
  tf,
  tfl,
  withTfjsGradients,
} from "./_layer_reference.ts";

await initRuntime({ backend: "wasm", threads: 2 });

/** A stem of random values, as `whiteningStem` would give for RGB. */
function randomStem(seed: number) {
  const rng = rngFor(seed);
  return {
    kernel: randomValues(rng, 2 * 2 * 3 * 24),
    bias: randomValues(rng, 24),
  };
}

Deno.test("fast_net: layer output shapes and parameter counts by formula at widths 1 and 0.5", () => {
  for (const width of [1, 0.5]) {
    const [a, b, c] = fastNetWidths(width);
    assert.deepEqual([a, b, c], width === 1 ? [64, 256, 256] : [32, 128, 128]);
    const model = fastNet({ width });
    try {
      assert.deepEqual(model.outputShapes.map((s) => s.join("x")), [
        "31x31x24",
        "31x31x24",
        `31x31x${a}`,
        `15x15x${a}`,
        `15x15x${a}`,
        `15x15x${a}`,
        `15x15x${a}`,
        `15x15x${a}`,
        `15x15x${a}`,
        `15x15x${b}`,
        `7x7x${b}`,
        `7x7x${b}`,
        `7x7x${b}`,
        `7x7x${b}`,
        `7x7x${b}`,
        `7x7x${b}`,
        `7x7x${c}`,
        `3x3x${c}`,
        `3x3x${c}`,
        `3x3x${c}`,
        `3x3x${c}`,
        `3x3x${c}`,
        `3x3x${c}`,
        `1x1x${c}`,
        `${c}`,
        "10",
        "10",
      ]);
      const conv = (i: number, o: number) => 9 * i * o;
      const stem = 2 * 2 * 3 * 24 + 24;
      const bn = (n: number) => 3 * n; // beta, moving mean, moving variance
      const trainable = conv(24, a) + conv(a, a) + conv(a, b) + conv(b, b) +
        conv(b, c) + conv(c, c) + 2 * (a + b + c) + c * 10;
      const total = trainable - 2 * (a + b + c) + stem +
        2 * (bn(a) + bn(b) + bn(c));
      assert.equal(model.countParams(), total);
      const count = (ws: { variable: tf.Variable }[]) =>
        ws.reduce((n, w) => n + w.variable.size, 0);
      assert.equal(count(model.trainableWeights), trainable);
      assert.equal(
        model.frozenPrefix,
        2,
        "the stem and its GELU run outside the tape",
      );
      const betas = batchNormBiases(model);
      assert.deepEqual(betas.map((w) => w.variable.size), [a, a, b, b, c, c]);
      assert.ok(betas.every((w) => w.name.endsWith("/beta")));
    } finally {
      model.dispose();
    }
  }
  assert.throws(() => fastNetWidths(0), /width must be > 0/);
});

Deno.test("dirac: a dirac-initialised 3x3 'same' conv passes its input channels through; the other filters keep their values", async () => {
  await tf.setBackend("cpu");
  const rng = rngFor(5);
  for (const [h, w, cin, cout] of [[6, 7, 3, 5], [4, 4, 4, 4], [5, 3, 2, 7]]) {
    const conv = new Conv2D({
      filters: cout!,
      kernelSize: 3,
      padding: "same",
      useBias: false,
    });
    const model = new Sequential([conv], {
      inputShape: [h!, w!, cin!],
      seed: 3,
    });
    const shape = [3, 3, cin!, cout!];
    const before = randomValues(rng, 9 * cin! * cout!);
    const values = diracInit(before.slice(), shape);
    model.setWeights([{ name: conv.weights[0]!.name, shape, values }]);
    const x = tf.tensor4d(randomValues(rng, 2 * h! * w! * cin!), [
      2,
      h!,
      w!,
      cin!,
    ]);
    const y = model.apply(x);
    const out = y.dataSync();
    const inp = x.dataSync();
    for (let p = 0; p < 2 * h! * w!; p++) {
      for (let ch = 0; ch < cin!; ch++) {
        assert.equal(
          out[p * cout! + ch],
          inp[p * cin! + ch],
          `channel ${ch} passes through`,
        );
      }
    }
    for (let i = 0; i < values.length; i++) {
      if (i % cout! >= cin!) {
        assert.equal(values[i], before[i], "extra filters unchanged");
      }
    }
    tf.dispose([x, y]);
    model.dispose();
  }
  assert.throws(
    () => diracInit(new Float32Array(3), [3, 3, 1, 1]),
    /kh, kw, in, out/,
  );
});

Deno.test("fast_net: 3x3 kernels start as partial diracs, the stem as given; torchUniform stays within 1/sqrt(fan_in)", () => {
  const stem = randomStem(8);
  const model = fastNet({ width: 0.25, seed: 4, stem });
  try {
    const whiten = model.layers[0]!;
    assert.equal(whiten.trainable, false);
    assert.deepEqual(whiten.weights[0]!.variable.dataSync(), stem.kernel);
    assert.deepEqual(whiten.weights[1]!.variable.dataSync(), stem.bias);
    for (const layer of model.layers.slice(1)) {
      if (!(layer instanceof Conv2D)) continue;
      const k = layer.weights[0]!.variable;
      const [, , cin, cout] = k.shape as number[];
      const v = k.dataSync();
      for (let i = 0; i < v.length; i++) {
        const o = i % cout!;
        const ch = Math.floor(i / cout!) % cin!;
        const tap = Math.floor(i / (cout! * cin!));
        if (o < cin!) assert.equal(v[i], tap === 4 && ch === o ? 1 : 0);
        else assert.ok(Math.abs(v[i]!) <= 1 / Math.sqrt(9 * cin!));
      }
    }
    assert.throws(
      () => setStem(model, { kernel: new Float32Array(3), bias: stem.bias }),
      /whiten\/kernel has 288 values/,
    );
  } finally {
    model.dispose();
  }
  const init = torchUniform(rngFor(1));
  const v = init([3, 3, 16, 32]);
  const bound = 1 / Math.sqrt(144);
  assert.ok(v.every((x) => Math.abs(x) <= bound));
  const variance = v.reduce((s, x) => s + x * x, 0) / v.length;
  assert.ok(
    Math.abs(variance / (bound * bound / 3) - 1) < 0.05,
    `variance ${variance}`,
  );
});

/** Outputs and gradients of `sum(model(x) * r)` in training mode. */
function ourRun(x: Float32Array, r: Float32Array, shape: number[]) {
  const model = fastNet({ width: 0.125, seed: 9, stem: randomStem(2) });
  try {
    const xt = tf.tensor(x, shape);
    const rt = tf.tensor(r, [shape[0]!, 10]);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(tf.mul(model.apply(xt, { training: true }), rt)) as tf.Scalar,
      model.trainableVariables,
    );
    const y = tf.tidy(() => model.apply(xt, { training: false }));
    const out = {
      loss: value.dataSync()[0]!,
      y: y.dataSync().slice(),
      dw: model.trainableVariables.map((v) =>
        grads[v.name]!.dataSync().slice()
      ),
    };
    tf.dispose([xt, rt, value, y, ...Object.values(grads)]);
    return out;
  } finally {
    model.dispose();
  }
}

Deno.test("fast_net: tfjs-layers loads its model.json and agrees on outputs and training-mode gradients; simdnet on cpu and wasm at 1 and 2 threads", async () => {
  await tf.setBackend("cpu");
  for (const k of ["FusedBatchNorm", "Erf", "Conv2D"]) {
    assert.ok(registeredIsOurs(k), `simdnet's ${k} gradient is in force`);
  }
  const rng = rngFor(21);
  const shape = [3, 32, 32, 3];
  const x = randomValues(rng, 3 * 32 * 32 * 3, 0, 1);
  const r = randomValues(rng, 30);
  const model = fastNet({ width: 0.125, seed: 9, stem: randomStem(2) });
  const { json, weights } = await modelToArtifacts(model);
  model.dispose();
  const theirs = await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json
      .modelTopology as unknown as tf.io.ModelJSON["modelTopology"],
    weightSpecs: json.weightsManifest[0]!
      .weights as tf.io.WeightsManifestEntry[],
    weightData: weights.slice().buffer,
  }));
  // tfjs-layers 4.22 loads and runs `scale: false` in inference, but its
  // training path reads `gamma` unconditionally and throws; a constant
  // gamma of ones is the same math (the reference still has no such
  // trainable weight).
  for (const layer of theirs.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const dim = layer.outputShape.at(-1) as number;
    Object.assign(layer, { gamma: { read: () => tf.ones([dim]) } });
  }
  const xt = tf.tensor(x, shape);
  const rt = tf.tensor(r, [3, 10]);
  const want = withTfjsGradients(() => {
    const vars = theirs.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(
          tf.mul(theirs.apply(xt, { training: true }) as tf.Tensor, rt),
        ) as tf.Scalar,
      vars,
    );
    return {
      loss: value.dataSync()[0]!,
      dw: vars.map((v) => grads[v.name]!.dataSync().slice()),
    };
  });
  const wantY = (theirs.predict(xt) as tf.Tensor).dataSync().slice();
  assert.equal(theirs.layers[0]!.trainable, false, "the stem loads frozen");
  assert.equal(want.dw.length, 6 + 6 + 1, "conv kernels, BN betas, head");
  want.dw.forEach((g, i) =>
    assert.ok(g.some((v) => v !== 0), `reference gradient ${i} is not zero`)
  );
  await onEachTarget((label) => {
    const got = ourRun(x, r, shape);
    assert.ok(relErr(got.y, wantY) < 1e-4, `${label}: inference outputs`);
    assert.ok(
      Math.abs(got.loss - want.loss) <= 1e-4 * Math.abs(want.loss) + 1e-5,
      `${label}: training loss ${got.loss} vs ${want.loss}`,
    );
    assert.equal(got.dw.length, want.dw.length);
    got.dw.forEach((g, i) => {
      const e = relErr(g, want.dw[i]!);
      assert.ok(e < 2e-3, `${label}: gradient ${i} differs by ${e}`);
    });
  });
  tf.dispose([xt, rt]);
  theirs.dispose();
});

Deno.test("fast_net: model.json round trip keeps the frozen stem, BatchNormalization settings and outputs", async () => {
  await tf.setBackend("cpu");
  const model = fastNet({ width: 0.125, seed: 1, stem: randomStem(3) });
  const { json, weights } = await modelToArtifacts(model);
  const back = modelFromArtifacts(json, weights);
  try {
    assert.equal(back.layers[0]!.trainable, false);
    assert.deepEqual(
      back.layers.map((l) => l.name),
      model.layers.map((l) => l.name),
    );
    const bn = back.layers.find((l) => l.className === "BatchNormalization")!
      .config();
    assert.equal(bn.momentum, 0.6);
    assert.equal(bn.epsilon, 1e-12);
    assert.equal(bn.scale, false);
    assert.equal(back.layers.at(-1)!.config().scale, 1 / 9);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 5);
    const a = model.apply(x), b = back.apply(x);
    assert.deepEqual(a.dataSync(), b.dataSync());
    // The classifier, report and evaluation take softmax of the logits once.
    assert.equal(modelOutput(back).kind, "logits");
    const p = probabilities(back, x);
    const want = tf.softmax(a);
    assert.ok(relErr(p.dataSync(), want.dataSync()) < 1e-6);
    tf.dispose([x, a, b, p, want]);
  } finally {
    model.dispose();
    back.dispose();
  }
});
