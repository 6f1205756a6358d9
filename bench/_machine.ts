/**
 * A one-line description of the machine and its load, printed with results
 * so a table says where and under what load it was measured. Needs
 * `--allow-sys=cpus,loadavg` (Deno reads /proc only with --allow-all).
 *
 * @module
 */

import { cpus } from "node:os";

/** CPU model name, e.g. "AMD EPYC", or "unknown CPU". */
export function cpuModel(): string {
  try {
    return cpus()[0]?.model?.trim() || "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

/** The 1, 5 and 15 minute load averages, e.g. "0.31 0.52 0.60". */
export function loadAverage(): string {
  try {
    return Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

/** e.g. `2026-11-01, AMD EPYC, 2 cores, load 0.31 0.52 0.60, Deno 2.9.6`. */
export function machineLine(): string {
  const date = new Date().toISOString().slice(0, 10);
  const cores = navigator.hardwareConcurrency || 1;
  return `${date}, ${cpuModel()}, ${cores} cores, load ${loadAverage()}, Deno ${Deno.version.deno}`;
}
