/**
 * `deno task bench:step [--json] [--steps N] [--rounds R] [--warmup W] [--baseline DIR] [--unchecked] [--pytorch-isa ISA]`
 *
 * Images per second of full training steps of the seed CNN (batch 64,
 * Adam, no augmentation, dropout on) for simdnet wasm with 1 thread and
 * with every core, and PyTorch with the same thread counts when installed:
 * the training rows of `bench:compare`, measured by the same code
 * ({@linkcode runCompare}). Prints a markdown table, or with `--json` an
 * array of `BenchRow`s.
 *
 * Exit codes: 0 ok; 1 nothing was measured; 64 usage.
 *
 * @module
 */

import {
  checkBaseline,
  checkPytorchIsa,
  type CompareOptions,
  runCompare,
} from "./compare.ts";
import { parseFlags, wholeFlag } from "../src/cli/flags.ts";
import { reportFailure, runCli } from "../src/cli/run_cli.ts";

const USAGE =
  `usage: deno task bench:step [--json] [--steps N] [--rounds R] [--warmup W] [--baseline DIR] [--unchecked] [--pytorch-isa ISA]

  --json      print the rows as JSON instead of a table
  --steps N   timed training steps per round (default: about 2 s worth)
  --rounds R  interleaved rounds; each row is the median (default 5)
  --warmup W  untimed steps per configuration first (default 3)
  --baseline DIR  also time the simdnet of another checkout as simdnet@base
  --unchecked     also time simdnet without V8's WebAssembly bounds checks, as
                  simdnet-unchecked (bench:compare --help says more)
  --pytorch-isa ISA  also time PyTorch with oneDNN held to ISA (e.g. AVX2), as
                  pytorch-capped`;

/** Parses `bench:step`'s command line into `bench:compare` options; "help" for --help. */
export function parseStepArgs(args: string[]): CompareOptions | "help" {
  const { values } = parseFlags(args, {
    json: { type: "boolean", default: false },
    steps: { type: "string" },
    rounds: { type: "string", default: "5" },
    warmup: { type: "string", default: "3" },
    baseline: { type: "string" },
    unchecked: { type: "boolean", default: false },
    "pytorch-isa": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  const steps = wholeFlag(values.steps, "steps", 1);
  return {
    ...checkBaseline(values.baseline),
    ...checkPytorchIsa(values["pytorch-isa"]),
    unchecked: values.unchecked,
    json: values.json,
    rounds: wholeFlag(values.rounds, "rounds", 1)!,
    // Rounds of about 2 s when --steps does not fix the count.
    seconds: 2,
    cpu: false,
    allowSoftwareGpu: false,
    trainOnly: {
      warmup: wholeFlag(values.warmup, "warmup", 1)!,
      ...(steps === undefined ? {} : { steps }),
    },
  };
}

/** Runs `bench:step` with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseStepArgs,
    run: runCompare,
    failure: (error) => reportFailure(error, "bench:step"),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
