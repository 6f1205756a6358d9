/**
 * Benchmark worker: ONNX Runtime inference of simdnet's seed CNN, with the
 * same weights (seed 0), exported by bench/_onnx_export.ts in this process.
 *
 * - `--runtime web`: npm onnxruntime-web, WebAssembly backend. Under Deno
 *   the package's `node` export is taken (dist/ort.node.min.mjs), whose
 *   threaded SIMD build runs its threads on `node:worker_threads`.
 * - `--runtime node`: npm onnxruntime-node, the native CPU build shipped in
 *   the package, loaded as a Node-API addon (needs `--allow-ffi`).
 *
 * At start the worker checks its outputs against simdnet's (tfjs `cpu`
 * backend) on a few images and reports the largest difference.
 *
 *     deno run --allow-read --allow-env bench/_ort_worker.ts --runtime web --threads 2 --task infer --batch 256
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import type * as OrtWeb from "onnxruntime-web";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { ONNX_INPUT, ONNX_OUTPUT, sequentialToOnnx } from "./_onnx_export.ts";
import { measureOnce, serveRequests, type Task, TASKS } from "./_protocol.ts";

const { values: args } = parseArgs({
  options: {
    runtime: { type: "string", default: "web" },
    threads: { type: "string", default: "1" },
    task: { type: "string" },
    batch: { type: "string", default: "256" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
  },
});

const threads = Number(args.threads);
const runtime = args.runtime;
if (runtime !== "web" && runtime !== "node") {
  throw new Error(`--runtime must be web or node, got ${runtime}`);
}

// Both packages export onnxruntime-common's API; the web typings serve both.
type Ort = typeof OrtWeb;
const ort: Ort = runtime === "web"
  ? await import("onnxruntime-web")
  : (await import("onnxruntime-node")) as unknown as Ort;

// The model and a reference output come from simdnet on the tfjs cpu backend.
await initRuntime({ backend: "cpu" });
const model = cifarCnn({ seed: 0 });
const onnx = sequentialToOnnx(model, await model.getWeights());
const CHECK = 4;
const checkX = tf.randomUniform([CHECK, 32, 32, 3], 0, 1, "float32", 7);
const checkPixels = (await checkX.data()) as Float32Array;
const expected = (await model.predict(checkX).data()) as Float32Array;
tf.dispose(checkX);
model.dispose();

if (runtime === "web") {
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
}
const session = await ort.InferenceSession.create(onnx, {
  executionProviders: [runtime === "web" ? "wasm" : "cpu"],
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
});

async function forward(
  pixels: Float32Array,
  batch: number,
): Promise<Float32Array> {
  const input = new ort.Tensor("float32", pixels, [batch, 32, 32, 3]);
  const out = await session.run({ [ONNX_INPUT]: input });
  const probs = out[ONNX_OUTPUT];
  if (!probs) throw new Error(`the session gave no '${ONNX_OUTPUT}' output`);
  return probs.data as Float32Array;
}

const got = await forward(checkPixels, CHECK);
let maxAbsDiff = 0;
for (let i = 0; i < expected.length; i++) {
  maxAbsDiff = Math.max(maxAbsDiff, Math.abs(expected[i]! - got[i]!));
}
if (!(maxAbsDiff < 1e-4)) {
  throw new Error(
    `ONNX Runtime's outputs differ from simdnet's by ${maxAbsDiff}`,
  );
}

const inputs = new Map<number, Float32Array>();
async function run(_task: Task, batch: number, steps: number): Promise<number> {
  let pixels = inputs.get(batch);
  if (!pixels) {
    pixels = Float32Array.from(
      { length: batch * 32 * 32 * 3 },
      (_, i) => ((i * 7919) % 256) / 255,
    );
    inputs.set(batch, pixels);
  }
  const start = performance.now();
  for (let i = 0; i < steps; i++) await forward(pixels, batch);
  return (performance.now() - start) / 1000;
}

const info = {
  runtime: `onnxruntime-${runtime}`,
  threads,
  onnxBytes: onnx.length,
  maxAbsDiffVsSimdnet: maxAbsDiff,
};
const serve = (task: Task, batch: number, steps: number): Promise<number> => {
  if (task === "train" || task === "train-fast") {
    return Promise.reject(new Error("ONNX Runtime does not train here"));
  }
  return run(task, batch, steps);
};
if (args.task !== undefined) {
  const task = args.task as Task;
  if (!TASKS.includes(task)) {
    throw new Error(`--task must be one of ${TASKS.join(", ")}`);
  }
  const batch = task === "latency" ? 1 : Number(args.batch);
  const result = await measureOnce(serve, {
    task,
    batch,
    steps: Number(args.steps),
  }, Number(args.warmup));
  console.log(JSON.stringify({ ...result, info }));
} else {
  await serveRequests(info, serve);
}
await session.release();
Deno.exit(0); // worker threads would keep the process alive
