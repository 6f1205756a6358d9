/**
 * The process's peak resident memory (the high-water mark of its RSS), for
 * `train`'s summary and the benchmark rows.
 *
 * It is getrusage's `ru_maxrss` through `node:process`, which on Linux is
 * the same figure as VmHWM in /proc/self/status, in KiB: Deno lets a
 * program read /proc/self only with --allow-all, while resourceUsage()
 * needs no permission. Other systems count ru_maxrss in other units (bytes
 * on macOS), so they get no figure rather than a wrong one.
 *
 * @module
 */

import process from "node:process";

/** Peak resident memory of this process in bytes, or null where unknown. */
export function peakRssBytes(): number | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const kib = process.resourceUsage().maxRSS;
    return Number.isFinite(kib) && kib > 0 ? kib * 1024 : null;
  } catch {
    return null;
  }
}

/** Peak resident memory in MiB, rounded to 0.1, or null where unknown. */
export function peakRssMb(): number | null {
  const bytes = peakRssBytes();
  return bytes === null ? null : Math.round(bytes / 2 ** 20 * 10) / 10;
}
