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
  /** True when a WebGPU adapter was found. */
  available: boolean;
  /** The adapter's name, when there is one. */
  description?: string;
  /** True when the adapter is a CPU rasterizer. */
  software?: boolean;
  /** Why there is no usable adapter, when `available` is false. */
  reason?: string;
}

/** What runs, and why. */
export interface RuntimeInfo {
  /** The tfjs backend that runs. */
  backend: "wasm" | "webgpu" | "cpu";
  /** Why this backend, including why faster ones were passed over. */
  reason: string;
  /** True when this engine has WebAssembly SIMD. */
  simd: boolean;
  /** True when simdnet's kernels use relaxed-SIMD FMA. */
  relaxedSimd: boolean;
  /** Threads simdnet's kernels use (1 off the wasm backend). */
  threads: number;
  /** What the WebGPU probe found. */
  webgpu: WebGpuInfo;
}
