/**
 * `deno task bench:step [--json] [--steps N] [--rounds R] [--warmup W]`
 *
 * Images per second of full training steps of the seed CNN (batch 64,
 * Adam, no augmentation, dropout on) for simdnet wasm with 1 thread and
 * with every core, and PyTorch with the same thread counts when installed,
 * measured interleaved (bench/_harness.ts). Prints a markdown table, or
 * with `--json` an array of {@linkcode BenchRow}s.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { label, type Measurement, runInterleaved } from "./_harness.ts";
import { machineLine } from "./_machine.ts";
import type { BenchRow } from "./_protocol.ts";
import { findPythonTorch } from "./_pytorch.ts";
import { formatTable, targetLines } from "./_table.ts";
import { pytorchWorker, simdnetWorker, threadCounts } from "./_workers.ts";

const USAGE =
  `usage: deno task bench:step [--json] [--steps N] [--rounds R] [--warmup W]

  --json      print the rows as JSON instead of a table
  --steps N   timed training steps per round (default: about 2 s worth)
  --rounds R  interleaved rounds; each row is the median (default 5)
  --warmup W  untimed steps per configuration first (default 3)`;

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    steps: { type: "string" },
    rounds: { type: "string", default: "5" },
    warmup: { type: "string", default: "3" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function whole(
  name: string,
  text: string | undefined,
  min: number,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(
      `--${name} must be a whole number >= ${min}, got ${text}\n\n${USAGE}`,
    );
    Deno.exit(2);
  }
  return n;
}
const steps = whole("steps", args.steps, 1);
const rounds = whole("rounds", args.rounds, 1)!;
const warmup = whole("warmup", args.warmup, 1)!;

const log = (line: string) => console.error(line);
const torch = await findPythonTorch();
if (!torch) {
  log(
    "PyTorch skipped: no python3 here can `import torch` (apt-get install python3-torch)",
  );
}

const BATCH = 64;
const measurements: Measurement[] = [];
for (const threads of threadCounts()) {
  const workers = [simdnetWorker("wasm", threads)];
  if (torch) workers.push(pytorchWorker(torch.python, threads));
  for (const worker of workers) {
    measurements.push({ worker, task: "train", batch: BATCH, warmup, steps });
  }
}

const machine = machineLine(); // the load before the run
const { rows, skipped } = await runInterleaved(measurements, {
  rounds,
  targetSeconds: 2,
  log,
});
const sorted: BenchRow[] = [...rows].sort((a, b) => a.threads - b.threads);
if (args.json) {
  console.log(JSON.stringify(sorted, null, 2));
} else {
  console.log(
    `Training steps, batch ${BATCH}, median of ${rounds} interleaved rounds`,
  );
  console.log(machine + (torch ? `, PyTorch ${torch.version}` : ""));
  console.log();
  console.log(formatTable(sorted));
  const targets = targetLines(sorted);
  if (targets.length) {
    console.log(`\nTargets:\n${targets.map((t) => `- ${t}`).join("\n")}`);
  }
  for (const s of skipped) console.log(`\nskipped ${label(s)}: ${s.reason}`);
}
if (sorted.length === 0) Deno.exit(1);
