/**
 * The WebGPU path of the runtime: probing for an adapter, and starting or
 * stopping the tfjs `webgpu` backend on it.
 *
 * We build the device and the `WebGPUBackend` ourselves and register a factory
 * that returns the finished instance, instead of using the package's factory:
 *
 * - a factory that fails inside `tf.setBackend` leaves the engine half-switched
 *   (a pending init, or a backend name with no instance), and the next
 *   `tf.ready()` or op retries WebGPU because it has the highest priority;
 * - the package's factory reads adapter info after `requestDevice` and passes
 *   a nested feature array, both of which break on some Deno versions;
 * - it has no timeouts and cannot refuse a software (CPU-emulated) adapter.
 *
 * Every failure unregisters `webgpu`, destroys the device and switches back to
 * whichever backend was active before, so tfjs stays usable.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import type { WebGpuInfo } from "./types.ts";
import {
  DEFAULT_WEBGPU_TIMEOUT_MS,
  defaultGpu,
  errorText,
  findAdapter,
  type FoundAdapter,
  type GpuLike,
  NO_WEBGPU_API,
  openDevice,
  probeAdapter,
  withTimeout,
} from "./webgpu_adapter.ts";

export type { GpuAdapterLike, GpuLike } from "./webgpu_adapter.ts";
export { isSoftwareAdapter } from "./webgpu_adapter.ts";

/** The tfjs backend name this module registers. */
export const WEBGPU_BACKEND = "webgpu";

/** Same priority the package uses: above wasm (2) and cpu (1). */
const WEBGPU_PRIORITY = 3;

/** A probe should answer fast; a start may include a slow first compile. */
const PROBE_TIMEOUT_MS = 5_000;

// Importing tfjs-backend-webgpu registered its own factory (see module doc).
// Drop it so that a bare `tf.ready()` cannot pick it; ours is registered only
// once a device is ready.
if (
  tf.getBackend() !== WEBGPU_BACKEND &&
  tf.findBackendFactory(WEBGPU_BACKEND) !== null
) {
  tf.removeBackend(WEBGPU_BACKEND);
}

/** Where a WebGPU start gave up; lets callers tell "no GPU" from "GPU broke". */
export type WebGpuStartStage =
  | "no-api"
  | "no-adapter"
  | "adapter"
  | "software-refused"
  | "device"
  | "backend"
  | "simulated"
  | "smoke-test"
  | "device-lost";

/** Why {@linkcode startWebGpu} failed. tfjs is left usable when this is thrown. */
export class WebGpuStartError extends Error {
  /** The step that failed. */
  readonly stage: WebGpuStartStage;

  /** Creates an error for `stage` with a message meant for the user. */
  constructor(stage: WebGpuStartStage, message: string) {
    super(message);
    this.name = "WebGpuStartError";
    this.stage = stage;
  }
}

/** Options for {@linkcode startWebGpu}. */
export interface WebGpuStartOptions {
  /** Accept a software adapter (llvmpipe, lavapipe, SwiftShader). */
  allowSoftware: boolean;
  /** Stand-in for `navigator.gpu`, for tests; `null` acts as "no WebGPU". */
  gpu?: GpuLike | null;
  /**
   * Fail on purpose after the backend has been registered and activated, the
   * latest point a real failure can occur, so tests exercise the full cleanup.
   */
  simulateFailure?: boolean;
  /** Bound on each WebGPU call, in ms; default 15 000. */
  timeoutMs?: number;
}

/** Options for {@linkcode probeWebGpu}. */
export interface WebGpuProbeOptions {
  /** Stand-in for `navigator.gpu`, for tests; `null` acts as "no WebGPU". */
  gpu?: GpuLike | null;
  /** Bound on the adapter request, in ms; default 5 000. */
  timeoutMs?: number;
}

interface ActiveGpu {
  device: GPUDevice;
  info: WebGpuInfo;
  lost: boolean;
}

let active: ActiveGpu | undefined;
/** Starts run one at a time: two racing starts would fight over the engine. */
let startQueue: Promise<unknown> = Promise.resolve();

function resolveGpu(gpu: GpuLike | null | undefined): GpuLike | undefined {
  return gpu === undefined ? defaultGpu() : gpu ?? undefined;
}

/**
 * Reports whether a WebGPU adapter exists, its name, and whether it is a
 * software rasterizer. Never throws, opens no device, touches no tfjs state.
 *
 * @example
 * ```ts
 * const gpu = await probeWebGpu();
 * if (gpu.available && !gpu.software) console.log("hardware GPU:", gpu.description);
 * ```
 */
export function probeWebGpu(
  options: WebGpuProbeOptions = {},
): Promise<WebGpuInfo> {
  return probeAdapter(
    resolveGpu(options.gpu),
    options.timeoutMs ?? PROBE_TIMEOUT_MS,
  );
}

/**
 * Makes `webgpu` the active tfjs backend, so that `tf.getBackend()` is
 * `"webgpu"`, after checking the device computes a small matMul correctly.
 * Calling it again while WebGPU is active and healthy reuses the device.
 *
 * Avoid `dataSync()`/`arraySync()` on this backend: its synchronous read-back
 * needs `OffscreenCanvas`, which Deno lacks. Use `await tensor.data()`.
 *
 * @throws {WebGpuStartError} when there is no adapter, the adapter is software
 * and `allowSoftware` is false, the device fails or is lost, or the smoke test
 * is wrong. tfjs is then back on the backend that was active before (if any)
 * and any other backend can be set.
 *
 * @example
 * ```ts
 * try {
 *   const { info } = await startWebGpu({ allowSoftware: false });
 *   console.log("on", info.description);
 * } catch (error) {
 *   await tf.setBackend("wasm");
 * }
 * ```
 */
export function startWebGpu(
  options: WebGpuStartOptions,
): Promise<{ info: WebGpuInfo }> {
  const run = startQueue.then(() => start(options));
  startQueue = run.catch(() => undefined);
  return run;
}

/**
 * Unregisters the `webgpu` backend and destroys its device. Tensors still on
 * that backend become unusable. If `webgpu` was active, no backend is active
 * afterwards: call `tf.setBackend` before using tfjs again. Safe to call when
 * WebGPU was never started.
 */
export function stopWebGpu(): void {
  const state = active;
  active = undefined;
  unregister();
  state?.device.destroy();
}

/**
 * Whether a device started by {@linkcode startWebGpu} is alive and `webgpu`
 * is the active tfjs backend. Turns false when the driver loses the device.
 */
export function isWebGpuActive(): boolean {
  return active !== undefined && !active.lost &&
    tf.getBackend() === WEBGPU_BACKEND;
}

/** The adapter to start on, or a {@linkcode WebGpuStartError} saying why none. */
async function usableAdapter(
  options: WebGpuStartOptions,
  timeoutMs: number,
): Promise<FoundAdapter> {
  let found;
  try {
    found = await findAdapter(resolveGpu(options.gpu), timeoutMs);
  } catch (error) {
    throw new WebGpuStartError(
      "adapter",
      `WebGPU unavailable: requesting an adapter failed: ${errorText(error)}`,
    );
  }
  if (typeof found === "string") {
    throw new WebGpuStartError(
      found === NO_WEBGPU_API ? "no-api" : "no-adapter",
      `WebGPU unavailable: ${found}`,
    );
  }
  if (found.software && !options.allowSoftware) {
    throw new WebGpuStartError(
      "software-refused",
      `WebGPU adapter "${found.description}" is a software rasterizer, ` +
        "slower than the WASM backend; refusing it (set allowSoftware / " +
        "allowSoftwareGpu to use it anyway)",
    );
  }
  return found;
}

async function start(
  options: WebGpuStartOptions,
): Promise<{ info: WebGpuInfo }> {
  const reusable = active !== undefined && !active.lost &&
    tf.getBackend() === WEBGPU_BACKEND && options.gpu === undefined &&
    options.simulateFailure !== true &&
    (options.allowSoftware || active.info.software !== true);
  if (reusable && active !== undefined) return { info: { ...active.info } };
  if (active !== undefined) stopWebGpu();

  const previous = currentBackend();
  const timeoutMs = options.timeoutMs ?? DEFAULT_WEBGPU_TIMEOUT_MS;
  const found = await usableAdapter(options, timeoutMs);
  const info: WebGpuInfo = {
    available: true,
    description: found.description,
    software: found.software,
  };
  let stage: WebGpuStartStage = "device";
  let device: GPUDevice | undefined;
  try {
    device = await openDevice(found.adapter, timeoutMs);
    const state: ActiveGpu = { device, info, lost: false };
    watchLoss(state);

    stage = "backend";
    const backend = new WebGPUBackend(device, found.rawInfo);
    unregister();
    tf.registerBackend(WEBGPU_BACKEND, () => backend, WEBGPU_PRIORITY);
    // The factory is synchronous and returns a finished instance, so this
    // cannot leave a pending init behind.
    if (!(await tf.setBackend(WEBGPU_BACKEND))) {
      throw new Error("tf.setBackend('webgpu') returned false");
    }

    if (options.simulateFailure === true) {
      stage = "simulated";
      throw new WebGpuStartError(
        "simulated",
        "WebGPU start failed on purpose (simulateFailure: true)",
      );
    }
    stage = "smoke-test";
    await smokeTest(timeoutMs);
    if (state.lost) {
      stage = "device-lost";
      throw new Error("the device was lost during start-up");
    }
    active = state;
    return { info: { ...info } };
  } catch (error) {
    unregister();
    device?.destroy();
    await restoreBackend(previous);
    if (error instanceof WebGpuStartError) throw error;
    throw new WebGpuStartError(
      stage,
      `WebGPU start failed at ${stage} on "${found.description}": ` +
        errorText(error),
    );
  }
}

function watchLoss(state: ActiveGpu): void {
  state.device.lost.then((lostInfo) => {
    state.lost = true;
    // "destroyed" is us tearing it down; anything else is the driver.
    if (lostInfo.reason !== "destroyed" && active === state) {
      console.warn(
        `simdnet: WebGPU device lost (${lostInfo.message}); tensors on the ` +
          "webgpu backend are gone, start the runtime again to fall back",
      );
    }
  }, () => undefined);
}

/** The active backend's name, or undefined before any backend was set. */
function currentBackend(): string | undefined {
  // tfjs types this as string, but it is undefined/null until a backend is set.
  const name: string | null | undefined = tf.getBackend();
  return name ?? undefined;
}

function unregister(): void {
  if (tf.findBackendFactory(WEBGPU_BACKEND) === null) return;
  try {
    tf.removeBackend(WEBGPU_BACKEND);
  } catch (error) {
    // removeBackend disposes the instance; a lost device may make that throw,
    // but the registration is gone by then, which is all we need.
    console.warn(`simdnet: disposing the webgpu backend: ${errorText(error)}`);
  }
}

async function restoreBackend(previous: string | undefined): Promise<void> {
  if (previous === undefined || previous === WEBGPU_BACKEND) return;
  if (tf.findBackendFactory(previous) === null) return;
  try {
    await tf.setBackend(previous);
  } catch {
    // The engine has no active backend now, which is still a usable state:
    // the caller's next tf.setBackend picks one.
  }
}

/**
 * A 32×32 matMul of small integers, exact in float32, checked element by
 * element. It runs on the GPU (matMul is never handed to the CPU) and proves
 * the pipeline compiles, dispatches and reads back. 32×32 stays above tfjs's
 * CPU hand-off size so the upload path is exercised too.
 */
async function smokeTest(timeoutMs: number): Promise<void> {
  const n = 32;
  const a = new Float32Array(n * n);
  const b = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) {
    a[i] = (i % 7) - 3;
    b[i] = (i % 5) - 2;
  }
  const product = tf.tidy(() =>
    tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n]))
  );
  let got: Float32Array;
  try {
    got = await withTimeout(
      product.data<"float32">(),
      timeoutMs,
      "reading a matMul result back from the GPU",
    );
  } finally {
    product.dispose();
  }
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      let want = 0;
      for (let k = 0; k < n; k++) {
        want += (a[row * n + k] ?? 0) * (b[k * n + col] ?? 0);
      }
      const value = got[row * n + col];
      if (value !== want) {
        throw new Error(
          `smoke-test matMul gave ${value} at [${row}, ${col}], expected ${want}`,
        );
      }
    }
  }
}
