/**
 * The fast recipe's network (src/nn/fast_net.ts) and its initialisers
 * (src/nn/dirac.ts): shapes and parameter counts by formula, the dirac
 * initialisation by its definition (identity channels pass the input
 * through), PyTorch's default uniform bounds, and the whole network against
 * `@tensorflow/tfjs-layers` 4.22 loading simdnet's model.json in the
 * reference child (`_tfl_child.ts`: outputs, and gradients in training mode
 * with tfjs' own gradient configs), simdnet on cpu and wasm at 1 and 2
 * threads; the round trip back into simdnet, from simdnet's file and from
 * what tfjs-layers writes of it.
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
import { probeWebGpu, startWebGpu, stopWebGpu } from "../src/runtime/webgpu.ts";
import {
  onEachTarget,
  randomValues,
  relErr,
  rngFor,
  tf,
} from "./_layer_run.ts";
import {
  readReference,
  TFJS_ONLY_GRADIENTS,
  TflReference,
} from "./_tfl_reference.ts";

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

/**
 * Inference outputs of a fresh fastNet, then the gradients of
 * `sum(model(x) * r)` in training mode. Read with data(): webgpu cannot
 * read synchronously.
 */
async function ourRun(x: Float32Array, r: Float32Array, shape: number[]) {
  const model = fastNet({ width: 0.125, seed: 9, stem: randomStem(2) });
  try {
    const xt = tf.variable(tf.tensor(x, shape));
    const rt = tf.tensor(r, [shape[0]!, 10]);
    // Inference first: the training pass moves the moving statistics, and
    // the child's outputs are of the file as saved.
    const y = tf.tidy(() => model.apply(xt, { training: false }));
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(tf.mul(model.apply(xt, { training: true }), rt)) as tf.Scalar,
      [...model.trainableVariables, xt],
    );
    const read = async (t: tf.Tensor) => (await t.data()) as Float32Array;
    const out = {
      loss: (await read(value))[0]!,
      y: await read(y),
      names: model.trainableWeights.map((w) => w.name),
      dw: await Promise.all(
        model.trainableVariables.map((v) => read(grads[v.name]!)),
      ),
      dx: await read(grads[xt.name]!),
    };
    tf.dispose([xt, rt, value, y, ...Object.values(grads)]);
    return out;
  } finally {
    model.dispose();
  }
}

/**
 * tfjs-layers' run of simdnet's fastNet file in the reference child: the
 * batch `x`, the gradients of `sum(y * r)` in training mode, and what
 * tfjs-layers writes back of the file (`resaved`).
 */
async function tflRun(x: Float32Array, r: Float32Array, batch: number) {
  const model = fastNet({ width: 0.125, seed: 9, stem: randomStem(2) });
  const { json, weights } = await modelToArtifacts(model);
  model.dispose();
  json.weightsManifest[0]!.paths = ["weights.bin"];
  const dir = await Deno.makeTempDir({ prefix: "simdnet_fast_net_" });
  const child = TflReference.start();
  try {
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
    await Deno.writeFile(`${dir}/weights.bin`, weights);
    await Deno.writeFile(`${dir}/x.bin`, new Uint8Array(x.slice().buffer));
    // The one-hot labels the child reads beside x; unused by sum(y * r).
    await Deno.writeFile(`${dir}/y.bin`, new Uint8Array(r.length * 4));
    await Deno.writeFile(`${dir}/r.bin`, new Uint8Array(r.slice().buffer));
    await child.run({
      // A module without side effects: the job has no specs or ops.
      module: new URL("./_tfl_reference.ts", import.meta.url).href,
      specs: [],
      items: [{
        dir,
        seed: 0,
        batch,
        inputFrom: dir,
        lossWeights: true,
        resave: true,
        onesGammaForUnscaledBatchNorm: true,
      }],
    });
    const ref = await readReference(dir);
    const resaved = {
      json: JSON.parse(await Deno.readTextFile(`${dir}/resaved/model.json`)),
      weights: await Deno.readFile(`${dir}/resaved/weights.bin`),
    };
    return { ref, resaved };
  } finally {
    await child.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The batch, the loss weights and tfjs-layers' results, computed once. */
const reference = (() => {
  let once: ReturnType<typeof compute> | undefined;
  async function compute() {
    const rng = rngFor(21);
    const shape = [3, 32, 32, 3];
    const x = randomValues(rng, 3 * 32 * 32 * 3, 0, 1);
    const r = randomValues(rng, 30);
    const { ref, resaved } = await tflRun(x, r, shape[0]!);
    const want = {
      loss: ref.info.loss,
      y: ref.out,
      names: ref.info.trainable.map((w) => w.name),
      dw: ref.info.trainable.map((w) => ref.grads.get(w.name)!),
      dx: ref.grads.get("input")!,
    };
    return { x, r, shape, ref, resaved, want };
  }
  return () => (once ??= compute());
})();

/**
 * Asserts simdnet's run on `label` agrees with tfjs-layers'. The
 * tolerances are the old in-process test's; measured worst (2026-12-02,
 * cpu, wasm 1/2, webgpu on llvmpipe): outputs 1.2e-6, loss 5.7e-6, weight
 * gradients 1.5e-5, input gradient 2.2e-6 (relative to the peak).
 */
async function agrees(label: string): Promise<void> {
  const { x, r, shape, want } = await reference();
  const got = await ourRun(x, r, shape);
  assert.deepEqual(got.names, want.names, `${label}: trainable weights`);
  const ey = relErr(got.y, want.y);
  assert.ok(ey < 1e-4, `${label}: inference outputs differ by ${ey}`);
  assert.ok(
    Math.abs(got.loss - want.loss) <= 1e-4 * Math.abs(want.loss) + 1e-5,
    `${label}: training loss ${got.loss} vs ${want.loss}`,
  );
  got.dw.forEach((g, i) => {
    const e = relErr(g, want.dw[i]!);
    assert.ok(e < 2e-3, `${label}: gradient ${i} differs by ${e}`);
  });
  const e = relErr(got.dx, want.dx);
  assert.ok(e < 2e-3, `${label}: input gradient differs by ${e}`);
}

Deno.test("fast_net: tfjs-layers loads its model.json and agrees on outputs and training-mode gradients; simdnet on cpu and wasm at 1 and 2 threads", async () => {
  // tfjs-layers runs only in the child: simdnet's configs are the ones here.
  for (const k of ["FusedBatchNorm", "Erf", "Conv2D"]) {
    assert.ok(tf.getGradient(k), `simdnet's ${k} gradient is registered`);
  }
  for (const k of TFJS_ONLY_GRADIENTS) {
    assert.equal(tf.getGradient(k), undefined, `tfjs' ${k} gradient is here`);
  }
  const { x, shape, ref, resaved, want } = await reference();
  assert.deepEqual(ref.x, x, "the child ran on the given batch");
  assert.equal(
    ref.info.configs[0]!.trainable,
    false,
    "the stem loads frozen",
  );
  assert.equal(want.dw.length, 6 + 6 + 1, "conv kernels, BN betas, head");
  assert.ok(
    want.names.every((n) => !n.startsWith("whiten/")),
    "the stem's weights are not trainable in tfjs-layers",
  );
  [...want.dw, want.dx].forEach((g, i) =>
    assert.ok(g.some((v) => v !== 0), `reference gradient ${i} is not zero`)
  );
  await onEachTarget(agrees);
  // What tfjs-layers writes back loads in simdnet, frozen stem and outputs.
  await tf.setBackend("cpu");
  const back = modelFromArtifacts(resaved.json, resaved.weights);
  try {
    assert.equal(back.layers[0]!.trainable, false, "resaved stem frozen");
    const xt = tf.tensor(x, shape);
    const y = back.apply(xt);
    assert.ok(relErr(y.dataSync(), ref.out) < 1e-5, "resaved outputs");
    tf.dispose([xt, y]);
  } finally {
    back.dispose();
  }
});

const gpu = await probeWebGpu();
Deno.test({
  name: `fast_net: simdnet on webgpu agrees with tfjs-layers too (${
    gpu.available ? gpu.description : `skipped: ${gpu.reason}`
  })`,
  ignore: !gpu.available,
  fn: async () => {
    await reference(); // the child's run before the device starts
    await startWebGpu({ allowSoftware: true });
    const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
    // Small tensors would otherwise run on tfjs' cpu fallback.
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    try {
      assert.equal(tf.getBackend(), "webgpu");
      await agrees("webgpu");
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", forward);
      stopWebGpu();
      await tf.setBackend("wasm");
    }
  },
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
