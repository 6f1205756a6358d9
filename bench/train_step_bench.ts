// A training step of each network, PyTorch beside simdnet in the same run.
// Seed CNN (batch 64: forward with dropout, backward, Adam) as `fit` runs
// it, on simdnet's wasm backend with every kernel thread (the baseline) and
// with one, and on the tfjs `cpu` backend; the fast recipe's network (width
// 0.5, batch 512, bench/_fast_step.ts) on every thread. PyTorch (Debian's,
// tuned as bench/_pytorch.ts says) runs the same networks on as many
// threads in a `bench:compare` worker process, one step per request (the
// round trip is well under a millisecond; its fast step includes its
// augmentation, about 1% of it). Without PyTorch those rows are ignored.
// For interleaved rounds and the other systems use `deno task bench:compare`.
//   deno task bench   (or: deno bench --allow-read --allow-env --allow-run --allow-sys=cpus,loadavg bench/train_step_bench.ts)
import * as tf from "@tensorflow/tfjs-core";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { Adam } from "../src/train/adam.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";
import { createRng } from "../src/util/random.ts";
import { fastStep } from "./_fast_step.ts";
import { startWorker, type WorkerProcess } from "./_harness.ts";
import { findPythonTorch } from "./_pytorch.ts";
import { FAST_BENCH_WIDTH, type Task } from "./_protocol.ts";
import { pytorchWorker } from "./_workers.ts";

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
const fast = fastStep(FAST_BENCH_WIDTH, 512);
await fast.step();
const cpuStep = await setup("cpu");
const pytorch = await startPytorch(info.threads);

/** PyTorch's worker on `threads` threads, or null (and why, on stderr). */
async function startPytorch(threads: number): Promise<WorkerProcess | null> {
  const torch = await findPythonTorch();
  if (!torch) {
    console.error("PyTorch rows ignored: no python3 with torch");
    return null;
  }
  try {
    return await startWorker(pytorchWorker(torch.python, threads));
  } catch (err) {
    console.error(`PyTorch rows ignored: ${(err as Error).message}`);
    return null;
  }
}

/** PyTorch's row in `group`: one `task` step of `batch` per iteration. */
async function pytorchBench(
  group: string,
  task: Task,
  batch: number,
  n: number,
): Promise<void> {
  await pytorch?.request(task, batch, 2); // oneDNN picks its kernels
  Deno.bench({
    name: `pytorch, ${info.threads} threads`,
    group,
    ignore: pytorch === null,
    n,
    warmup: 1,
  }, async (b) => {
    b.start();
    await pytorch!.request(task, batch, 1);
    b.end();
  });
}

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

await pytorchBench("training step, batch 64", "train", 64, 40);

const FAST_GROUP =
  `fast network (width ${FAST_BENCH_WIDTH}) training step, batch 512`;
Deno.bench({
  name: `simdnet wasm, ${info.threads} threads`,
  group: FAST_GROUP,
  baseline: true,
  n: 8,
  warmup: 1,
}, async (b) => {
  await tf.setBackend("wasm");
  b.start();
  await fast.step();
  b.end();
});
await pytorchBench(FAST_GROUP, "train-fast", 512, 8);

// Closing stdin ends the worker.
globalThis.addEventListener("unload", () => void pytorch?.close());

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
