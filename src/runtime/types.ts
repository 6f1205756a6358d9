/**
 * Every {@linkcode BackendChoice}, in the order help texts list them; the
 * CLIs validate `--backend` against it.
 */
export const BACKEND_CHOICES = ["auto", "wasm", "webgpu", "cpu"] as const;

/** Which tensor backend to run on. `auto` picks the fastest that works here. */
export type BackendChoice = typeof BACKEND_CHOICES[number];

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

// The WebGPU shapes live here, beside WebGpuInfo, so that quiet_gpu.ts and
// webgpu_adapter.ts need not import each other.

/** The parts of a `GPUAdapter` we use; a real `GPUAdapter` satisfies it. */
export interface GpuAdapterLike {
  /** Optional features, e.g. `shader-f16`. */
  readonly features: { has(name: string): boolean };
  /** Buffer and workgroup limits, passed on to the device request. */
  readonly limits: GPUSupportedLimits;
  /** Current spelling; Deno 2.x has it. */
  readonly info?: GPUAdapterInfo;
  /** Older spelling of `info.isFallbackAdapter`, still found in some runtimes. */
  readonly isFallbackAdapter?: boolean;
  /** Older way to get `info`, before it became an attribute. */
  requestAdapterInfo?(): Promise<GPUAdapterInfo>;
  /** Opens the device tfjs-backend-webgpu runs on. */
  requestDevice(descriptor?: GPUDeviceDescriptor): Promise<GPUDevice>;
}

/** The parts of `navigator.gpu` we use; tests pass fakes of this shape. */
export interface GpuLike {
  requestAdapter(
    options?: GPURequestAdapterOptions,
  ): Promise<GpuAdapterLike | null>;
}
