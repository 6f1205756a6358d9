/**
 * Finding a WebGPU adapter and opening a device on it, without tfjs.
 *
 * Kept apart from the tfjs backend wiring in `webgpu.ts` so that probing stays
 * cheap (no device, no tfjs state touched) and so that tests can hand in a
 * stand-in for `navigator.gpu`.
 *
 * @module
 */

import { quietGpu } from "./quiet_gpu.ts";
import type { GpuAdapterLike, GpuLike, WebGpuInfo } from "./types.ts";

export type { GpuAdapterLike, GpuLike } from "./types.ts";

/** Adapter fields that may name the driver; any of them can reveal a CPU rasterizer. */
export interface AdapterDescription {
  /** `GPUAdapterInfo.vendor`, e.g. "mesa". */
  vendor?: string;
  /** `GPUAdapterInfo.architecture`. */
  architecture?: string;
  /** `GPUAdapterInfo.device`, e.g. "llvmpipe (LLVM 19, 256 bits)". */
  device?: string;
  /** `GPUAdapterInfo.description`. */
  description?: string;
  /** True for the user agent's fallback (software) adapter. */
  isFallbackAdapter?: boolean;
}

/** An adapter plus what we learnt about it before asking for a device. */
export interface FoundAdapter {
  /** The adapter itself. */
  adapter: GpuAdapterLike;
  /** The raw info object, handed on to tfjs (it reads vendor/architecture). */
  rawInfo: GPUAdapterInfo | undefined;
  /** A one-line name for messages, from the info fields. */
  description: string;
  /** True for a CPU rasterizer (llvmpipe, lavapipe, SwiftShader). */
  software: boolean;
}

/** Default bound on each WebGPU call; a wedged driver must not hang start-up. */
export const DEFAULT_WEBGPU_TIMEOUT_MS = 15_000;

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader/i;

/**
 * Limits tfjs-backend-webgpu sizes its shaders and buffers against; it asks
 * for the adapter's maxima, since the defaults (e.g. 128 MiB buffers, 256
 * invocations) are far below what most adapters offer.
 */
const RAISED_LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupSizeX",
  "maxComputeInvocationsPerWorkgroup",
] as const;

/**
 * Optional features tfjs can use: timestamps for `tf.time` kernel timings,
 * bgra8unorm storage for pixel import. Requested only when offered.
 */
const WANTED_FEATURES: readonly GPUFeatureName[] = [
  "timestamp-query",
  "bgra8unorm-storage",
];

/**
 * Whether an adapter is a CPU rasterizer (llvmpipe, lavapipe, SwiftShader)
 * rather than a GPU: such adapters work but are slower than our WASM kernels.
 *
 * @example
 * ```ts
 * isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }); // true
 * ```
 */
export function isSoftwareAdapter(info: AdapterDescription): boolean {
  if (info.isFallbackAdapter === true) return true;
  return [info.vendor, info.architecture, info.device, info.description]
    .some((field) => field !== undefined && SOFTWARE_NAMES.test(field));
}

/**
 * Rejects with `what timed out` after `ms` unless `promise` settles first.
 * The timer is always cleared, so no stray timer keeps the process alive.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `navigator.gpu`, or undefined where this Deno has no WebGPU. Its adapter
 * requests run with Mesa silenced (see `quiet_gpu.ts`).
 */
export function defaultGpu(): GpuLike | undefined {
  // `navigator.gpu` is typed as always present, but it is absent in builds
  // or contexts without WebGPU.
  const nav = globalThis.navigator as { gpu?: GpuLike } | undefined;
  return nav?.gpu ? quietGpu(nav.gpu) : undefined;
}

/** Text for errors when there is no `navigator.gpu` at all. */
export const NO_WEBGPU_API: string = typeof Deno === "undefined"
  ? "navigator.gpu is missing: this runtime has no WebGPU"
  : "navigator.gpu is missing: this Deno was built or run without WebGPU";

/** Text for errors when WebGPU exists but offers no adapter. */
export const NO_ADAPTER: string =
  "navigator.gpu.requestAdapter() returned null: no GPU driver is usable " +
  "(on Linux without a GPU, `apt-get install mesa-vulkan-drivers libvulkan1` " +
  "provides the llvmpipe software adapter)";

/**
 * Requests the high-performance adapter and reads its info *before* any
 * device exists: tfjs-backend-webgpu's own factory reads it afterwards, which
 * some runtimes (older Deno) do not support.
 *
 * Resolves to a reason string instead of an adapter when there is none.
 */
export async function findAdapter(
  gpu: GpuLike | undefined,
  timeoutMs: number,
): Promise<FoundAdapter | string> {
  if (gpu === undefined) return NO_WEBGPU_API;
  const adapter = await withTimeout(
    gpu.requestAdapter({ powerPreference: "high-performance" }),
    timeoutMs,
    "navigator.gpu.requestAdapter()",
  );
  if (adapter === null) return NO_ADAPTER;
  let rawInfo = adapter.info;
  if (rawInfo === undefined && adapter.requestAdapterInfo !== undefined) {
    rawInfo = await withTimeout(
      adapter.requestAdapterInfo(),
      timeoutMs,
      "GPUAdapter.requestAdapterInfo()",
    );
  }
  const described: AdapterDescription = {
    vendor: rawInfo?.vendor,
    architecture: rawInfo?.architecture,
    device: rawInfo?.device,
    description: rawInfo?.description,
    isFallbackAdapter: rawInfo?.isFallbackAdapter ?? adapter.isFallbackAdapter,
  };
  return {
    adapter,
    rawInfo,
    description: describeAdapter(described),
    software: isSoftwareAdapter(described),
  };
}

/** A one-line human name for an adapter, from whichever fields it filled in. */
export function describeAdapter(info: AdapterDescription): string {
  if (info.description) return info.description;
  const parts = [info.vendor, info.architecture, info.device]
    .filter((part): part is string => part !== undefined && part !== "");
  return parts.length > 0 ? parts.join(" ") : "unnamed WebGPU adapter";
}

/**
 * Opens a device with the limits and features tfjs wants. The feature list is
 * flat: tfjs's own factory pushes `["bgra8unorm-storage"]` as a nested array,
 * which only works where the binding happens to stringify it.
 */
export async function openDevice(
  adapter: GpuAdapterLike,
  timeoutMs: number,
): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = WANTED_FEATURES.filter((f) =>
    adapter.features.has(f)
  );
  return await withTimeout(
    adapter.requestDevice({ requiredFeatures, requiredLimits }),
    timeoutMs,
    "GPUAdapter.requestDevice()",
  );
}

/**
 * Reports whether a WebGPU adapter exists and whether it is software. Never
 * throws and opens no device, so it is cheap enough to call on every start.
 *
 * @param gpu `navigator.gpu` or a stand-in; undefined means "no WebGPU".
 */
export async function probeAdapter(
  gpu: GpuLike | undefined,
  timeoutMs: number = DEFAULT_WEBGPU_TIMEOUT_MS,
): Promise<WebGpuInfo> {
  try {
    const found = await findAdapter(gpu, timeoutMs);
    if (typeof found === "string") return { available: false, reason: found };
    return {
      available: true,
      description: found.description,
      software: found.software,
    };
  } catch (error) {
    return {
      available: false,
      reason: `WebGPU probe failed: ${errorText(error)}`,
    };
  }
}

/** The message of anything thrown, for embedding in our own errors. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
