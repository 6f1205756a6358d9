/**
 * `deno task bench:compare [--json] [--rounds R] [--seconds S] [--no-cpu] [--allow-software-gpu]`
 *
 * The seed CNN's training throughput (batch 64), inference throughput
 * (batch 256) and latency (batch 1) for simdnet (wasm with 1 thread and
 * every core, the tfjs `cpu` backend, WebGPU when a hardware adapter
 * exists), PyTorch with the same thread counts, and ONNX Runtime (web:
 * WebAssembly, node: native CPU) inference of the same model and weights,
 * all interleaved in one run (bench/_harness.ts). Prints a markdown table
 * and the project's targets, or with `--json` an array of
 * {@linkcode BenchRow}s.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  label,
  type Measurement,
  runInterleaved,
  type WorkerSpec,
} from "./_harness.ts";
import { machineLine } from "./_machine.ts";
import { type BenchRow, TASKS } from "./_protocol.ts";
import { findPythonTorch } from "./_pytorch.ts";
import { probeWebGpu } from "../src/runtime/webgpu.ts";
import { formatTable, targetLines } from "./_table.ts";
import {
  ortWorker,
  pytorchWorker,
  simdnetWorker,
  threadCounts,
} from "./_workers.ts";

const USAGE =
  `usage: deno task bench:compare [--json] [--rounds R] [--seconds S] [--no-cpu] [--allow-software-gpu]

  --json                print the rows as JSON instead of a table
  --rounds R            interleaved rounds; each row is the median (default 5)
  --seconds S           time each row takes per round (default 1.5)
  --no-cpu              leave out the tfjs cpu backend (about a minute of the run)
  --allow-software-gpu  include a software WebGPU adapter (llvmpipe, SwiftShader)`;

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "1.5" },
    "no-cpu": { type: "boolean", default: false },
    "allow-software-gpu": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) {
  console.error(
    `--rounds must be a whole number >= 1 and --seconds > 0\n\n${USAGE}`,
  );
  Deno.exit(2);
}

const log = (line: string) => console.error(line);
const TRAIN_BATCH = 64;
const INFER_BATCH = 256;

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

const torch = await findPythonTorch();
if (!torch) {
  log(
    "PyTorch skipped: no python3 here can `import torch` (apt-get install python3-torch)",
  );
}

const measurements: Measurement[] = [];
for (const threads of threadCounts()) {
  measurements.push(...allTasks(simdnetWorker("wasm", threads)));
  if (torch) {
    measurements.push(...allTasks(pytorchWorker(torch.python, threads)));
  }
  measurements.push(...inference(ortWorker("web", threads)));
  measurements.push(...inference(ortWorker("node", threads)));
}
if (!args["no-cpu"]) {
  // About 11 s per training step and 10 s per batch of 256: one round,
  // one step, which is plenty to place it.
  for (const m of allTasks(simdnetWorker("cpu", 1), true)) {
    measurements.push(m.task === "latency" ? m : { ...m, steps: 1, rounds: 1 });
  }
}
const gpu = await probeWebGpu();
if (!gpu.available) {
  log(`simdnet webgpu skipped: no WebGPU adapter (${gpu.reason})`);
} else if (gpu.software && !args["allow-software-gpu"]) {
  log(
    `simdnet webgpu skipped: the only WebGPU adapter ("${gpu.description}") is software; ` +
      `pass --allow-software-gpu to include it`,
  );
} else {
  // A software adapter (llvmpipe) computes on every core, and as slowly as
  // the cpu backend: one round of one step for training and batches.
  const all = threadCounts().at(-1)!;
  const worker = simdnetWorker("webgpu", gpu.software ? all : 1, gpu.software);
  for (const m of allTasks(worker, gpu.software)) {
    measurements.push(
      gpu.software && m.task !== "latency" ? { ...m, steps: 1, rounds: 1 } : m,
    );
  }
}

const machine = machineLine(); // the load before the run
const { rows, skipped } = await runInterleaved(measurements, {
  rounds,
  targetSeconds: seconds,
  log,
});

const SYSTEMS = ["simdnet", "pytorch", "onnxruntime-web", "onnxruntime-node"];
const BACKENDS = ["wasm", "cpu", "webgpu"];
const sorted: BenchRow[] = [...rows].sort((a, b) =>
  TASKS.indexOf(a.task) - TASKS.indexOf(b.task) ||
  a.threads - b.threads ||
  SYSTEMS.indexOf(a.system) - SYSTEMS.indexOf(b.system) ||
  BACKENDS.indexOf(a.backend) - BACKENDS.indexOf(b.backend)
);
if (args.json) {
  console.log(JSON.stringify(sorted, null, 2));
} else {
  console.log(
    `Seed CNN: training batch ${TRAIN_BATCH}, inference batch ${INFER_BATCH}, latency batch 1; ` +
      `median of ${rounds} interleaved rounds`,
  );
  console.log(machine + (torch ? `, PyTorch ${torch.version}` : ""));
  console.log();
  console.log(formatTable(sorted));
  console.log();
  console.log(
    "GFLOP/s counts 53.16 MFLOP per image forward and 3x that per training image; " +
      "'vs simdnet' is images/s over simdnet wasm's at the same threads and task.",
  );
  const targets = targetLines(sorted);
  if (targets.length) {
    console.log(`\nTargets:\n${targets.map((t) => `- ${t}`).join("\n")}`);
  }
  for (const s of skipped) {
    console.log(
      `\nskipped ${label(s)}${s.task ? ` ${s.task}` : ""}: ${s.reason}`,
    );
  }
}
if (sorted.length === 0) Deno.exit(1);
