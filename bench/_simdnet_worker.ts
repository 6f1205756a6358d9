/**
 * Benchmark worker: simdnet's seed CNN on one backend with a fixed thread
 * count (the wasm thread count cannot change within a process, hence one
 * process per configuration). Speaks the protocol of bench/_protocol.ts;
 * with `--task` it measures once and prints one JSON line instead.
 *
 * Training steps are the trainer's own: `fit` runs them (batch 64, Adam,
 * no augmentation, dropout on, uint8 to float conversion of each batch
 * included), and the time is taken between the ends of its first and last
 * step, so `fit`'s set-up is not counted. `train-fast` trains the fast
 * recipe's network (width 0.5) with the recipe's `fit` options (batch
 * source, SGD, parameter group, schedule, label smoothing) but no
 * lookahead, as bench/pytorch_cnn.py does.
 *
 *     deno run --allow-read --allow-env bench/_simdnet_worker.ts --threads 2 --task train
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime, type RuntimeInfo } from "../src/runtime/init.ts";
import { probeWebGpu } from "../src/runtime/webgpu.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import { fit } from "../src/train/fit.ts";
import { fastAugmentation } from "../src/train/fast_recipe.ts";
import {
  augmentationSource,
  type FastRecipe,
  recipeFitOptions,
  recipes,
} from "../src/train/recipes.ts";
import {
  FAST_BENCH_WIDTH,
  measureOnce,
  send,
  serveRequests,
  type Task,
  TASKS,
} from "./_protocol.ts";
import { createRng } from "../src/util/random.ts";
import { noiseBytes } from "./_noise.ts";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    threads: { type: "string", default: "1" },
    "allow-software-gpu": { type: "boolean", default: false },
    task: { type: "string" },
    batch: { type: "string", default: "64" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
  },
});

const IMAGE = 32 * 32 * 3;
const backend = args.backend;
if (backend !== "wasm" && backend !== "cpu" && backend !== "webgpu") {
  throw new Error(`--backend must be wasm, cpu or webgpu, got ${backend}`);
}

if (backend === "webgpu") {
  const gpu = await probeWebGpu();
  if (!gpu.available) {
    send({ skip: `no WebGPU adapter (${gpu.reason})` });
    Deno.exit(0);
  }
  if (gpu.software && !args["allow-software-gpu"]) {
    send({
      skip: `the only WebGPU adapter ("${gpu.description}") is software; ` +
        `pass --allow-software-gpu to include it`,
    });
    Deno.exit(0);
  }
}

const info: RuntimeInfo = await initRuntime({
  backend,
  threads: Number(args.threads),
  allowSoftwareGpu: args["allow-software-gpu"],
});
const model = cifarCnn({ seed: 0 });

// Deterministic noise: speed does not depend on the pixel values.
const noise = createRng(12345);

let trainData: ImageSet | null = null;
function trainImages(count: number): ImageSet {
  if (!trainData || trainData.count < count) {
    trainData = {
      images: noiseBytes(count * IMAGE, noise),
      labels: noiseBytes(count, noise).map((v) => v % 10),
      count,
      shape: [32, 32, 3],
    };
  }
  return {
    images: trainData.images.subarray(0, count * IMAGE),
    labels: trainData.labels.subarray(0, count),
    count,
    shape: [32, 32, 3],
  };
}

let fast: FastRecipe | null = null;

async function train(
  batch: number,
  steps: number,
  task: Task,
): Promise<number> {
  // One extra step: timing runs from the end of step 0 to the end of the last.
  let start = 0;
  let end = 0;
  const data = trainImages((steps + 1) * batch);
  if (task === "train-fast" && !fast) {
    fast = recipes.fast(data, { width: FAST_BENCH_WIDTH, batchSize: batch });
  }
  const options = task === "train-fast"
    ? {
      ...recipeFitOptions(fast!),
      totalSteps: undefined,
      lookahead: undefined,
      batches: augmentationSource(fastAugmentation(data, 0)),
    }
    : {};
  await fit(task === "train-fast" ? fast!.model : model, data, {
    ...options,
    epochs: 1,
    batchSize: batch,
    shuffle: false,
    verbose: 0,
    onBatchEnd: (step) => {
      if (step === 0) start = performance.now();
      end = performance.now();
    },
  });
  return (end - start) / 1000;
}

const inputs = new Map<number, tf.Tensor4D>();
async function infer(batch: number, steps: number): Promise<number> {
  let x = inputs.get(batch);
  if (!x) {
    const pixels = Float32Array.from(
      noiseBytes(batch * IMAGE, noise),
      (v) => v / 255,
    );
    x = tf.tensor4d(pixels, [batch, 32, 32, 3]);
    inputs.set(batch, x);
  }
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const probs = model.predict(x, batch);
    await probs.data();
    probs.dispose();
  }
  return (performance.now() - start) / 1000;
}

function run(task: Task, batch: number, steps: number): Promise<number> {
  return task === "train" || task === "train-fast"
    ? train(batch, steps, task)
    : infer(batch, steps);
}

const details = {
  backend: info.backend,
  threads: info.threads,
  simd: info.simd,
  relaxedSimd: info.relaxedSimd,
  reason: info.reason,
};
if (args.task !== undefined) {
  const task = args.task as Task;
  if (!TASKS.includes(task)) {
    throw new Error(`--task must be one of ${TASKS.join(", ")}`);
  }
  const batch = task === "latency" ? 1 : Number(args.batch);
  const result = await measureOnce(
    run,
    { task, batch, steps: Number(args.steps) },
    Number(args.warmup),
  );
  console.log(JSON.stringify({ ...result, info: details }));
} else {
  await serveRequests(details, run);
}
Deno.exit(0); // the wasm thread pool would keep the process alive
