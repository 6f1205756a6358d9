/**
 * A one-line description of the machine and its load, printed with results
 * so a table says where and under what load it was measured: CPU model,
 * the SIMD flags that decide its peak (AVX2, FMA, AVX-512 on x86; NEON,
 * SVE on ARM), cores, load, Deno. Needs `--allow-sys=cpus,loadavg`; the
 * flags also need `--allow-run` (Deno reads /proc only with --allow-all,
 * so they come from `cat /proc/cpuinfo`), else they are left out.
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

// The flags that bound WebAssembly SIMD and native kernels, in print order.
// V8 uses AVX/FMA for 128-bit wasm SIMD; native libraries (oneDNN, BLAS)
// may use AVX-512. ARM's "asimd" is NEON.
const X86_FLAGS = ["avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile"];
const ARM_FLAGS: Record<string, string> = {
  asimd: "neon",
  neon: "neon",
  asimdhp: "fp16",
  sve: "sve",
};

/**
 * The SIMD flags of the first CPU in a /proc/cpuinfo text: x86's `flags`
 * line or ARM's `Features` line, only those that matter for peak speed.
 */
export function simdFlags(cpuinfo: string): string[] {
  const line = cpuinfo.match(/^(?:flags|Features)\s*:(.*)$/m)?.[1];
  if (line === undefined) return [];
  const have = new Set(line.trim().split(/\s+/));
  const x86 = X86_FLAGS.filter((f) => have.has(f));
  const arm = [
    ...new Set(
      Object.entries(ARM_FLAGS).filter(([f]) => have.has(f)).map(([, n]) => n),
    ),
  ];
  return [...x86, ...arm];
}

/**
 * The first CPU's family and model in a /proc/cpuinfo text: x86's `cpu
 * family` and `model` (family 25 is AMD Zen 3 and 4, 26 Zen 5: the flags
 * are the same, but Zen 4 runs AVX-512 on 256-bit units and Zen 5 on
 * 512-bit ones, which doubles native code's peak), ARM's implementer and
 * part; null when neither is there.
 */
export function cpuFamily(cpuinfo: string): string | null {
  const field = (name: string) =>
    cpuinfo.match(new RegExp(`^${name}\\s*:\\s*(\\S+)`, "m"))?.[1];
  const family = field("cpu family"), model = field("model");
  if (family !== undefined && model !== undefined) {
    return `family ${family} model ${model}`;
  }
  const implementer = field("CPU implementer"), part = field("CPU part");
  if (implementer !== undefined && part !== undefined) {
    return `implementer ${implementer} part ${part}`;
  }
  return null;
}

/** /proc/cpuinfo, or null where it cannot be read. */
function cpuInfo(): string | null {
  try {
    // Query, not request: a missing permission must not prompt mid-benchmark.
    const run = Deno.permissions.querySync({ name: "run", command: "cat" });
    if (run.state !== "granted") return null;
    const out = new Deno.Command("cat", {
      args: ["/proc/cpuinfo"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** This machine's SIMD flags, or null where /proc/cpuinfo cannot be read. */
export function cpuFlags(): string[] | null {
  const info = cpuInfo();
  return info === null ? null : simdFlags(info);
}

/**
 * e.g. `2026-11-01, AMD EPYC (family 26 model 2; avx avx2 fma avx512f), 2
 * cores, load 0.31 0.52 0.60, Deno 2.9.6`; family and flags are left out
 * when /proc/cpuinfo cannot be read.
 */
export function machineLine(): string {
  const date = new Date().toISOString().slice(0, 10);
  const cores = navigator.hardwareConcurrency || 1;
  const info = cpuInfo();
  const family = info === null ? null : cpuFamily(info);
  const flags = info === null
    ? ""
    : simdFlags(info).join(" ") || "no SIMD flags";
  const about = [family, flags].filter((part) => part).join("; ");
  const cpu = about ? `${cpuModel()} (${about})` : cpuModel();
  return `${date}, ${cpu}, ${cores} cores, load ${loadAverage()}, Deno ${Deno.version.deno}`;
}
