/**
 * What a kernel family declares (one file per family, listed in
 * `table.ts`): the tfjs kernels it implements and the kernel module entry
 * points, with their parameter blocks, it runs. Registration is a loop over
 * these declarations (`register.ts`).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Entry, ParamBlock } from "./params.ts";
import type { HeapKernels } from "./wasm_kernels.ts";

/** The arguments tfjs passes a kernel. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * A tfjs kernel's body on simdnet's heap kernels. `stock` is tfjs' own
 * implementation, for the cases simdnet leaves to it, or null where tfjs has
 * none (see {@linkcode fallback}).
 */
export type KernelImpl = (
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
) => tf.TensorInfo | tf.TensorInfo[];

/** One kernel family. */
export interface KernelDecl {
  /** The family, as its file is named. */
  readonly family: string;
  /** The tfjs backend its kernels are registered for. */
  readonly backend: "wasm";
  /** Implementations by tfjs kernel name (tfjs' own, or simdnet's custom ones). */
  readonly kernels: Readonly<Record<string, KernelImpl>>;
  /** Kernel module exports it runs, each with its parameter block. */
  readonly entries: readonly Entry[];
  /**
   * Host-side exports it calls through `ThreadPool.query` (buffer sizes
   * computed by the kernels' own code).
   */
  readonly queries?: readonly string[];
  /** Structs its blocks embed (generated as AssemblyScript classes). */
  readonly structs?: readonly ParamBlock[];
}

/** Throws unless every tensor is float32. */
export function requireFloat(kernel: string, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(
        `simdnet ${kernel}: expected float32 tensors, got ${t.dtype}`,
      );
    }
  }
}

/** Throws unless the data format is NHWC (or unset). */
export function requireNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(
      `simdnet ${kernel}: only NHWC is supported, got ${dataFormat}`,
    );
  }
}

/** tfjs' own kernel for a case simdnet does not cover; throws if there is none. */
export function fallback(
  stock: tf.KernelFunc | null,
  kernel: string,
  why: string,
): tf.KernelFunc {
  if (stock) return stock;
  throw new Error(
    `simdnet ${kernel}: ${why}, and tfjs has no wasm kernel for it`,
  );
}
