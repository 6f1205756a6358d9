/**
 * `deno task bench:profile [--threads N] [--steps N] [--augment] [--infer]
 * [--batch N] [--backend B]`
 *
 * Where a training step of the seed CNN (batch 64, as `fit` runs it), or
 * with `--infer` a prediction (batch 256, as `Model.predict` runs it), spends
 * its time: every kernel of the backend is wrapped with a timer, and the
 * table lists milliseconds per step by kernel and first input shape, then
 * what the kernels leave over (JS, tape, tfjs bookkeeping). Kernels are
 * synchronous on wasm and cpu, so the times are exact there; on webgpu they
 * only count command recording.
 *
 * Exit codes: 0 ok; 64 usage; 69 the backend cannot start.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../src/runtime/types.ts";
import { fit } from "../src/train/fit.ts";
import { createRng } from "../src/util/random.ts";
import { INFER_BATCH, TRAIN_BATCH } from "./_compare_plan.ts";
import { noiseBytes } from "./_noise.ts";
import { EXIT_OK } from "../src/cli/exit_codes.ts";
import { backendFlag, parseFlags, wholeFlag } from "../src/cli/flags.ts";
import { reportFailure, runCli } from "../src/cli/run_cli.ts";
import { UsageError } from "../src/cli/usage.ts";

// `auto` would make the profile's backend a matter of luck.
const BACKENDS = BACKEND_CHOICES.filter((b) => b !== "auto");

const USAGE =
  `usage: deno task bench:profile [--threads N] [--steps N] [--augment] [--infer] [--batch N] [--backend ${
    BACKENDS.join("|")
  }]`;

/** What `bench:profile` measures. */
export interface ProfileOptions {
  backend: BackendChoice;
  threads: number | undefined;
  /** Timed steps (after two untimed ones). */
  steps: number;
  augment: boolean;
  /** Profile predictions instead of training steps. */
  infer: boolean;
  /** Images a step: 64 for training, 256 for predictions unless given. */
  batch: number;
}

/** Parses `bench:profile`'s command line; "help" for --help. */
export function parseProfileArgs(args: string[]): ProfileOptions | "help" {
  const { values } = parseFlags(args, {
    threads: { type: "string" },
    steps: { type: "string", default: "20" },
    augment: { type: "boolean", default: false },
    infer: { type: "boolean", default: false },
    batch: { type: "string" },
    backend: { type: "string", default: "wasm" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  if (values.infer && values.augment) {
    throw new UsageError(
      "--augment applies to training steps: drop it or --infer",
    );
  }
  return {
    backend: backendFlag(values.backend, BACKENDS),
    threads: wholeFlag(values.threads, "threads", 1),
    steps: wholeFlag(values.steps, "steps", 1)!,
    augment: values.augment,
    infer: values.infer,
    batch: wholeFlag(values.batch, "batch", 1) ??
      (values.infer ? INFER_BATCH : TRAIN_BATCH),
  };
}

/** Kernel timings: [total ms, calls] by "kernel shape", while `recording`. */
export interface KernelTimes {
  times: Map<string, [number, number]>;
  /** Kernel names whose implementation is simdnet's (threaded) one. */
  simdnet: Set<string>;
  recording: boolean;
}

/** Wraps every kernel of `backend` with a timer that records into the result. */
export function instrumentKernels(backend: string): KernelTimes {
  const state: KernelTimes = {
    times: new Map(),
    simdnet: new Set(),
    recording: false,
  };
  for (const k of tf.getKernelsForBackend(backend)) {
    const run = k.kernelFunc;
    if (isSimdnetKernel(run)) state.simdnet.add(k.kernelName);
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (a) => {
        if (!state.recording) return run(a);
        const t0 = performance.now();
        const out = run(a);
        const dt = performance.now() - t0;
        const first = Object.values(a.inputs)[0] as tf.TensorInfo | undefined;
        const key = `${k.kernelName} ${first?.shape.join("x") ?? ""}`;
        const e = state.times.get(key) ?? [0, 0];
        e[0] += dt;
        e[1]++;
        state.times.set(key, e);
        return out;
      },
    });
  }
  return state;
}

/** Trains `steps` + 2 steps on noise; returns the ms of the timed steps. */
async function trainSteps(
  o: ProfileOptions,
  kernels: KernelTimes,
): Promise<number> {
  // Two untimed steps first: compilation and heap growth.
  const count = (o.steps + 2) * o.batch;
  const images = noiseBytes(count * 3072, createRng(7));
  const labels = new Uint8Array(count).map((_, i) => i % 10);
  let start = 0, end = 0;
  const data = { images, labels, count, shape: [32, 32, 3] as const };
  await fit(cifarCnn({ seed: 0 }), data, {
    epochs: 1,
    batchSize: o.batch,
    shuffle: false,
    verbose: 0,
    augment: o.augment,
    onBatchEnd: (step) => {
      if (step === 1) {
        kernels.recording = true;
        start = performance.now();
      }
      end = performance.now();
    },
  });
  return end - start;
}

/** Runs `steps` + 2 predictions of one batch; returns the ms of the timed ones. */
async function predictSteps(
  o: ProfileOptions,
  kernels: KernelTimes,
): Promise<number> {
  const model = cifarCnn({ seed: 0 });
  const pixels = noiseBytes(o.batch * 3072, createRng(7));
  const x = tf.tensor4d(
    Float32Array.from(pixels, (v) => v / 255),
    [o.batch, 32, 32, 3],
  );
  let start = 0;
  for (let i = 0; i < o.steps + 2; i++) {
    if (i === 2) {
      kernels.recording = true;
      start = performance.now();
    }
    const p = model.predict(x, o.batch);
    await p.data();
    p.dispose();
  }
  const ms = performance.now() - start;
  x.dispose();
  return ms;
}

/** Profiles training steps or predictions as `o` says and prints the table. */
export async function runProfile(o: ProfileOptions): Promise<number> {
  const info = await initRuntime({
    backend: o.backend,
    threads: o.threads,
    allowSoftwareGpu: o.backend === "webgpu",
  });
  const kernels = instrumentKernels(info.backend);
  const ms = o.infer
    ? await predictSteps(o, kernels)
    : await trainSteps(o, kernels);
  const perStep = ms / o.steps;
  const what = o.infer
    ? "Prediction"
    : `Training step${o.augment ? ", augmented" : ""}`;
  console.log(
    `${what}, batch ${o.batch}: ${info.backend}, ${info.threads} ` +
      `thread(s), mean of ${o.steps} steps\n`,
  );
  printKernelTable(kernels, o.steps, perStep);
  return EXIT_OK;
}

/**
 * Prints milliseconds per step by kernel and first input shape, each row's
 * share of the step and whether simdnet's threaded kernel ran it ("tfjs"
 * marks tfjs' own, single-threaded under Deno), then the time outside
 * kernels.
 */
export function printKernelTable(
  kernels: KernelTimes,
  steps: number,
  perStep: number,
): void {
  const rows = [...kernels.times]
    .map(([key, [ms, calls]]) => ({
      key,
      ms: ms / steps,
      calls: calls / steps,
    }))
    .sort((a, b) => b.ms - a.ms);
  const inKernels = rows.reduce((s, r) => s + r.ms, 0);
  console.log(
    "| ms/step | share | calls | by     | kernel and first input shape |",
  );
  console.log(
    "|--------:|------:|------:|--------|------------------------------|",
  );
  for (const r of rows) {
    if (r.ms < 0.05) continue;
    const by = kernels.simdnet.has(r.key.split(" ")[0]!) ? "simdnet" : "tfjs";
    console.log(
      `| ${r.ms.toFixed(2).padStart(7)} | ${
        (100 * r.ms / perStep).toFixed(1).padStart(4)
      }% | ${r.calls.toFixed(0).padStart(5)} | ${by.padEnd(6)} | ${r.key} |`,
    );
  }
  console.log(
    `\nstep ${perStep.toFixed(1)} ms: kernels ${inKernels.toFixed(1)} ms, ` +
      `the rest ${(perStep - inKernels).toFixed(1)} ms`,
  );
  // Issue #13 asks that no tfjs kernel take more than 5% of a step, all its
  // shapes together.
  const tfjs = new Map<string, number>();
  for (const r of rows) {
    const name = r.key.split(" ")[0]!;
    if (!kernels.simdnet.has(name)) {
      tfjs.set(name, (tfjs.get(name) ?? 0) + r.ms);
    }
  }
  const top = [...tfjs].sort((a, b) => b[1] - a[1]).slice(0, 5);
  console.log(
    "largest tfjs kernels, all shapes: " +
      top.map(([n, ms]) => `${n} ${(100 * ms / perStep).toFixed(1)}%`)
        .join(", "),
  );
}

/** Runs `bench:profile` with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseProfileArgs,
    run: runProfile,
    failure: (error) => reportFailure(error, "bench:profile"),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
