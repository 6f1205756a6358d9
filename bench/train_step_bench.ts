// One training step of the seed CNN (batch 64: forward with dropout,
// backward, Adam) as `fit` runs it, on simdnet's wasm backend with every
// kernel thread (the baseline) and with one, and on the tfjs `cpu` backend.
// Images/s = 64 / time per iteration. For interleaved runs against PyTorch
// use `deno task bench:step`.
//   deno task bench   (or: deno bench --allow-read --allow-env bench/train_step_bench.ts)
import * as tf from "@tensorflow/tfjs-core";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { Adam } from "../src/train/adam.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";
import { createRng } from "../src/util/random.ts";

const info = await initRuntime({ backend: "wasm" });
const BATCH = 64;
const rng = createRng(3);
const pixels = Float32Array.from(
  { length: BATCH * 32 * 32 * 3 },
  () => rng.next(),
);
const labels = Array.from({ length: BATCH }, (_, i) => i % 10);

/** A model, its optimiser and a batch, all on `backend`. */
async function setup(backend: string) {
  await tf.setBackend(backend);
  const model = cifarCnn({ seed: 0 });
  const optimizer = new Adam(model.weights);
  const x = tf.tensor4d(pixels, [BATCH, 32, 32, 3]);
  const y = tf.oneHot(tf.tensor1d(labels, "int32"), 10) as tf.Tensor2D;
  let seed = 0;
  return async () => {
    const { value, grads } = tf.variableGrads(
      () =>
        softmaxCrossEntropy(
          model.apply(x, {
            training: true,
            logits: true,
            nextSeed: () => seed++,
          }),
          y,
        ),
      model.trainableVariables,
    );
    await value.data();
    optimizer.applyGradients(
      model.trainableVariables.map((v) => grads[v.name]!),
    );
    tf.dispose([value, ...Object.values(grads)]);
  };
}

const wasmStep = await setup("wasm");
await wasmStep(); // the first step compiles and sizes the heap
const cpuStep = await setup("cpu");

Deno.bench({
  name: `simdnet wasm, ${info.threads} threads`,
  group: "training step, batch 64",
  baseline: true,
}, async (b) => {
  await tf.setBackend("wasm");
  setKernelThreads(info.threads);
  b.start();
  await wasmStep();
  b.end();
});

Deno.bench({
  name: "simdnet wasm, 1 thread",
  group: "training step, batch 64",
}, async (b) => {
  await tf.setBackend("wasm");
  setKernelThreads(1);
  b.start();
  await wasmStep();
  b.end();
  setKernelThreads(info.threads);
});

// About 9 s a step: a few iterations say enough.
Deno.bench({
  name: "tfjs cpu",
  group: "training step, batch 64",
  n: 2,
  warmup: 1,
}, async (b) => {
  await tf.setBackend("cpu");
  b.start();
  await cpuStep();
  b.end();
});
