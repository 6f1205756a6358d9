/**
 * Registers the kernel families of `table.ts` for the tfjs `wasm` backend,
 * replacing tfjs' own implementations and keeping them for the cases
 * simdnet leaves to them (and for benchmarks).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import type { KernelImpl } from "./decl.ts";
import { KERNELS } from "./table.ts";

// tfjs' own implementation of each kernel simdnet replaced.
const stockKernels = new Map<string, tf.KernelFunc>();
// The functions simdnet registered, to tell them from tfjs' own.
const ours = new WeakSet<tf.KernelFunc>();
const registered = new WeakSet<HeapKernels>();

/** tfjs' own wasm implementation of a kernel simdnet replaced (for benchmarks). */
export function stockWasmKernel(kernelName: string): tf.KernelFunc | undefined {
  return stockKernels.get(kernelName);
}

/** Whether `f` is a kernel function simdnet registered. */
export function isSimdnetKernel(f: tf.KernelFunc): boolean {
  return ours.has(f);
}

function register(
  kernelName: string,
  backendName: string,
  impl: KernelImpl,
  k: HeapKernels,
): void {
  const current = tf.getKernel(kernelName, backendName);
  if (current != null && !stockKernels.has(kernelName)) {
    stockKernels.set(kernelName, current.kernelFunc);
  }
  if (current != null) tf.unregisterKernel(kernelName, backendName);
  const stock = stockKernels.get(kernelName) ?? null;
  const kernelFunc: tf.KernelFunc = (args) => impl(args, k, stock);
  ours.add(kernelFunc);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}

/** Installs every declared kernel as the `wasm` backend's implementation. */
export function registerWasmKernels(k: HeapKernels): void {
  if (registered.has(k)) return;
  registered.add(k);
  for (const decl of KERNELS) {
    for (const [name, impl] of Object.entries(decl.kernels)) {
      register(name, decl.backend, impl, k);
    }
  }
}
