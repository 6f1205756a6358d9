/**
 * What `bench:compare` and `bench:step` measure: which workers (systems,
 * thread counts, variants) run which tasks, with what warm-up. The
 * interleaving and the table are bench/_harness.ts' and bench/compare.ts'.
 *
 * @module
 */

import type { Measurement, WorkerSpec } from "./_harness.ts";
import type { PythonTorch } from "./_pytorch.ts";
import { probeWebGpu } from "../src/runtime/webgpu.ts";
import {
  ortWorker,
  pytorchWorker,
  simdnetWorker,
  threadCounts,
} from "./_workers.ts";

/** What to measure and how to print it. */
export interface CompareOptions {
  json: boolean;
  /** Interleaved rounds; each row is the median. */
  rounds: number;
  /** Time each adaptive row aims at per round. */
  seconds: number;
  /** Include the tfjs `cpu` backend. */
  cpu: boolean;
  /** Measure the WebAssembly SIMD peak first (default true). */
  peak?: boolean;
  /** Include a software WebGPU adapter. */
  allowSoftwareGpu: boolean;
  /** Another simdnet checkout to run as `simdnet@base`. */
  baseline?: string;
  /** Also run `simdnet-unchecked` (bench/_workers.ts' UNCHECKED_V8_FLAGS). */
  unchecked?: boolean;
  /** Also run `pytorch-capped`: oneDNN held to this `ONEDNN_MAX_CPU_ISA`. */
  pytorchIsa?: string;
  /**
   * Only training steps of simdnet wasm and PyTorch (`bench:step`), with
   * this warm-up and, if given, a fixed number of timed steps per round.
   */
  trainOnly?: { warmup: number; steps?: number };
}

/** The seed CNN's training batch. */
export const TRAIN_BATCH = 64;
/** The seed CNN's inference batch. */
export const INFER_BATCH = 256;
/** The fast network's training batch: half airbench's 1024, to fit the time. */
export const FAST_BATCH = 512;

/** Every task a worker can do, with a warm-up fitting its speed. */
function allTasks(worker: WorkerSpec, slow = false): Measurement[] {
  return [
    // The first training steps compile kernels and grow the heap.
    { worker, task: "train", batch: TRAIN_BATCH, warmup: slow ? 1 : 4 },
    { worker, task: "infer", batch: INFER_BATCH, warmup: slow ? 1 : 2 },
    { worker, task: "latency", batch: 1, warmup: slow ? 3 : 20 },
  ];
}

function inference(worker: WorkerSpec): Measurement[] {
  return allTasks(worker).filter((m) => m.task !== "train");
}

/** simdnet wasm at `threads`, and the baseline and unchecked variants asked for. */
function simdnetWasm(threads: number, o: CompareOptions): WorkerSpec[] {
  const workers = [simdnetWorker("wasm", threads)];
  if (o.baseline) {
    workers.push(simdnetWorker("wasm", threads, { baseline: o.baseline }));
  }
  if (o.unchecked) {
    workers.push(simdnetWorker("wasm", threads, { unchecked: true }));
  }
  return workers;
}

/** PyTorch at `threads`, and oneDNN held to an instruction set if asked. */
function pytorchWorkers(
  torch: PythonTorch | null,
  threads: number,
  o: CompareOptions,
): WorkerSpec[] {
  if (!torch) return [];
  const workers = [pytorchWorker(torch.python, threads)];
  if (o.pytorchIsa) {
    workers.push(pytorchWorker(torch.python, threads, o.pytorchIsa));
  }
  return workers;
}

/** Training steps alone: simdnet wasm and PyTorch at each thread count. */
export function trainingPlan(
  torch: PythonTorch | null,
  train: { warmup: number; steps?: number },
  o: CompareOptions,
): Measurement[] {
  const measurements: Measurement[] = [];
  for (const threads of threadCounts()) {
    const workers = simdnetWasm(threads, o);
    workers.push(...pytorchWorkers(torch, threads, o));
    for (const worker of workers) {
      measurements.push({
        worker,
        task: "train",
        batch: TRAIN_BATCH,
        ...train,
      });
    }
  }
  return measurements;
}

/**
 * The fast network's training step at every core, simdnet wasm (and the
 * baseline checkout's) and PyTorch (the same workers as the seed rows: one
 * process per configuration).
 */
function fastTraining(
  torch: PythonTorch | null,
  o: CompareOptions,
): Measurement[] {
  const threads = threadCounts().at(-1)!;
  const workers = simdnetWasm(threads, o);
  workers.push(...pytorchWorkers(torch, threads, o));
  // Warm-up: the first steps compile kernels for the new shapes.
  return workers.map((worker) => ({
    worker,
    task: "train-fast" as const,
    batch: FAST_BATCH,
    warmup: 2,
  }));
}

/** Every system and task, plus the cpu backend and WebGPU when asked and present. */
export async function fullPlan(
  torch: PythonTorch | null,
  o: CompareOptions,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const threads of threadCounts()) {
    for (const worker of simdnetWasm(threads, o)) {
      measurements.push(...allTasks(worker));
    }
    for (const worker of pytorchWorkers(torch, threads, o)) {
      measurements.push(...allTasks(worker));
    }
    measurements.push(...inference(ortWorker("web", threads)));
    measurements.push(...inference(ortWorker("node", threads)));
  }
  measurements.push(...fastTraining(torch, o));
  if (o.cpu) {
    // About 11 s per training step and 10 s per batch of 256: one round,
    // one step, which is plenty to place it.
    for (const m of allTasks(simdnetWorker("cpu", 1), true)) {
      measurements.push(
        m.task === "latency" ? m : { ...m, steps: 1, rounds: 1 },
      );
    }
  }
  const gpu = await probeWebGpu();
  if (!gpu.available) {
    log(`simdnet webgpu skipped: no WebGPU adapter (${gpu.reason})`);
  } else if (gpu.software && !o.allowSoftwareGpu) {
    log(
      `simdnet webgpu skipped: the only WebGPU adapter ("${gpu.description}") is software; ` +
        `pass --allow-software-gpu to include it`,
    );
  } else {
    // A software adapter (llvmpipe) computes on every core, and as slowly as
    // the cpu backend: one round of one step for training and batches.
    const all = threadCounts().at(-1)!;
    const worker = simdnetWorker("webgpu", gpu.software ? all : 1, {
      allowSoftwareGpu: gpu.software,
    });
    for (const m of allTasks(worker, gpu.software)) {
      measurements.push(
        gpu.software && m.task !== "latency"
          ? { ...m, steps: 1, rounds: 1 }
          : m,
      );
    }
  }
  return measurements;
}
