/**
 * `bench:compare`'s probe of the machine, CPU by CPU: the kernel loop of
 * bench/_probe_worker.ts in a process pinned to each CPU with `taskset`.
 *
 * Why: on a shared VM one vCPU at a time can run far slower than the other
 * for minutes (2026-12-04, AMD EPYC, 2 cores: the loop pinned ran at 56.0
 * GFLOP/s on CPU 0 and 34.4 on CPU 1, and a 1-thread worker that started on
 * CPU 1 measured batch-1 latency at 1.04 ms against 0.65 on CPU 0), while a
 * probe in the benchmark's own process sees only the CPU it runs on. The
 * same tool pins the 1-thread workers, round by round ({@linkcode pinToCore}).
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const WORKER = fileURLToPath(new URL("./_probe_worker.ts", import.meta.url));

/** The loop's GFLOP/s on `cpu`, or null if it could not be measured there. */
export type PinnedRun = (cpu: number) => number | null;

/**
 * `taskset` with `args`, its standard output piped or not; null where it
 * cannot run (not Linux, no util-linux, or not allowed).
 */
function taskset(args: string[], piped: boolean): Deno.CommandOutput | null {
  try {
    return new Deno.Command("taskset", {
      args,
      stdout: piped ? "piped" : "null",
      stderr: "null",
    }).outputSync();
  } catch {
    return null;
  }
}

/** Runs bench/_probe_worker.ts under `taskset -c cpu`. */
export function tasksetRun(cpu: number): number | null {
  const out = taskset([
    "-c",
    String(cpu),
    Deno.execPath(),
    "run",
    "--quiet",
    `--config=${CONFIG}`,
    WORKER,
  ], true);
  if (!out?.success) return null;
  const gflops = Number(new TextDecoder().decode(out.stdout).trim());
  return Number.isFinite(gflops) && gflops > 0 ? gflops : null;
}

/** Each CPU's probe figures, one per round. */
export class PinnedProbe {
  /** perCpu[c][round]: the loop's GFLOP/s on CPU c before that round. */
  readonly perCpu: number[][];
  readonly #run: PinnedRun;

  constructor(cpus: number, run: PinnedRun = tasksetRun) {
    this.perCpu = Array.from({ length: cpus }, () => []);
    this.#run = run;
  }

  /**
   * A probe where pinning works here (the first CPU answers), else null:
   * the caller then probes in its own process.
   */
  static create(cpus: number, run: PinnedRun = tasksetRun): PinnedProbe | null {
    if (cpus < 2 || run(0) === null) return null;
    return new PinnedProbe(cpus, run);
  }

  /** One round: records every CPU's figure and returns the slowest (0 if one failed). */
  probe(): number {
    let slowest = Infinity;
    this.perCpu.forEach((figures, cpu) => {
      const gflops = this.#run(cpu) ?? 0;
      figures.push(gflops);
      slowest = Math.min(slowest, gflops);
    });
    return slowest;
  }
}

/**
 * Pins every thread of process `pid` to CPU `round % cores` (`taskset -a
 * -p`); returns false where that cannot be done (no taskset, not Linux).
 */
export function pinToCore(pid: number, round: number, cores: number): boolean {
  const args = ["-a", "-p", "-c", String(round % cores), String(pid)];
  return taskset(args, false)?.success ?? false;
}
