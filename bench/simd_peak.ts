/**
 * `deno task bench:peak [--json] [--seconds S] [--rounds R] [--chains 4,8,12,16]`
 *
 * The WebAssembly SIMD peak of this machine: GFLOP/s of a loop of
 * independent `f32x4.relaxed_madd` chains (and of `f32x4.mul` +
 * `f32x4.add`, the plain-SIMD fallback) on 1 thread and on every core
 * (one worker and instance per core, the parallel part timed alone). The
 * loop is bench/_simd_peak_module.ts; the number of chains is the best of
 * those tried on 1 thread, since the best count (FMA latency x ports) is a
 * property of the core. bench:compare prints this peak per core beside the
 * effective GFLOP/s of each row, through {@linkcode measureSimdPeak}.
 *
 * It also times the loop of simdnet's 6x8 micro-kernel with its loads
 * (bench/_kernel_loop_module.ts) over a private and a shared memory: the
 * peak loop touches no memory, so it cannot show what bounds-checked loads
 * cost, nor the phases of a shared VM in which a neighbour slows loads and
 * leaves multiply-adds alone (2026-12-04, AMD EPYC: the kernel loop fell
 * from 57 to 34-37 GFLOP/s for seconds at a time while the peak loop stayed
 * at 57). bench:compare runs the same loop before each round as a probe.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpuFlags, machineLine } from "./_machine.ts";
import {
  flopsPerLoop,
  hasRelaxedSimd,
  instantiatePeak,
  type PeakLoop,
  type PeakVariant,
} from "./_simd_peak_module.ts";
import { instantiateKernel, kernelLoopGflops } from "./_kernel_loop_module.ts";
import type {
  PeakWorkerReply,
  PeakWorkerRequest,
} from "./_simd_peak_worker.ts";

/** Options of {@linkcode measureSimdPeak}. */
export interface PeakOptions {
  /** Chain counts tried on 1 thread (default 4, 8, 12, 16). */
  chains?: number[];
  /** Seconds each timed call aims at (default 0.3). */
  seconds?: number;
  /** Timed calls per configuration; the best counts (default 3). */
  rounds?: number;
  /** Threads of the parallel run (default every core). */
  threads?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One measured configuration. */
export interface PeakRow {
  variant: PeakVariant;
  chains: number;
  threads: number;
  gflops: number;
  gflopsPerThread: number;
}

/** What {@linkcode measureSimdPeak} found. */
export interface SimdPeak {
  rows: PeakRow[];
  /** Whether relaxed SIMD validated (else only mul+add ran). */
  relaxedSimd: boolean;
  /** The best GFLOP/s of 1 thread, any variant: the per-core peak. */
  perCore: number;
  /** The best GFLOP/s of all threads together, and how many. */
  allThreads: { threads: number; gflops: number };
  /**
   * GFLOP/s of the 6x8 micro-kernel's loop (bench/_kernel_loop_module.ts:
   * bounds-checked loads from L1) on 1 thread, over a private memory and
   * over a shared one (the threaded build's).
   */
  kernelLoop: { private: number; shared: number };
}

const UNROLL = 4;

/** A loop count that takes about `seconds` at `gflops`. */
function loopsFor(loop: PeakLoop, gflops: number, seconds: number): number {
  const n = Math.round((gflops * 1e9 * seconds) / flopsPerLoop(loop));
  return Math.max(1000, Math.min(2 ** 31 - 1, n));
}

/** GFLOP/s of one instance on this thread: warm-up, then the best of `rounds`. */
async function singleThread(
  loop: PeakLoop,
  seconds: number,
  rounds: number,
): Promise<{ gflops: number; loops: number }> {
  const { run } = await instantiatePeak(loop);
  // The first calls run V8's baseline code; a few short calls tier it up.
  let gflops = 0;
  let loops = 20_000;
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    run(loops, 1, 1);
    gflops = (loops * flopsPerLoop(loop)) / ((performance.now() - t) * 1e6);
    loops = loopsFor(loop, gflops, seconds / 10);
  }
  loops = loopsFor(loop, gflops, seconds);
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    run(loops, 1, 1);
    const rate = (loops * flopsPerLoop(loop)) / ((performance.now() - t) * 1e6);
    best = Math.max(best, rate);
  }
  return { gflops: best, loops };
}

/** Posts `request` to each worker and resolves with their replies. */
function ask(
  workers: Worker[],
  request: PeakWorkerRequest,
): Promise<PeakWorkerReply[]> {
  return Promise.all(
    workers.map((w) =>
      new Promise<PeakWorkerReply>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<PeakWorkerReply>) => resolve(e.data);
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`peak worker failed: ${e.message}`));
        };
        w.postMessage(request);
      })
    ),
  );
}

/**
 * GFLOP/s of `threads` workers together, each `loops` loops: from the
 * first start to the last end, the best of `rounds`.
 */
async function parallel(
  loop: PeakLoop,
  threads: number,
  loops: number,
  rounds: number,
): Promise<number> {
  const url = new URL("./_simd_peak_worker.ts", import.meta.url);
  const workers = Array.from(
    { length: threads },
    () => new Worker(url, { type: "module" }),
  );
  try {
    await ask(workers, { kind: "load", loop, warmup: Math.ceil(loops / 10) });
    let best = 0;
    for (let r = 0; r < rounds; r++) {
      const spans = await ask(workers, { kind: "go", n: loops }) as Array<
        { start: number; end: number }
      >;
      const ms = Math.max(...spans.map((s) => s.end)) -
        Math.min(...spans.map((s) => s.start));
      best = Math.max(
        best,
        (threads * loops * flopsPerLoop(loop)) / (ms * 1e6),
      );
    }
    return best;
  } finally {
    for (const w of workers) w.terminate();
  }
}

/**
 * Measures the WebAssembly SIMD peak: for each variant (relaxed madd when
 * the engine has it, and mul+add) the best chain count on 1 thread, then
 * that count on `threads` workers.
 */
export async function measureSimdPeak(o: PeakOptions = {}): Promise<SimdPeak> {
  const chainCounts = o.chains ?? [4, 8, 12, 16];
  const seconds = o.seconds ?? 0.3;
  const rounds = o.rounds ?? 3;
  const threads = o.threads ?? Math.max(1, navigator.hardwareConcurrency || 1);
  const log = o.log ?? (() => {});
  const relaxedSimd = hasRelaxedSimd();
  const variants: PeakVariant[] = relaxedSimd
    ? ["relaxed_madd", "mul+add"]
    : ["mul+add"];
  const rows: PeakRow[] = [];
  const row = (
    loop: PeakLoop,
    t: number,
    gflops: number,
  ): PeakRow => ({
    variant: loop.variant,
    chains: loop.chains,
    threads: t,
    gflops,
    gflopsPerThread: gflops / t,
  });
  for (const variant of variants) {
    let best: { loop: PeakLoop; gflops: number; loops: number } | null = null;
    for (const chains of chainCounts) {
      const loop = { variant, chains, unroll: UNROLL };
      const one = await singleThread(loop, seconds, rounds);
      log(
        `${variant} ${chains} chains, 1 thread: ${
          one.gflops.toFixed(1)
        } GFLOP/s`,
      );
      rows.push(row(loop, 1, one.gflops));
      if (!best || one.gflops > best.gflops) best = { loop, ...one };
    }
    if (best && threads > 1) {
      const all = await parallel(best.loop, threads, best.loops, rounds);
      log(
        `${variant} ${best.loop.chains} chains, ${threads} threads: ${
          all.toFixed(1)
        } GFLOP/s`,
      );
      rows.push(row(best.loop, threads, all));
    }
  }
  const kernelLoop = { private: 0, shared: 0 };
  for (const shared of [false, true]) {
    const instance = await instantiateKernel({ relaxed: relaxedSimd, shared });
    const gflops = kernelLoopGflops(instance, seconds * 1000, rounds);
    kernelLoop[shared ? "shared" : "private"] = gflops;
    log(
      `6x8 kernel loop, ${shared ? "shared" : "private"} memory, 1 thread: ${
        gflops.toFixed(1)
      } GFLOP/s`,
    );
  }
  const perCore = Math.max(
    0,
    ...rows.filter((r) => r.threads === 1).map((r) => r.gflops),
  );
  const most = Math.max(...rows.map((r) => r.threads));
  return {
    rows,
    relaxedSimd,
    perCore,
    kernelLoop,
    allThreads: {
      threads: most,
      gflops: Math.max(
        ...rows.filter((r) => r.threads === most).map((r) => r.gflops),
      ),
    },
  };
}

/** The peak as a markdown table, the best row per variant and threads marked. */
export function formatPeakTable(peak: SimdPeak): string {
  const best = new Map<string, number>();
  for (const r of peak.rows) {
    const key = `${r.variant}/${r.threads}`;
    best.set(key, Math.max(best.get(key) ?? 0, r.gflops));
  }
  const lines = [
    "| variant | chains | threads | GFLOP/s | GFLOP/s per thread |",
    "|---------|-------:|--------:|--------:|-------------------:|",
  ];
  for (const r of peak.rows) {
    const mark = best.get(`${r.variant}/${r.threads}`) === r.gflops ? " *" : "";
    lines.push(
      `| ${r.variant} | ${r.chains} | ${r.threads} | ${
        r.gflops.toFixed(1)
      }${mark} | ${r.gflopsPerThread.toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}

/** Runs `bench:peak` with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: "boolean", default: false },
      seconds: { type: "string", default: "0.3" },
      rounds: { type: "string", default: "3" },
      chains: { type: "string", default: "4,8,12,16" },
    },
  });
  const chains = values.chains.split(",").map(Number);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (
    chains.some((c) => !Number.isInteger(c) || c < 1 || c > 64) ||
    !(seconds > 0) || !Number.isInteger(rounds) || rounds < 1
  ) {
    console.error(
      "usage: deno task bench:peak [--json] [--seconds S] [--rounds R] [--chains 4,8,12,16]",
    );
    return 64;
  }
  const machine = machineLine(); // the load before the run
  const peak = await measureSimdPeak({
    chains,
    seconds,
    rounds,
    log: (line) => console.error(line),
  });
  if (values.json) {
    console.log(
      JSON.stringify({ machine, flags: cpuFlags(), ...peak }, null, 2),
    );
    return 0;
  }
  console.log(
    `WebAssembly SIMD peak (f32, 128-bit), best of ${rounds} calls of ~${seconds} s`,
  );
  console.log(machine);
  if (!peak.relaxedSimd) {
    console.log("relaxed SIMD: not available in this engine");
  }
  console.log();
  console.log(formatPeakTable(peak));
  console.log();
  console.log(
    `Peak per core: ${
      peak.perCore.toFixed(1)
    } GFLOP/s; all ${peak.allThreads.threads} threads: ` +
      `${
        peak.allThreads.gflops.toFixed(1)
      } GFLOP/s. A multiply-add is 2 FLOPs per lane; ` +
      "* marks the best chain count (latency x ports of the core).",
  );
  console.log(
    `The 6x8 micro-kernel's loop (8 bounds-checked loads from L1 per 12 ` +
      `multiply-adds, 1 thread): ${
        peak.kernelLoop.private.toFixed(1)
      } GFLOP/s over a private memory, ` +
      `${peak.kernelLoop.shared.toFixed(1)} over a shared one.`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
