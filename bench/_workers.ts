/**
 * The worker processes the benchmarks start, with the least permissions
 * each needs.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { WorkerSpec } from "./_harness.ts";
import { PYTORCH_SCRIPT, pytorchEnv } from "./_pytorch.ts";

const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Thread counts to compare: 1 and every core (just 1 on a 1-core machine). */
export function threadCounts(): number[] {
  const all = Math.max(1, navigator.hardwareConcurrency || 1);
  return all > 1 ? [1, all] : [1];
}

/**
 * V8's flags for `simdnet-unchecked`: no bounds checks on WebAssembly loads
 * and stores, and V8's (experimental) revectorizer, which fuses pairs of
 * 128-bit operations into 256-bit AVX2 ones and gives up wherever a bounds
 * check sits between them. Deno enables no trap handler, so every wasm
 * memory access of the default build carries an explicit check
 * (denoland/deno#35658); Node and Chrome use guard pages instead. The flags
 * drop WebAssembly's memory safety for the whole process: a measurement of
 * what the checks cost, never a way to serve.
 */
export const UNCHECKED_V8_FLAGS =
  "--v8-flags=--no-wasm-bounds-checks,--experimental-wasm-revectorize";

function denoWorker(
  script: string,
  permissions: string[],
  args: string[],
  root?: string,
  v8Flags: string[] = [],
): Pick<WorkerSpec, "command" | "args"> {
  // Another checkout (a baseline) runs with its own deno.json and scripts.
  const config = root ? `${root}/deno.json` : CONFIG;
  const file = root
    ? `${root}/bench/${script.replace("./", "")}`
    : here(script);
  return {
    command: Deno.execPath(),
    args: [
      "run",
      "--quiet",
      ...v8Flags,
      `--config=${config}`,
      ...permissions,
      file,
      ...args,
    ],
  };
}

/** Variants of {@linkcode simdnetWorker}. */
export interface SimdnetWorkerOptions {
  /** Include a software WebGPU adapter. */
  allowSoftwareGpu?: boolean;
  /**
   * The simdnet of another checkout (an earlier commit, for before/after
   * comparisons in one interleaved run), named `simdnet@base`.
   */
  baseline?: string;
  /** With {@linkcode UNCHECKED_V8_FLAGS}, named `simdnet-unchecked`. */
  unchecked?: boolean;
}

/** simdnet on `backend` with `threads` threads. */
export function simdnetWorker(
  backend: "wasm" | "cpu" | "webgpu",
  threads: number,
  o: SimdnetWorkerOptions = {},
): WorkerSpec {
  const extra = o.allowSoftwareGpu ? ["--allow-software-gpu"] : [];
  return {
    system: o.baseline
      ? "simdnet@base"
      : o.unchecked
      ? "simdnet-unchecked"
      : "simdnet",
    backend,
    threads,
    ...denoWorker(
      "./_simdnet_worker.ts",
      ["--allow-read", "--allow-env"],
      [`--backend=${backend}`, `--threads=${threads}`, ...extra],
      o.baseline,
      o.unchecked ? [UNCHECKED_V8_FLAGS] : [],
    ),
  };
}

/**
 * bench/pytorch_cnn.py under `python`, tuned as bench/_pytorch.ts says;
 * with `maxIsa`, oneDNN capped at that instruction set
 * (`ONEDNN_MAX_CPU_ISA`, e.g. AVX2: 256-bit vectors on a CPU with
 * AVX-512), named `pytorch-capped`.
 */
export function pytorchWorker(
  python: string,
  threads: number,
  maxIsa?: string,
): WorkerSpec {
  return {
    system: maxIsa ? "pytorch-capped" : "pytorch",
    backend: "cpu",
    threads,
    command: python,
    args: [PYTORCH_SCRIPT, `--threads=${threads}`, "--channels-last=yes"],
    env: pytorchEnv(threads, maxIsa),
  };
}

/** onnxruntime-web (WebAssembly) or onnxruntime-node (native CPU). */
export function ortWorker(
  runtime: "web" | "node",
  threads: number,
): WorkerSpec {
  const permissions = runtime === "node"
    ? ["--allow-read", "--allow-env", "--allow-ffi"]
    : ["--allow-read", "--allow-env"];
  return {
    system: runtime === "web" ? "onnxruntime-web" : "onnxruntime-node",
    backend: runtime === "web" ? "wasm" : "cpu",
    threads,
    ...denoWorker("./_ort_worker.ts", permissions, [
      `--runtime=${runtime}`,
      `--threads=${threads}`,
    ]),
  };
}
