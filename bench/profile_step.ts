/**
 * `deno task bench:profile [--threads N] [--steps N] [--augment] [--backend B]`
 *
 * Where a training step of the seed CNN (batch 64, as `fit` runs it) spends
 * its time: every kernel of the backend is wrapped with a timer, and the
 * table lists milliseconds per step by kernel and first input shape, then
 * what the kernels leave over (JS, tape, tfjs bookkeeping). Kernels are
 * synchronous on wasm and cpu, so the times are exact there; on webgpu they
 * only count command recording.
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { fit } from "../src/train/fit.ts";

const USAGE =
  `usage: deno task bench:profile [--threads N] [--steps N] [--augment] [--backend wasm|cpu|webgpu]`;

const { values: args } = parseArgs({
  options: {
    threads: { type: "string" },
    steps: { type: "string", default: "20" },
    augment: { type: "boolean", default: false },
    backend: { type: "string", default: "wasm" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const steps = Number(args.steps);
if (!Number.isInteger(steps) || steps < 1) {
  console.error(
    `--steps must be a whole number >= 1, got ${args.steps}\n${USAGE}`,
  );
  Deno.exit(2);
}
const backend = args.backend;
if (backend !== "wasm" && backend !== "cpu" && backend !== "webgpu") {
  console.error(
    `--backend must be wasm, cpu or webgpu, got ${backend}\n${USAGE}`,
  );
  Deno.exit(2);
}

const info = await initRuntime({
  backend,
  threads: args.threads === undefined ? undefined : Number(args.threads),
  allowSoftwareGpu: backend === "webgpu",
});

// [total ms, calls] by "kernel shape".
const times = new Map<string, [number, number]>();
let recording = false;
for (const k of tf.getKernelsForBackend(info.backend)) {
  const run = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, info.backend);
  tf.registerKernel({
    ...k,
    kernelFunc: (a) => {
      if (!recording) return run(a);
      const t0 = performance.now();
      const out = run(a);
      const dt = performance.now() - t0;
      const first = Object.values(a.inputs)[0] as tf.TensorInfo | undefined;
      const key = `${k.kernelName} ${first?.shape.join("x") ?? ""}`;
      const e = times.get(key) ?? [0, 0];
      e[0] += dt;
      e[1]++;
      times.set(key, e);
      return out;
    },
  });
}

const BATCH = 64;
// Two untimed steps first: compilation and heap growth.
const count = (steps + 2) * BATCH;
let noise = 7;
const images = new Uint8Array(count * 3072).map(() => {
  noise = (Math.imul(noise, 1103515245) + 12345) >>> 0;
  return noise >>> 24;
});
const labels = new Uint8Array(count).map((_, i) => i % 10);
let start = 0, end = 0;
const data = { images, labels, count, shape: [32, 32, 3] as const };
await fit(cifarCnn({ seed: 0 }), data, {
  epochs: 1,
  batchSize: BATCH,
  shuffle: false,
  verbose: 0,
  augment: args.augment,
  onBatchEnd: (step) => {
    if (step === 1) {
      recording = true;
      start = performance.now();
    }
    end = performance.now();
  },
});

const perStep = (end - start) / steps;
const rows = [...times]
  .map(([key, [ms, calls]]) => ({ key, ms: ms / steps, calls: calls / steps }))
  .sort((a, b) => b.ms - a.ms);
const inKernels = rows.reduce((s, r) => s + r.ms, 0);
console.log(
  `Training step, batch ${BATCH}${args.augment ? ", augmented" : ""}: ` +
    `${info.backend}, ${info.threads} thread(s), mean of ${steps} steps\n`,
);
console.log("| ms/step | calls | kernel and first input shape |");
console.log("|--------:|------:|------------------------------|");
for (const r of rows) {
  if (r.ms < 0.05) continue;
  console.log(
    `| ${r.ms.toFixed(2).padStart(7)} | ${
      r.calls.toFixed(0).padStart(5)
    } | ${r.key} |`,
  );
}
console.log(
  `\nstep ${perStep.toFixed(1)} ms: kernels ${inKernels.toFixed(1)} ms, ` +
    `the rest ${(perStep - inKernels).toFixed(1)} ms`,
);
