/**
 * `deno run --allow-read --allow-env --allow-run --allow-sys=cpus,loadavg
 * bench/recipe_pytorch.ts [--threads 2] [-- ARGS]`
 *
 * Runs the PyTorch replica of the fast recipe (bench/pytorch_fast.py, the
 * reference of issue #14) with the Python and the environment that the
 * other PyTorch benchmarks use (bench/_pytorch.ts: jemalloc, OpenMP
 * OpenBLAS, `OMP_NUM_THREADS`, threads bound to cores), on the shared
 * CIFAR-10 copy (env `CIFAR10_DIR`, else `--data` in ARGS). Prints the
 * machine line, then the script's per-epoch lines and final accuracies;
 * ARGS go to the script (e.g. `--width 1`, `--seed 1`, `--epochs 9.9`,
 * `--held-out 5000` for the split of `train --recipe fast`, and for a smoke
 * test `--train-limit 300 --held-out-limit 200 --epochs 1`; `--batch 512
 * --profile-steps 3` times training steps op by op with torch.profiler
 * instead, on random images).
 * A full run takes about half an hour at width 0.5: run it on a quiet
 * machine only.
 *
 * Exit codes: the script's; 1 without a Python that imports torch.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { machineLine } from "./_machine.ts";
import { findPythonTorch, pytorchEnv } from "./_pytorch.ts";

/** Path of bench/pytorch_fast.py. */
export const PYTORCH_FAST_SCRIPT: string = fileURLToPath(
  new URL("./pytorch_fast.py", import.meta.url),
);

/**
 * Splits `args` into this wrapper's `--threads N` (default 2) and the
 * script's arguments (everything else, a `--` separator dropped).
 */
export function recipeArgs(args: readonly string[]): {
  threads: number;
  script: string[];
} {
  let threads = 2;
  const script: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") continue;
    if (a === "--threads") {
      threads = Number(args[++i]);
      if (!Number.isInteger(threads) || threads < 1) {
        throw new RangeError(
          `--threads needs a whole number >= 1, got ${args[i]}`,
        );
      }
      continue;
    }
    script.push(a);
  }
  return { threads, script: [...script, "--threads", String(threads)] };
}

async function main(args: string[]): Promise<number> {
  const { threads, script } = recipeArgs(args);
  const torch = await findPythonTorch();
  if (!torch) {
    console.error(
      "no Python with PyTorch found; on Debian: apt-get install -y " +
        "python3-torch libopenblas0-openmp libjemalloc2, or set SIMDNET_PYTHON",
    );
    return 1;
  }
  console.log(machineLine());
  console.log(`PyTorch ${torch.version} (${torch.python}), ${threads} threads`);
  const child = new Deno.Command(torch.python, {
    args: [PYTORCH_FAST_SCRIPT, ...script],
    env: pytorchEnv(threads),
    clearEnv: true,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
