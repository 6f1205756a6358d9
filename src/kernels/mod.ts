/**
 * simdnet's WebAssembly kernels for the tfjs `wasm` backend (Winograd and
 * implicit-GEMM convolutions, matrix products, pooling, Adam, dropout
 * masks, the relu gradient), built from `wasm/assembly/` and embedded in
 * the module, with the thread pool that runs them on the tfjs heap.
 * `initRuntime` (in `@simdnet/simdnet/runtime`) compiles and registers them;
 * this module is for inspecting them and for benchmarks.
 *
 * ```ts
 * import { compileKernels, TFJS_KERNEL_NAMES } from "@simdnet/simdnet/kernels";
 *
 * console.log(TFJS_KERNEL_NAMES.includes("Conv2DBackpropFilter")); // true
 * const variant = compileKernels(false); // the best variant this engine accepts
 * console.log(variant.module instanceof WebAssembly.Module); // true
 * ```
 *
 * @module
 */

export {
  DROPOUT_MASK,
  type DropoutMaskAttrs,
  FUSED_ADAM,
  type FusedAdamAttrs,
  RELU_GRAD,
} from "./custom_kernels.ts";
export type { KernelArgs, KernelDecl, KernelImpl } from "./decl.ts";
export {
  isSimdnetKernel,
  registerWasmKernels,
  stockWasmKernel,
} from "./register.ts";
export { ENTRY_NAMES, KERNELS, TFJS_KERNEL_NAMES } from "./table.ts";
export type { TfjsWasmModule } from "./tfjs_heap.ts";
export { ThreadPool } from "./thread_pool.ts";
export {
  compileKernels,
  HeapKernels,
  type KernelVariant,
} from "./wasm_kernels.ts";
