/**
 * `deno task bench:compare [--json] [--rounds R] [--seconds S] [--no-cpu] [--no-peak] [--allow-software-gpu] [--baseline DIR] [--unchecked] [--pytorch-isa ISA]`
 *
 * The seed CNN's training throughput (batch 64), inference throughput
 * (batch 256) and latency (batch 1) for simdnet (wasm with 1 thread and
 * every core, the tfjs `cpu` backend, WebGPU when a hardware adapter
 * exists), PyTorch with the same thread counts, and ONNX Runtime (web:
 * WebAssembly, node: native CPU) inference of the same model and weights,
 * all interleaved in one run (bench/_harness.ts). Prints a markdown table
 * and the project's targets, or with `--json` an array of
 * {@linkcode BenchRow}s. The fast recipe's network (width 0.5) is the
 * second model: its training step (`train-fast`, batch
 * {@linkcode FAST_BATCH}) for simdnet wasm and PyTorch at every core.
 * `bench/step.ts` runs the training rows alone
 * through {@linkcode runCompare}.
 *
 * Each row's effective GFLOP/s counts its model's FLOPs (bench/_flops.ts),
 * in all and per thread, next to this machine's WebAssembly SIMD peak per
 * core (bench/simd_peak.ts, measured first); each row also has its worker
 * process's peak RSS. The PyTorch rows name torch's build (oneDNN, the
 * instruction set it runs here, BLAS); `--pytorch-isa AVX2` adds PyTorch
 * with oneDNN held to that instruction set (`pytorch-capped`): on a CPU
 * with AVX-512, what the ratios would be against 256-bit native code.
 * Before each round a probe times the 6x8 micro-kernel's loop in a process
 * pinned to each CPU (bench/_cpu_probe.ts; in this process where `taskset`
 * is missing), and {@linkcode probeLine} lists the figures, so that a reader
 * can tell a quiet run from one that met a slow phase of a shared machine.
 *
 * Exit codes: 0 ok; 1 nothing was measured; 64 usage.
 *
 * @module
 */

import { label, runInterleaved } from "./_harness.ts";
import { machineLine } from "./_machine.ts";
import { type BenchRow, FAST_BENCH_WIDTH, TASKS } from "./_protocol.ts";
import { findPythonTorch, ONEDNN_ISAS } from "./_pytorch.ts";
import { EXIT_NO_ROWS, EXIT_OK } from "../src/cli/exit_codes.ts";
import { numberFlag, parseFlags, wholeFlag } from "../src/cli/flags.ts";
import { reportFailure, runCli } from "../src/cli/run_cli.ts";
import { UsageError } from "../src/cli/usage.ts";
import { formatTable, tableNotes, targetLines } from "./_table.ts";
import { benchTaskFlops } from "./_flops.ts";
import { torchBuild } from "./_pytorch.ts";
import { measureSimdPeak } from "./simd_peak.ts";
import { hasRelaxedSimd } from "./_simd_peak_module.ts";
import { instantiateKernel, kernelLoopGflops } from "./_kernel_loop_module.ts";
import { PinnedProbe, pinToCore } from "./_cpu_probe.ts";
import {
  type CompareOptions,
  FAST_BATCH,
  fullPlan,
  INFER_BATCH,
  TRAIN_BATCH,
  trainingPlan,
} from "./_compare_plan.ts";

export type { CompareOptions };

const USAGE =
  `usage: deno task bench:compare [--json] [--rounds R] [--seconds S] [--no-cpu] [--no-peak] [--allow-software-gpu] [--baseline DIR] [--unchecked] [--pytorch-isa ISA]

  --json                print the rows as JSON instead of a table
  --rounds R            interleaved rounds; each row is the median (default 5)
  --seconds S           time each row takes per round (default 1.5)
  --no-cpu              leave out the tfjs cpu backend (about a minute of the run)
  --no-peak             leave out the WebAssembly SIMD peak (bench:peak, ~15 s)
  --allow-software-gpu  include a software WebGPU adapter (llvmpipe, SwiftShader)
  --baseline DIR        also run the simdnet of another checkout (e.g. a git worktree
                        of an earlier commit, after 'deno install' there) as
                        simdnet@base, interleaved with this one
  --unchecked           also run simdnet with V8's WebAssembly bounds checks off and
                        its 256-bit revectorizer on, as simdnet-unchecked: what
                        Deno's explicit bounds checks cost (unsafe: a measurement)
  --pytorch-isa ISA     also run PyTorch with oneDNN held to ISA (ONEDNN_MAX_CPU_ISA,
                        e.g. AVX2), as pytorch-capped`;

/** Parses `bench:compare`'s command line; "help" for --help. */
export function parseCompareArgs(args: string[]): CompareOptions | "help" {
  const { values } = parseFlags(args, {
    json: { type: "boolean", default: false },
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "1.5" },
    "no-cpu": { type: "boolean", default: false },
    "no-peak": { type: "boolean", default: false },
    "allow-software-gpu": { type: "boolean", default: false },
    baseline: { type: "string" },
    unchecked: { type: "boolean", default: false },
    "pytorch-isa": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  return {
    ...checkBaseline(values.baseline),
    ...checkPytorchIsa(values["pytorch-isa"]),
    unchecked: values.unchecked,
    json: values.json,
    rounds: wholeFlag(values.rounds, "rounds", 1)!,
    seconds: numberFlag(
      values.seconds,
      "seconds",
      (n) => n > 0 && Number.isFinite(n),
      "a number > 0",
    )!,
    cpu: !values["no-cpu"],
    peak: !values["no-peak"],
    allowSoftwareGpu: values["allow-software-gpu"],
  };
}

/** `{ baseline }` for a `--baseline DIR` that is a simdnet checkout, else a usage error. */
export function checkBaseline(dir?: string): { baseline?: string } {
  if (dir === undefined) return {};
  const baseline = dir.replace(/\/+$/, "");
  try {
    if (
      Deno.statSync(`${baseline}/bench/_simdnet_worker.ts`).isFile &&
      Deno.statSync(`${baseline}/deno.json`).isFile
    ) return { baseline };
  } catch {
    // Reported below.
  }
  throw new UsageError(
    `--baseline ${dir} is not a simdnet checkout (no bench/_simdnet_worker.ts and deno.json); ` +
      "make one with git worktree add DIR <commit> and run deno install there",
  );
}

/** `{ pytorchIsa }` for a `--pytorch-isa` that oneDNN knows, else a usage error. */
export function checkPytorchIsa(isa?: string): { pytorchIsa?: string } {
  if (isa === undefined) return {};
  const upper = isa.toUpperCase();
  if ((ONEDNN_ISAS as readonly string[]).includes(upper)) {
    return { pytorchIsa: upper };
  }
  throw new UsageError(
    `--pytorch-isa ${isa} is not a oneDNN instruction set; use one of ${
      ONEDNN_ISAS.join(", ")
    }`,
  );
}

const log = (line: string) => console.error(line);
const SYSTEMS = [
  "simdnet",
  "simdnet@base",
  "simdnet-unchecked",
  "pytorch",
  "pytorch-capped",
  "onnxruntime-web",
  "onnxruntime-node",
];
// Table order within a system, which is not BACKEND_CHOICES' order.
const BACKEND_ORDER = ["wasm", "cpu", "webgpu"];

/** Rows in table order: task, threads, system, backend. */
function sortRows(rows: readonly BenchRow[]): BenchRow[] {
  return [...rows].sort((a, b) =>
    TASKS.indexOf(a.task) - TASKS.indexOf(b.task) ||
    a.threads - b.threads ||
    SYSTEMS.indexOf(a.system) - SYSTEMS.indexOf(b.system) ||
    BACKEND_ORDER.indexOf(a.backend) - BACKEND_ORDER.indexOf(b.backend)
  );
}

/**
 * The probe's figures, one per round (with `perCpu`, each CPU's, pinned;
 * `probes` then holds each round's slowest), and how many rounds met a slow
 * phase of the machine (under 90% of the run's best figure).
 */
export function probeLine(
  probes: readonly number[],
  perCpu?: readonly (readonly number[])[],
): string {
  const list = (xs: readonly number[]) =>
    xs.map((p) => p.toFixed(1)).join(", ");
  const best = Math.max(0, ...(perCpu ? perCpu.flat() : probes));
  const slow = probes.filter((p) => p < 0.9 * best).length;
  const [where, figures, which] = perCpu
    ? [
      ", in a process pinned to each CPU",
      perCpu.map((xs, cpu) => `CPU ${cpu} ${list(xs)}`).join("; "),
      "with a CPU ",
    ]
    : ["", list(probes), ""];
  const pinned = perCpu
    ? `; the 1-thread workers all ran on CPU round mod ${perCpu.length}`
    : "";
  return `Machine probe before each round (the 6x8 micro-kernel's loop, ` +
    `checked loads from L1, 1 thread${where}): ${figures} GFLOP/s; ` +
    `${slow} of ${probes.length} rounds ${which}under 90% of the best${pinned} ` +
    "(a slow phase of the machine; the medians keep such a round out only " +
    "if it is a minority).";
}

/**
 * Runs the measurements `o` asks for, interleaved, and prints the table
 * (or JSON); resolves to the exit code: {@linkcode EXIT_NO_ROWS} when
 * nothing could be measured.
 */
export async function runCompare(o: CompareOptions): Promise<number> {
  const torch = await findPythonTorch();
  if (!torch) {
    log(
      "PyTorch skipped: no python3 here can `import torch` (apt-get install python3-torch)",
    );
  }
  const measurements = o.trainOnly
    ? trainingPlan(torch, o.trainOnly, o)
    : await fullPlan(torch, o, log);
  const machine = machineLine(); // the load before the run
  const build = torch ? await torchBuild(torch.python) : null;
  const cappedBuild = torch && o.pytorchIsa
    ? await torchBuild(torch.python, o.pytorchIsa)
    : null;
  const flops = await benchTaskFlops();
  // Before the workers start, so that nothing else runs on the cores.
  const peak = o.peak === false ? null : await measureSimdPeak({ log });
  // A slow phase of a shared VM shows in this loop (loads from L1) and not
  // in the peak's (no loads); see bench/simd_peak.ts.
  // Pinned to each CPU where taskset exists: one slow vCPU is missed by a
  // probe that runs wherever this process is (bench/_cpu_probe.ts).
  const pinned = PinnedProbe.create(navigator.hardwareConcurrency || 1);
  const inProcess = pinned ? null : await instantiateKernel({
    relaxed: hasRelaxedSimd(),
    shared: false,
  });
  const { rows, skipped, probes } = await runInterleaved(measurements, {
    rounds: o.rounds,
    targetSeconds: o.seconds,
    log,
    probe: () => pinned ? pinned.probe() : kernelLoopGflops(inProcess!, 40, 3),
    // Where the probe could pin, so can the 1-thread workers be.
    ...(pinned
      ? { pin: (pid, round) => pinToCore(pid, round, pinned.perCpu.length) }
      : {}),
  });
  const probeText = probeLine(probes, pinned?.perCpu);
  const sorted = sortRows(rows);
  if (o.json) {
    console.log(JSON.stringify(sorted, null, 2));
    log(probeText);
  } else {
    console.log(
      o.trainOnly
        ? `Training steps, batch ${TRAIN_BATCH}, median of ${o.rounds} interleaved rounds`
        : `Seed CNN: training batch ${TRAIN_BATCH}, inference batch ${INFER_BATCH}, latency batch 1; ` +
          `fast network (width ${FAST_BENCH_WIDTH}): training batch ${FAST_BATCH} (train-fast); ` +
          `median of ${o.rounds} interleaved rounds`,
    );
    console.log(machine);
    if (torch) console.log(build ?? `PyTorch ${torch.version}`);
    if (cappedBuild) console.log(`pytorch-capped: ${cappedBuild}`);
    console.log();
    console.log(
      formatTable(sorted, { flops, peakPerCore: peak?.perCore }),
    );
    console.log();
    for (const line of tableNotes(flops, peak, o.unchecked)) console.log(line);
    console.log(probeText);
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
  return sorted.length === 0 ? EXIT_NO_ROWS : EXIT_OK;
}

/** Runs `bench:compare` with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseCompareArgs,
    run: runCompare,
    failure: (error) => reportFailure(error, "bench:compare"),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
