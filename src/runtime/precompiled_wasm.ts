/**
 * WebAssembly modules compiled by the platform, for isolates that forbid
 * compiling WebAssembly from bytes and evaluating strings (Cloudflare
 * Workers, Vercel Edge and other workerd/V8-isolate hosts). There a module
 * can only come from the deployment itself (`import m from "./x.wasm"`
 * yields a `WebAssembly.Module`), so the bundle ships the single-threaded
 * builds beside `dist/simdnet.js` and the worker hands them over with
 * {@linkcode usePrecompiledWasm} before the first classifier.
 *
 * @module
 */

import type { TfjsWasmModule } from "../kernels/tfjs_heap.ts";

/** File names the bundle writes beside `dist/simdnet.js`. */
export const TFJS_SIMD_FILE = "tfjs-backend-wasm-simd.wasm";
/** simdnet's relaxed-SIMD kernels without shared memory. */
export const RELAXED_KERNELS = "simdnet-kernels-relaxed-simd.wasm";
/** simdnet's plain-SIMD kernels without shared memory. */
export const PLAIN_KERNELS = "simdnet-kernels-simd.wasm";

const FILES = { tfjsSimd: TFJS_SIMD_FILE, kernels: RELAXED_KERNELS };

/** Platform-compiled modules of the single-threaded WASM runtime. */
export interface PrecompiledWasm {
  /** `tfjs-backend-wasm-simd.wasm`: tfjs' single-threaded SIMD build. */
  tfjsSimd: WebAssembly.Module;
  /**
   * simdnet's kernels without shared memory:
   * `simdnet-kernels-relaxed-simd.wasm` (relaxed FMA, V8 11.4 and later)
   * or `simdnet-kernels-simd.wasm` (plain SIMD, any engine with SIMD).
   */
  kernels: WebAssembly.Module;
  /** True for the relaxed-SIMD kernel file, false for the plain one. */
  relaxedSimd: boolean;
}

let precompiled: PrecompiledWasm | null = null;

/**
 * Makes the single-threaded runtime start from `modules` instead of
 * compiling embedded bytes. Threads, where the platform has them, still
 * start from bytes: hosts that forbid compiling have no workers either.
 */
export function usePrecompiledWasm(modules: PrecompiledWasm): void {
  for (const key of ["tfjsSimd", "kernels"] as const) {
    if (!(modules?.[key] instanceof WebAssembly.Module)) {
      throw new TypeError(
        `usePrecompiledWasm: ${key} must be a WebAssembly.Module, as ` +
          `\`import ${key} from "./${FILES[key]}"\` gives on Cloudflare ` +
          `Workers (Vercel Edge: "./${FILES[key]}?module")`,
      );
    }
  }
  if (typeof modules.relaxedSimd !== "boolean") {
    throw new TypeError(
      "usePrecompiledWasm: relaxedSimd must be true for " +
        `${RELAXED_KERNELS} and false for ${PLAIN_KERNELS}`,
    );
  }
  precompiled = { ...modules };
}

/** The modules given to {@linkcode usePrecompiledWasm}, if any. */
export function precompiledWasm(): PrecompiledWasm | null {
  return precompiled;
}

/**
 * Emscripten's `instantiateWasm` hook for a compiled module: instantiating
 * a `WebAssembly.Module` is allowed where compiling bytes is not.
 */
export function instantiateHook(
  module: WebAssembly.Module,
): (
  imports: WebAssembly.Imports,
  done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
) => Record<string, never> {
  return (imports, done) => {
    WebAssembly.instantiate(module, imports).then((instance) =>
      done(instance, module)
    );
    return {}; // emscripten's sign that the instance comes later
  };
}

/**
 * True when this engine compiles WebAssembly from bytes; false where the
 * host allows only its own compiled modules (workerd: "Wasm code
 * generation disallowed by embedder").
 */
export function canCompileBytes(): boolean {
  try {
    // The smallest module: magic and version.
    new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    return true;
  } catch {
    return false;
  }
}

/** True when this engine evaluates code from strings (`new Function`). */
export function canEvaluateStrings(): boolean {
  try {
    new Function("");
    return true;
  } catch {
    return false;
  }
}

/**
 * Calls an emscripten factory as bundled (no `new Function`), with a
 * `process` global hidden while it runs synchronously, which is when the
 * glue decides its environment: with it the glue would take its Node path
 * (`require("fs")`, `process.on`), which an isolate with Node
 * compatibility switched on cannot serve.
 */
export function callGlue(
  factory: (config: Record<string, unknown>) => Promise<TfjsWasmModule>,
  config: Record<string, unknown>,
): Promise<TfjsWasmModule> {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "process");
  const hide = saved?.configurable === true;
  if (hide) delete (globalThis as { process?: unknown }).process;
  try {
    return factory(config);
  } finally {
    if (hide) Object.defineProperty(globalThis, "process", saved!);
  }
}
