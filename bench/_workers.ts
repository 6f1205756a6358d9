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

function denoWorker(
  script: string,
  permissions: string[],
  args: string[],
  root?: string,
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
      `--config=${config}`,
      ...permissions,
      file,
      ...args,
    ],
  };
}

/**
 * simdnet on `backend` with `threads` threads; with `baseline`, the simdnet
 * of another checkout (an earlier commit, for before/after comparisons in
 * one interleaved run), named `simdnet@base`.
 */
export function simdnetWorker(
  backend: "wasm" | "cpu" | "webgpu",
  threads: number,
  allowSoftwareGpu = false,
  baseline?: string,
): WorkerSpec {
  const extra = allowSoftwareGpu ? ["--allow-software-gpu"] : [];
  return {
    system: baseline ? "simdnet@base" : "simdnet",
    backend,
    threads,
    ...denoWorker(
      "./_simdnet_worker.ts",
      ["--allow-read", "--allow-env"],
      [`--backend=${backend}`, `--threads=${threads}`, ...extra],
      baseline,
    ),
  };
}

/** bench/pytorch_cnn.py under `python`, tuned as bench/_pytorch.ts says. */
export function pytorchWorker(python: string, threads: number): WorkerSpec {
  return {
    system: "pytorch",
    backend: "cpu",
    threads,
    command: python,
    args: [PYTORCH_SCRIPT, `--threads=${threads}`, "--channels-last=yes"],
    env: pytorchEnv(threads),
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
