/**
 * The tensor runtime: starts tfjs on WebGPU (hardware adapters), WASM SIMD
 * with simdnet's kernels and threads, or the `cpu` backend, says which one
 * runs and why, and registers the gradients tfjs-core's npm entry lacks.
 *
 * ```ts
 * import { initRuntime, runtimeInfo } from "@simdnet/simdnet/runtime";
 *
 * const info = await initRuntime({ backend: "cpu" }); // or "auto" (the default)
 * console.log(info.backend, info.reason); // "cpu" 'forced by backend: "cpu"'
 * console.log(runtimeInfo() === info); // true
 * ```
 *
 * @module
 */

export {
  type InitOptions,
  initRuntime,
  resolveThreads,
  RuntimeError,
  runtimeInfo,
  setKernelThreads,
} from "./init.ts";
export { BACKEND_CHOICES } from "./types.ts";
export type {
  BackendChoice,
  GpuAdapterLike,
  GpuLike,
  RuntimeInfo,
  RuntimeOptions,
  WebGpuInfo,
} from "./types.ts";
export { registerGradients } from "./gradients.ts";
export {
  isSoftwareAdapter,
  isWebGpuActive,
  probeWebGpu,
  startWebGpu,
  stopWebGpu,
  type WebGpuProbeOptions,
  WebGpuStartError,
  type WebGpuStartOptions,
  type WebGpuStartStage,
} from "./webgpu.ts";
export type { AdapterDescription } from "./webgpu_adapter.ts";
export {
  hasSimd,
  hasThreads,
  type TfjsWasmBinaryName,
  type WasmSource,
} from "./wasm_backend.ts";
