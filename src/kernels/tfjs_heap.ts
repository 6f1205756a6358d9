/**
 * The tfjs WebAssembly backend as simdnet's kernels see it: its emscripten
 * module (heap allocation) and its backend object (tensor offsets, outputs).
 * Types only, shared by the kernels and by `src/runtime/wasm_backend.ts`,
 * which starts the module.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";

/** The emscripten module of tfjs-backend-wasm, as far as simdnet uses it. */
export interface TfjsWasmModule {
  wasmMemory?: WebAssembly.Memory;
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  cwrap(
    name: string,
    ret: string | null,
    args: string[],
  ): (...a: number[]) => number;
  asm?: Record<string, unknown>;
  PThread?: { terminateAllThreads?(): void };
  tfjs?: Record<string, (...a: number[]) => number>;
}

/** The tfjs wasm backend, as far as the kernels use it. */
export type Backend = tf.KernelBackend & {
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
};

/** The heap byte offset of a tensor's data. */
export const offset = (b: Backend, t: tf.TensorInfo): number =>
  b.dataIdMap.get(t.dataId).memoryOffset;
