/**
 * Chooses, starts and reports the tensor backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { registerGradients } from "./gradients.ts";
import { type GpuLike, probeWebGpu, startWebGpu } from "./webgpu.ts";
import {
  activateWasmBackend,
  hasSimd,
  hasThreads,
  isSharedMemory,
  type LoadedTfjsWasm,
  loadTfjsWasm,
  type WasmSource,
} from "./wasm_backend.ts";
import { canCompileBytes, precompiledWasm } from "./precompiled_wasm.ts";
import { compileKernels, HeapKernels } from "../kernels/wasm_kernels.ts";
import { ThreadPool } from "../kernels/thread_pool.ts";
import { registerWasmKernels } from "../kernels/register.ts";
import { ENTRY_NAMES } from "../kernels/table.ts";
import type {
  BackendChoice,
  RuntimeInfo,
  RuntimeOptions,
  WebGpuInfo,
} from "./types.ts";

export type {
  BackendChoice,
  RuntimeInfo,
  RuntimeOptions,
  WebGpuInfo,
} from "./types.ts";

/** Options of {@linkcode initRuntime} beyond the common ones. */
export interface InitOptions extends RuntimeOptions {
  /**
   * The tfjs WASM binary to run, as bytes or a URL, instead of the file in
   * the npm package: give bytes to run with no file-system access.
   */
  wasmBinary?: WasmSource;
  /** Stand-in for `navigator.gpu` (tests); `null` acts as "no WebGPU". */
  gpu?: GpuLike | null;
}

/** A runtime option that cannot work; the message says which and why. */
export class RuntimeError extends Error {
  /** Always "RuntimeError". */
  override name = "RuntimeError";
}

interface WasmState {
  loaded: LoadedTfjsWasm;
  kernels: HeapKernels;
}

let wasmState: WasmState | null = null;
let current: RuntimeInfo | null = null;

const BACKENDS: readonly BackendChoice[] = ["auto", "wasm", "webgpu", "cpu"];

/**
 * Threads from the option, else `SIMDNET_THREADS`, else every core. The
 * variable is read only when env access is already granted, so this never
 * raises a permission prompt (and works where `Deno.permissions` is absent):
 * `Classifier`s rely on it.
 */
export function resolveThreads(threads?: number): number {
  let n = threads;
  let from = "threads option";
  if (n === undefined) {
    const env = readEnv("SIMDNET_THREADS");
    if (env !== undefined && env !== "") {
      n = Number(env);
      from = "SIMDNET_THREADS";
    }
  }
  if (n === undefined) return Math.max(1, navigator.hardwareConcurrency || 1);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new RuntimeError(
      `${from} must be a whole number from 1 to 256, got ${n}`,
    );
  }
  return n;
}

function readEnv(name: string): string | undefined {
  // Query first: reading without permission would prompt on a terminal.
  try {
    if (
      Deno.permissions.querySync({ name: "env", variable: name }).state !==
        "granted"
    ) {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

async function startWasm(
  threads: number,
  binary?: WasmSource,
): Promise<WasmState> {
  if (wasmState) {
    if (
      wasmState.loaded.threads !== threads && threads > 1 &&
      wasmState.loaded.threads > 1
    ) {
      throw new RuntimeError(
        `the wasm backend already runs with ${wasmState.loaded.threads} threads in this process; ` +
          `start a new process to use ${threads}`,
      );
    }
    wasmState.kernels.pool.limit = Math.min(threads, wasmState.loaded.threads);
    await activate(wasmState.loaded);
    return wasmState;
  }
  if (!hasSimd()) {
    // Checked before loading anything, so a refusal leaves tfjs as it was.
    throw new RuntimeError(
      'this engine has no WebAssembly SIMD, which simdnet\'s WASM kernels need; use backend "cpu"',
    );
  }
  if (precompiledWasm() === null && !canCompileBytes()) {
    throw new RuntimeError(
      "this host compiles no WebAssembly from bytes (Cloudflare Workers, " +
        "Vercel Edge): import the bundle's tfjs-backend-wasm-simd.wasm and " +
        "simdnet-kernels-relaxed-simd.wasm as modules and pass them to " +
        "usePrecompiledWasm before the first classifier",
    );
  }
  // Without Worker or SharedArrayBuffer (edge isolates) the single-threaded
  // SIMD build runs with simdnet's kernels on the calling thread.
  const useThreads = threads > 1 && hasThreads();
  const loaded = await loadTfjsWasm({
    threads: useThreads ? threads : 1,
    binary,
  }).catch((error) => {
    throw binary === undefined ? readRefusal(error) : error;
  });
  await activate(loaded);
  const shared = isSharedMemory(loaded.memory);
  const pre = precompiledWasm();
  const variant = pre && !shared
    ? { relaxedSimd: pre.relaxedSimd, shared, module: pre.kernels }
    : compileKernels(shared);
  const pool = await ThreadPool.create(
    variant.module,
    loaded.memory,
    loaded.threads,
    ENTRY_NAMES,
  );
  const kernels = new HeapKernels(loaded.module, loaded.memory, pool, variant);
  registerWasmKernels(kernels);
  wasmState = { loaded, kernels };
  return wasmState;
}

/**
 * Finding the binary in node_modules makes `require.resolve` read
 * `src/runtime/node_modules`, then `src/node_modules`, then `node_modules`,
 * so Deno's refusal names the first, which is not the flag to add: name the
 * directory that holds them all.
 */
function readRefusal(error: unknown): unknown {
  const root = new URL("../../", import.meta.url);
  if (!isNotCapable(error) || root.protocol !== "file:") {
    return error;
  }
  const dir = decodeURIComponent(root.pathname).replace(/\/$/, "");
  return new Deno.errors.NotCapable(
    `Requires read access to "${dir}", run again with the --allow-read flag ` +
      "(tfjs' WASM binary is in its node_modules; or pass wasmBinary)",
  );
}

// A Deno sandbox refusal; false where `Deno` is absent (browsers, bundles
// run by other engines), so these checks cannot throw a ReferenceError.
function isNotCapable(error: unknown): boolean {
  return typeof Deno !== "undefined" &&
    error instanceof Deno.errors.NotCapable;
}

async function activate(loaded: LoadedTfjsWasm): Promise<void> {
  // Only simdnet registers `wasm` (the import removed tfjs' own factory), so
  // a registered factory means our backend instance is ready.
  if (tf.findBackendFactory("wasm") != null) {
    if (!(await tf.setBackend("wasm"))) {
      throw new RuntimeError("tfjs could not switch to wasm");
    }
    return;
  }
  await activateWasmBackend(loaded);
}

function wasmInfo(
  state: WasmState,
  reason: string,
  webgpu: WebGpuInfo,
): RuntimeInfo {
  return {
    backend: "wasm",
    reason,
    simd: true,
    relaxedSimd: state.kernels.variant.relaxedSimd,
    threads: state.kernels.pool.limit,
    webgpu,
  };
}

/**
 * Starts the tensor runtime and returns what runs and why.
 *
 * `auto` takes a hardware WebGPU adapter when one exists, else WASM SIMD
 * with threads, else WASM SIMD on one thread (no Worker or
 * SharedArrayBuffer, as in edge isolates), else (no WebAssembly SIMD) the
 * tfjs `cpu` backend. A software GPU adapter is never
 * chosen by `auto` unless `allowSoftwareGpu` is set; `backend: "webgpu"`
 * forces it. A forced backend that cannot start throws a {@linkcode RuntimeError}.
 *
 * @example
 * ```ts
 * import { initRuntime } from "./init.ts";
 * const info = await initRuntime({ backend: "cpu" });
 * console.log(info.backend); // "cpu"
 * ```
 */
export async function initRuntime(
  options: InitOptions = {},
): Promise<RuntimeInfo> {
  const backend = options.backend ?? "auto";
  if (!BACKENDS.includes(backend)) {
    throw new RuntimeError(
      `unknown backend "${backend}": use one of ${BACKENDS.join(", ")}`,
    );
  }
  const threads = resolveThreads(options.threads);
  tf.enableProdMode(); // skips per-op debug checks and tfjs' Node banner
  registerGradients();
  let info: RuntimeInfo;
  if (backend === "cpu") {
    await tf.setBackend("cpu");
    info = cpuInfo('forced by backend: "cpu"', {
      available: false,
      reason: "not probed (backend forced to cpu)",
    });
  } else if (backend === "webgpu") {
    try {
      const { info: gpu } = await startWebGpu({
        allowSoftware: true,
        gpu: options.gpu,
      });
      info = webgpuInfo(gpu, 'forced by backend: "webgpu"');
    } catch (err) {
      throw new RuntimeError(
        `backend "webgpu" cannot start: ${
          (err as Error).message
        }. Use backend "auto" or "wasm".`,
      );
    }
  } else if (backend === "wasm") {
    const state = await startWasm(threads, options.wasmBinary);
    const how = wasmHow(state, threads);
    info = wasmInfo(state, `forced by backend: "wasm"; ${how}`, {
      available: false,
      reason: "not probed (backend forced to wasm)",
    });
  } else {
    info = await autoSelect(threads, options);
  }
  current = info;
  return info;
}

async function autoSelect(
  threads: number,
  options: InitOptions,
): Promise<RuntimeInfo> {
  const gpu = await probeWebGpu({ gpu: options.gpu });
  let why: string;
  if (gpu.available && (!gpu.software || options.allowSoftwareGpu)) {
    try {
      const { info } = await startWebGpu({
        allowSoftware: options.allowSoftwareGpu ?? false,
      });
      return webgpuInfo(info, `WebGPU adapter "${info.description}"`);
    } catch (err) {
      why = `WebGPU failed to start (${(err as Error).message})`;
    }
  } else if (gpu.available) {
    why = `the only WebGPU adapter ("${gpu.description}") is software`;
  } else {
    why = `no WebGPU adapter (${gpu.reason})`;
  }
  if (!hasSimd()) {
    await tf.setBackend("cpu");
    return cpuInfo(`${why}; no WebAssembly SIMD; tfjs cpu`, gpu);
  }
  try {
    const state = await startWasm(threads, options.wasmBinary);
    return wasmInfo(state, `${why}; ${wasmHow(state, threads)}`, gpu);
  } catch (err) {
    // A sandbox refusal (reading the tfjs binary without --allow-read) is the
    // user's to fix, not a reason to run 57x slower on the cpu backend.
    if (isNotCapable(err)) throw err;
    await tf.setBackend("cpu");
    return cpuInfo(
      `${why}; WASM failed (${(err as Error).message}); tfjs cpu`,
      gpu,
    );
  }
}

function wasmHow(state: WasmState, asked: number): string {
  const n = state.kernels.pool.limit;
  if (n > 1) return `WASM SIMD with ${n} threads`;
  return asked > 1 && state.loaded.threads === 1
    ? "WASM SIMD, 1 thread (no Worker or SharedArrayBuffer here)"
    : "WASM SIMD, 1 thread";
}

function cpuInfo(reason: string, webgpu: WebGpuInfo): RuntimeInfo {
  return {
    backend: "cpu",
    reason,
    simd: hasSimd(),
    relaxedSimd: false,
    threads: 1,
    webgpu,
  };
}

function webgpuInfo(gpu: WebGpuInfo, reason: string): RuntimeInfo {
  return {
    backend: "webgpu",
    reason,
    simd: hasSimd(),
    relaxedSimd: false,
    threads: 1,
    webgpu: gpu,
  };
}

/** What the last {@linkcode initRuntime} started, or null before it ran. */
export function runtimeInfo(): RuntimeInfo | null {
  return current;
}

/**
 * Sets how many threads simdnet's own kernels use, up to the number the
 * runtime started with (XNNPACK keeps its own). For 1-vs-N comparisons.
 */
export function setKernelThreads(threads: number): number {
  if (!wasmState) throw new RuntimeError("the wasm backend is not started");
  wasmState.kernels.pool.limit = Math.max(
    1,
    Math.min(threads, wasmState.loaded.threads),
  );
  return wasmState.kernels.pool.limit;
}

/**
 * Sets the element count below which simdnet's element-wise kernels run on
 * the calling thread alone (16,384 at start: a worker's wake-up costs more
 * than that much work); returns the previous count. 0 splits every call, as
 * the kernel tests do to check the splits on small shapes.
 */
export function setSerialBelow(elements: number): number {
  if (!wasmState) throw new RuntimeError("the wasm backend is not started");
  const previous = wasmState.kernels.serialBelow;
  wasmState.kernels.serialBelow = Math.max(0, elements);
  return previous;
}
