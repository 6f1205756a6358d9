/**
 * The markdown table and target summary of the benchmark rows.
 *
 * @module
 */

import type { BenchRow, Task } from "./_protocol.ts";

/** Million FLOPs per image of each task (bench/_flops.ts counts them). */
export type TaskFlops = Readonly<Record<Task, number>>;

/**
 * Forward FLOPs of one 32x32x3 image through the seed CNN, in millions, as
 * bench/_flops.ts counts them from the model (tests/flops_test.ts checks).
 */
export const FORWARD_MFLOP = 53.16;

/**
 * The seed CNN's counts, for tables made without building the models: the
 * fast network's rows then get no figure (NaN, printed empty).
 */
export const SEED_FLOPS: TaskFlops = {
  train: 3 * FORWARD_MFLOP,
  infer: FORWARD_MFLOP,
  latency: FORWARD_MFLOP,
  "train-fast": NaN,
};

/**
 * Effective GFLOP/s of a row: images/s times its task's MFLOP per image
 * (a training image counts forward and both gradients, 3x forward).
 */
export function gflops(row: BenchRow, flops: TaskFlops = SEED_FLOPS): number {
  return (row.imagesPerSecond * flops[row.task]) / 1000;
}

/** The simdnet wasm row with the same task, batch and threads, if any. */
export function simdnetBaseline(
  row: BenchRow,
  rows: readonly BenchRow[],
): BenchRow | undefined {
  return rows.find((r) =>
    r.system === "simdnet" && r.backend === "wasm" &&
    r.threads === row.threads &&
    r.task === row.task && r.batch === row.batch
  );
}

/** `row`'s images/s over simdnet's (wasm, same threads and task), or null. */
export function ratioToSimdnet(
  row: BenchRow,
  rows: readonly BenchRow[],
): number | null {
  const base = simdnetBaseline(row, rows);
  return base ? row.imagesPerSecond / base.imagesPerSecond : null;
}

function fixed(v: number, small: number, digits: number): string {
  return v.toFixed(Math.abs(v) < small ? digits : Math.max(0, digits - 1));
}

/** What {@linkcode formatTable} shows beside the measured rows. */
export interface TableOptions {
  /** MFLOP per image of each task; default {@linkcode SEED_FLOPS}. */
  flops?: TaskFlops;
  /**
   * The WebAssembly SIMD peak of one core in GFLOP/s (bench:peak); adds a
   * "% wasm peak" column for the rows that run WebAssembly.
   */
  peakPerCore?: number;
}

const blankIfNaN = (v: number, small: number, digits: number) =>
  Number.isFinite(v) ? fixed(v, small, digits) : "";

/**
 * A markdown table of `rows` (in their order): images/s, ms per batch,
 * effective GFLOP/s in all and per thread (a row's threads are its cores),
 * the share of the per-core WebAssembly SIMD peak for wasm rows, the
 * worker process's peak RSS, and the ratio of images/s to simdnet wasm at
 * the same threads and task.
 */
export function formatTable(
  rows: readonly BenchRow[],
  o: TableOptions = {},
): string {
  const peak = o.peakPerCore;
  const header = [
    "system",
    "backend",
    "threads",
    "task",
    "batch",
    "images/s",
    "ms/batch",
    "GFLOP/s",
    "GFLOP/s/core",
    ...(peak ? ["% wasm peak"] : []),
    "peak RSS MB",
    "vs simdnet",
  ];
  const cells = rows.map((r) => {
    const ratio = ratioToSimdnet(r, rows);
    const total = gflops(r, o.flops);
    const perCore = total / r.threads;
    return [
      r.system,
      r.backend,
      String(r.threads),
      r.task,
      String(r.batch),
      fixed(r.imagesPerSecond, 100, 1),
      fixed(r.msPerBatch, 10, 2),
      blankIfNaN(total, 10, 2),
      blankIfNaN(perCore, 10, 2),
      // Native rows (PyTorch, onnxruntime-node) may use wider vectors than
      // WebAssembly's 128 bits, and so may simdnet-unchecked (V8 fuses pairs
      // into 256-bit ones): a share of the 128-bit peak would mislead.
      ...(peak
        ? [
          r.backend === "wasm" && r.system !== "simdnet-unchecked"
            ? blankIfNaN((100 * perCore) / peak, 10, 1)
            : "",
        ]
        : []),
      r.peakRssMb === undefined ? "" : r.peakRssMb.toFixed(0),
      ratio === null ? "" : `${ratio.toFixed(2)}x`,
    ];
  });
  const right = (i: number) => i === 2 || i >= 4;
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => c[i]!.length))
  );
  const line = (c: string[]) =>
    `| ${
      c.map((v, i) => right(i) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))
        .join(" | ")
    } |`;
  const rule = `|${
    widths.map((w, i) => right(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))
      .join("|")
  }|`;
  return [line(header), rule, ...cells.map(line)].join("\n");
}

function find(
  rows: readonly BenchRow[],
  system: BenchRow["system"],
  task: BenchRow["task"],
  threads: number,
): BenchRow | undefined {
  return rows.find((r) =>
    r.system === system && r.task === task && r.threads === threads &&
    (system !== "simdnet" || r.backend === "wasm")
  );
}

/**
 * The targets of "faster than native" (issue #16), each with what this run
 * measured and whether it meets it; a target whose rows were not measured
 * is left out. Judged on the `simdnet` wasm and `pytorch` rows only
 * (never `simdnet-unchecked` or `pytorch-capped`).
 */
export function targetLines(rows: readonly BenchRow[]): string[] {
  const out: string[] = [];
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  const threads = [...new Set(rows.map((r) => r.threads))].sort((a, b) =>
    a - b
  );
  const most = threads.at(-1);
  const many = (t: number) => `${t} thread${t > 1 ? "s" : ""}`;
  const overPytorch = (task: BenchRow["task"], t: number) => {
    const s = find(rows, "simdnet", task, t);
    const p = find(rows, "pytorch", task, t);
    if (!s || !p) return;
    const x = s.imagesPerSecond / p.imagesPerSecond;
    out.push(
      `${TASK_NAMES[task]} batch ${s.batch}, ${many(t)}: simdnet ${
        x.toFixed(2)
      }x PyTorch (target >= 1.0x): ${verdict(x >= 1)}`,
    );
  };
  for (const t of threads) overPytorch("train", t);
  if (most !== undefined) {
    overPytorch("train-fast", most);
    overPytorch("infer", most);
    const s = find(rows, "simdnet", "infer", most);
    const o = find(rows, "onnxruntime-web", "infer", most);
    if (s && o) {
      const x = s.imagesPerSecond / o.imagesPerSecond;
      out.push(
        `inference batch ${s.batch}, ${many(most)}: simdnet ${
          x.toFixed(2)
        }x onnxruntime-web (target >= 3x): ${verdict(x >= 3)}`,
      );
    }
  }
  const s1 = find(rows, "simdnet", "latency", 1);
  const n1 = find(rows, "onnxruntime-node", "latency", 1);
  if (s1 && n1) {
    out.push(
      `latency batch 1, 1 thread: simdnet ${s1.msPerBatch.toFixed(2)} ms, ` +
        `onnxruntime-node ${n1.msPerBatch.toFixed(2)} ms (target <=): ${
          verdict(s1.msPerBatch <= n1.msPerBatch)
        }`,
    );
  }
  const one = find(rows, "simdnet", "train", 1);
  const all = most !== undefined && most > 1
    ? find(rows, "simdnet", "train", most)
    : undefined;
  if (one && all) {
    const x = all.imagesPerSecond / one.imagesPerSecond;
    out.push(
      `training batch ${one.batch}: simdnet ${many(most!)} ${
        x.toFixed(2)
      }x 1 thread (target >= 1.85x): ${verdict(x >= 1.85)}`,
    );
  }
  return out;
}

const TASK_NAMES: Record<BenchRow["task"], string> = {
  train: "training",
  "train-fast": "fast-network training",
  infer: "inference",
  latency: "latency",
};

/**
 * The lines under the table: what GFLOP/s counts for each model, the
 * WebAssembly SIMD peak the per-core figures compare with, what the other
 * columns mean, and with `unchecked` what simdnet-unchecked is.
 */
export function tableNotes(
  flops: TaskFlops,
  peak:
    | { perCore: number; allThreads: { threads: number; gflops: number } }
    | null,
  unchecked = false,
): string[] {
  const mflop = (v: number) => v.toFixed(2);
  const lines = [
    `GFLOP/s counts the direct convolutions and matrix products (2 FLOPs a multiply-add): ` +
    `seed CNN ${mflop(flops.infer)} MFLOP per image forward, ${
      mflop(flops.train)
    } per training image (3x); ` +
    `fast network ${
      mflop(flops["train-fast"])
    } MFLOP per training image. GFLOP/s/core is GFLOP/s over threads.`,
  ];
  if (peak) {
    lines.push(
      `WebAssembly SIMD peak (bench:peak, f32x4 multiply-adds): ${
        peak.perCore.toFixed(1)
      } GFLOP/s per core, ` +
        `${
          peak.allThreads.gflops.toFixed(1)
        } on ${peak.allThreads.threads} threads; ` +
        "'% wasm peak' is a wasm row's GFLOP/s/core over it (native rows may use wider vectors).",
    );
  }
  lines.push(
    "'peak RSS MB' is the worker process's high-water mark (VmHWM), shared by the tasks one worker ran; " +
      "'vs simdnet' is images/s over simdnet wasm's at the same threads and task.",
  );
  if (unchecked) {
    lines.push(
      "simdnet-unchecked: the same code with V8's WebAssembly bounds checks off and its 256-bit " +
        "revectorizer on (deno run --v8-flags=--no-wasm-bounds-checks,--experimental-wasm-revectorize); " +
        "Deno enables no trap handler, so simdnet's rows pay an explicit check on every load and store. " +
        "Unsafe outside a measurement; the targets use the simdnet rows.",
    );
  }
  return lines;
}
