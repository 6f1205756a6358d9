/**
 * `deno run --allow-read --allow-env bench/profile_airbench.ts [--threads N]
 * [--steps N] [--batch N] [--backend B]`
 *
 * Where a training step of the fast recipe's network (issue #14,
 * `fastNet` in src/nn/fast_net.ts) spends its time, kernel by kernel, as
 * `bench:profile` does for the seed CNN: the 2x2 whitening stem (valid
 * padding, so the groups run at the odd sizes 31, 15 and 7), three groups of
 * conv 3x3 -> max-pool 2 -> BatchNormalization -> GELU -> conv 3x3 ->
 * BatchNormalization -> GELU at widths 32/128/128 (`--width 0.5`, the
 * default here) or 64/256/256, a final 3x3 max-pool and the scaled linear
 * head, batch 512, trained as `fit` trains it (the real layers, the tape,
 * SGD with Nesterov momentum). The "by" column tells simdnet's threaded
 * kernels from tfjs' own (single-threaded under Deno); issue #13 asks that
 * no tfjs row take more than 5% of the step.
 *
 * @module
 */

import { initRuntime } from "../src/runtime/init.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../src/runtime/types.ts";
import { fastNetWidths } from "../src/nn/fast_net.ts";
import { EXIT_OK } from "../src/cli/exit_codes.ts";
import {
  backendFlag,
  numberFlag,
  parseFlags,
  wholeFlag,
} from "../src/cli/flags.ts";
import { reportFailure, runCli } from "../src/cli/run_cli.ts";
import { instrumentKernels, printKernelTable } from "./profile_step.ts";
import { fastStep } from "./_fast_step.ts";

const BACKENDS = BACKEND_CHOICES.filter((b) => b !== "auto");

const USAGE =
  `usage: bench/profile_airbench.ts [--threads N] [--steps N] [--batch N] [--width 0.5] [--backend ${
    BACKENDS.join("|")
  }]`;

/** What the airbench profile measures. */
export interface AirbenchProfileOptions {
  backend: BackendChoice;
  threads: number | undefined;
  /** Timed training steps (after two untimed ones). */
  steps: number;
  batch: number;
  /** The network's width multiplier (0.5: 32/128/128). */
  width: number;
}

/** Parses the command line; "help" for --help. */
export function parseAirbenchArgs(
  args: string[],
): AirbenchProfileOptions | "help" {
  const { values } = parseFlags(args, {
    threads: { type: "string" },
    steps: { type: "string", default: "5" },
    batch: { type: "string", default: "512" },
    width: { type: "string", default: "0.5" },
    backend: { type: "string", default: "wasm" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  return {
    backend: backendFlag(values.backend, BACKENDS),
    threads: wholeFlag(values.threads, "threads", 1),
    steps: wholeFlag(values.steps, "steps", 1)!,
    batch: wholeFlag(values.batch, "batch", 1)!,
    width: numberFlag(
      values.width,
      "width",
      (n) => n > 0 && n <= 4,
      "a number in (0, 4]",
    )!,
  };
}

/** Profiles training steps as `o` says and prints the table. */
export async function runAirbenchProfile(
  o: AirbenchProfileOptions,
): Promise<number> {
  const info = await initRuntime({
    backend: o.backend,
    threads: o.threads,
    allowSoftwareGpu: o.backend === "webgpu",
  });
  const run = fastStep(o.width, o.batch);
  const kernels = instrumentKernels(info.backend);
  let start = 0;
  // Two untimed steps first: compilation and heap growth.
  for (let step = 0; step < o.steps + 2; step++) {
    if (step === 2) {
      kernels.recording = true;
      start = performance.now();
    }
    await run.step();
  }
  const perStep = (performance.now() - start) / o.steps;
  console.log(
    `fast-recipe network training step, batch ${o.batch}, widths ` +
      `${fastNetWidths(o.width)}: ` +
      `${info.backend}, ${info.threads} thread(s), mean of ${o.steps} steps\n`,
  );
  printKernelTable(kernels, o.steps, perStep);
  run.dispose();
  return EXIT_OK;
}

/** Runs the profile with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseAirbenchArgs,
    run: runAirbenchProfile,
    failure: (error) => reportFailure(error, "profile_airbench"),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
