/** Which tensor backend to run on. `auto` picks the fastest that works here. */
export type BackendChoice = "auto" | "wasm" | "webgpu" | "cpu";

/** Options for {@linkcode initRuntime}. */
export interface RuntimeOptions {
  /** Backend to use; `auto` (default) prefers hardware WebGPU, then WASM SIMD with threads, then WASM SIMD on one thread (no Worker or SharedArrayBuffer), then `cpu` (no WebAssembly SIMD). */
  backend?: BackendChoice;
  /** Worker threads for WASM kernels; default: all cores (`navigator.hardwareConcurrency`), or env `SIMDNET_THREADS`. */
  threads?: number;
  /** Let `auto` choose a software WebGPU adapter (llvmpipe, lavapipe, SwiftShader). Default false. */
  allowSoftwareGpu?: boolean;
}

/** What {@linkcode probeWebGpu} found. */
export interface WebGpuInfo {
  available: boolean;
  description?: string;
  software?: boolean;
  /** Why there is no usable adapter, when `available` is false. */
  reason?: string;
}

/** What runs, and why. */
export interface RuntimeInfo {
  backend: "wasm" | "webgpu" | "cpu";
  reason: string;
  simd: boolean;
  relaxedSimd: boolean;
  threads: number;
  webgpu: WebGpuInfo;
}
