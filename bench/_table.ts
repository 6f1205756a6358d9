/**
 * The markdown table and target summary of the benchmark rows.
 *
 * @module
 */

import type { BenchRow } from "./_protocol.ts";

/** Forward FLOPs of one 32x32x3 image through the seed CNN, in millions. */
export const FORWARD_MFLOP = 53.16;

/**
 * Effective GFLOP/s of the seed CNN: a training step counts as 3 forward
 * passes; NaN (printed empty) for the fast network's rows.
 */
export function gflops(row: BenchRow): number {
  if (row.task === "train-fast") return NaN;
  const perImage = FORWARD_MFLOP * (row.task === "train" ? 3 : 1);
  return (row.imagesPerSecond * perImage) / 1000;
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

const HEADER = [
  "system",
  "backend",
  "threads",
  "task",
  "batch",
  "images/s",
  "ms/batch",
  "GFLOP/s",
  "vs simdnet",
];
const RIGHT = new Set([2, 4, 5, 6, 7, 8]);

/**
 * A markdown table of `rows` (in their order), with effective GFLOP/s and
 * the ratio of images/s to simdnet wasm at the same threads and task.
 */
export function formatTable(rows: readonly BenchRow[]): string {
  const cells = rows.map((r) => {
    const ratio = ratioToSimdnet(r, rows);
    return [
      r.system,
      r.backend,
      String(r.threads),
      r.task,
      String(r.batch),
      fixed(r.imagesPerSecond, 100, 1),
      fixed(r.msPerBatch, 10, 2),
      Number.isNaN(gflops(r)) ? "" : fixed(gflops(r), 10, 2),
      ratio === null ? "" : `${ratio.toFixed(2)}x`,
    ];
  });
  const widths = HEADER.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => c[i]!.length))
  );
  const line = (c: string[]) =>
    `| ${
      c.map((v, i) =>
        RIGHT.has(i) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)
      ).join(" | ")
    } |`;
  const rule = `|${
    widths.map((w, i) =>
      RIGHT.has(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2)
    ).join("|")
  }|`;
  return [line(HEADER), rule, ...cells.map(line)].join("\n");
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

/** The project's targets, each with what this run measured. */
export function targetLines(rows: readonly BenchRow[]): string[] {
  const out: string[] = [];
  const threads = [...new Set(rows.map((r) => r.threads))].sort((a, b) =>
    a - b
  );
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  const most = threads[threads.length - 1];
  if (most !== undefined) {
    const s = find(rows, "simdnet", "infer", most);
    const o = find(rows, "onnxruntime-web", "infer", most);
    if (s && o) {
      const x = s.imagesPerSecond / o.imagesPerSecond;
      out.push(
        `inference batch ${s.batch}, ${most} threads: simdnet ${
          x.toFixed(2)
        }x onnxruntime-web ` +
          `(target >= 2x): ${verdict(x >= 2)}`,
      );
    }
  }
  for (const t of threads) {
    const s = find(rows, "simdnet", "latency", t);
    const o = find(rows, "onnxruntime-web", "latency", t);
    if (s && o) {
      out.push(
        `latency batch 1, ${t} thread${t > 1 ? "s" : ""}: simdnet ${
          s.msPerBatch.toFixed(2)
        } ms, ` +
          `onnxruntime-web ${o.msPerBatch.toFixed(2)} ms (target <=): ${
            verdict(s.msPerBatch <= o.msPerBatch)
          }`,
      );
    }
  }
  const one = find(rows, "simdnet", "train", 1);
  const all = most !== undefined && most > 1
    ? find(rows, "simdnet", "train", most)
    : undefined;
  if (one && all) {
    const x = all.imagesPerSecond / one.imagesPerSecond;
    out.push(
      `training batch ${one.batch}: simdnet ${most} threads ${
        x.toFixed(2)
      }x 1 thread (target >= 1.7x): ${verdict(x >= 1.7)}`,
    );
  }
  for (const t of threads) {
    const s = find(rows, "simdnet", "train", t);
    const p = find(rows, "pytorch", "train", t);
    if (s && p) {
      const x = s.imagesPerSecond / p.imagesPerSecond;
      out.push(
        `training batch ${s.batch}, ${t} thread${t > 1 ? "s" : ""}: simdnet ${
          x.toFixed(2)
        }x PyTorch ` +
          `(target >= 0.25x): ${verdict(x >= 0.25)}`,
      );
    }
  }
  return out;
}
