/**
 * Starts tfjs-backend-wasm under Deno with real threads.
 *
 * tfjs decides it runs in Node under Deno (it sees `process`), turns threads
 * off, halves the core count, and its emscripten glue would start classic
 * workers, which Deno does not have. Instead of editing the package we run
 * its own emscripten factory, taken as source text, in a scope where
 * `process` and `require` are undefined (so the glue takes its plain JS
 * path), `Worker` starts module workers, and `navigator.hardwareConcurrency`
 * is what makes the glue's thread cap equal the threads asked for. Each
 * pthread worker gets a small module shim that provides `importScripts` by
 * evaluating the same factory source.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as wasmPkg from "@tensorflow/tfjs-backend-wasm";
import threadedFactory from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js";
import threadedWorker from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
// The single-threaded glue: tfjs ships one for its SIMD and non-SIMD builds.
import singleFactory from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js";
import { createRequire } from "node:module";
import { Worker as NodeWorker } from "node:worker_threads";
import type { TfjsWasmModule } from "../kernels/tfjs_heap.ts";
import {
  callGlue,
  canEvaluateStrings,
  instantiateHook,
  precompiledWasm,
} from "./precompiled_wasm.ts";

export type { TfjsWasmModule } from "../kernels/tfjs_heap.ts";

/**
 * The tfjs WASM binaries simdnet runs, by their npm file names. The package's
 * non-SIMD `tfjs-backend-wasm.wasm` is not one: simdnet's kernels need SIMD
 * and that build lacks `Conv2DBackpropFilter`, so without SIMD the runtime
 * takes the tfjs `cpu` backend instead.
 */
export type TfjsWasmBinaryName =
  | "tfjs-backend-wasm-simd.wasm"
  | "tfjs-backend-wasm-threaded-simd.wasm";

/** Where a WASM binary comes from: its bytes, or a URL (file:, https:, data:). */
export type WasmSource = Uint8Array | ArrayBuffer | URL | string;

/** A started tfjs WASM module and how it was built. */
export interface LoadedTfjsWasm {
  /** The emscripten module, with tfjs' `cwrap`ped entry points. */
  module: TfjsWasmModule;
  /** Its heap; shared in the threaded build. */
  memory: WebAssembly.Memory;
  /** Which build: threaded SIMD, or single-threaded SIMD. */
  flavour: "threaded-simd" | "simd";
  /** Threads the build was started with (1 for `simd`). */
  threads: number;
}

// Importing the package registers tfjs' own `wasm` factory, which would load
// the single-threaded build the first time anything asks tfjs for a backend
// and leave the engine waiting on it. simdnet registers its own instead.
if (tf.findBackendFactory("wasm") != null) tf.removeBackend("wasm");

type Factory = (config: Record<string, unknown>) => Promise<TfjsWasmModule>;

/** The tfjs WASM binaries by build, as bytes: the SIMD build, and the threaded one. */
export interface TfjsWasmBinaries {
  /** `tfjs-backend-wasm-simd.wasm`. */
  simd: Uint8Array;
  /** `tfjs-backend-wasm-threaded-simd.wasm`. */
  threadedSimd: Uint8Array;
}

let embedded: TfjsWasmBinaries | null = null;

/**
 * Makes `binaries` the default of {@linkcode loadTfjsWasm} instead of the
 * npm package's files, for a bundle that carries them (no file system, no
 * `require.resolve` there). Either build is then taken by the threads asked.
 */
export function useEmbeddedWasmBinaries(binaries: TfjsWasmBinaries): void {
  embedded = binaries;
}

/** True once {@linkcode useEmbeddedWasmBinaries} supplied the binaries. */
export function hasEmbeddedWasmBinaries(): boolean {
  return embedded !== null;
}

/** Resolves a binary shipped in the npm package to a file URL. */
export function packageWasmUrl(name: TfjsWasmBinaryName): URL {
  const require = createRequire(import.meta.url);
  const path = require.resolve(`@tensorflow/tfjs-backend-wasm/dist/${name}`);
  return new URL(`file://${path}`);
}

/** Reads a WASM source into bytes. */
export async function readWasmSource(source: WasmSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const url = source instanceof URL ? source : new URL(source, "file:///");
  if (url.protocol === "file:") return await Deno.readFile(url);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

// Evaluates an emscripten factory's source with Node globals hidden, and
// `window` too: on a browser's main thread the glue's web path reads a
// variable of its module wrapper that `toString()` leaves behind (a
// ReferenceError in the bundle), while the path it takes in Deno needs
// nothing the page lacks.
function scopedFactory(src: string, scope: Record<string, unknown>): Factory {
  const names = ["process", "require", "window", ...Object.keys(scope)];
  const values = [undefined, undefined, undefined, ...Object.values(scope)];
  return new Function(...names, `return (${src});`)(...values) as Factory;
}

// Emscripten's pthread pool as web-Worker-shaped objects backed by
// node:worker_threads: Deno's web Workers cannot be unref'd, so eight idle
// pthread workers would keep every process alive after its work is done.
const pthreadWorkers: NodeWorker[] = [];

class PthreadWorker {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  readonly #w: NodeWorker;

  constructor(source: string) {
    this.#w = new NodeWorker(source, { eval: true });
    this.#w.on("message", (data: unknown) => this.onmessage?.({ data }));
    this.#w.on("error", (err: unknown) => this.onerror?.(err));
    pthreadWorkers.push(this.#w);
  }

  postMessage(message: unknown, transfer?: Transferable[]): void {
    this.#w.postMessage(message, transfer as never);
  }

  terminate(): void {
    void this.#w.terminate();
  }
}

function pthreadShim(
  factorySrc: string,
  workerSrc: string,
  cores: number,
): string {
  return `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (m, t) => parentPort.postMessage(m, t);
parentPort.on("message", (data) => self.onmessage && self.onmessage({ data }));
const FACTORY = ${JSON.stringify(factorySrc)};
const WORKER = ${JSON.stringify(workerSrc)};
const nav = { hardwareConcurrency: ${cores} };
self.importScripts = () => {
  self.WasmBackendModuleThreadedSimd =
    new Function("process", "require", "navigator", "return (" + FACTORY + ");")(undefined, undefined, nav);
};
new Function("process", "require", WORKER)(undefined, undefined);
`;
}

/**
 * Starts the emscripten module of tfjs-backend-wasm's SIMD build. `threads`
 * > 1 needs shared memory and workers and gives the threaded build; 1 gives
 * the single-threaded build, which needs neither (edge isolates).
 */
export async function loadTfjsWasm(options: {
  threads: number;
  binary?: WasmSource;
}): Promise<LoadedTfjsWasm> {
  const threaded = options.threads > 1;
  const flavour = threaded ? "threaded-simd" : "simd";
  const name: TfjsWasmBinaryName = threaded
    ? "tfjs-backend-wasm-threaded-simd.wasm"
    : "tfjs-backend-wasm-simd.wasm";
  // A module the platform compiled (usePrecompiledWasm) replaces the bytes
  // of the single-threaded build, unless the caller named a binary.
  const compiled = !threaded && options.binary === undefined
    ? precompiledWasm()?.tfjsSimd
    : undefined;
  const bytes = compiled ? undefined : await readWasmSource(
    options.binary ??
      (embedded
        ? (threaded ? embedded.threadedSimd : embedded.simd)
        : packageWasmUrl(name)),
  );
  // The glue caps its thread pool at hardwareConcurrency / 2.
  const cores = 2 * Math.max(1, options.threads);
  let module: TfjsWasmModule;
  if (threaded) {
    const factorySrc = threadedFactory.toString();
    // The worker source is a JS string literal holding "\n" escapes that must
    // survive one more round of evaluation.
    const workerSrc = String(
      (threadedWorker as { wasmWorkerContents: string }).wasmWorkerContents,
    ).replace(/\n/g, "\\n");
    const shim = pthreadShim(factorySrc, workerSrc, cores);
    const make = scopedFactory(factorySrc, {
      Worker: PthreadWorker,
      navigator: { hardwareConcurrency: cores },
    });
    module = await make({
      wasmBinary: bytes,
      locateFile: (p: string) => (p.endsWith(".worker.js") ? shim : p),
      mainScriptUrlOrBlob: "simdnet-shim",
    });
  } else {
    const config: Record<string, unknown> = compiled
      ? { instantiateWasm: instantiateHook(compiled) }
      : { wasmBinary: bytes };
    config.locateFile = (p: string) => p;
    // Isolates that forbid `new Function` get the glue as bundled, with
    // only `process` hidden; elsewhere the scoped copy also hides a page's
    // `window`, which is not configurable, keeping the glue on the one
    // path that Deno, pages and pthread workers all take.
    module = canEvaluateStrings()
      ? await scopedFactory(singleFactory.toString(), {
        navigator: { hardwareConcurrency: cores },
      })(config)
      : await callGlue(singleFactory as unknown as Factory, config);
  }
  // The pool has loaded: from now on idle pthreads must not hold the process.
  for (const w of pthreadWorkers) w.unref();
  const memory = module.wasmMemory ?? findMemory(module);
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, [
      "number",
    ]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, [
      "number",
      "number",
      "number",
    ]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  return { module, memory, flavour, threads: threaded ? options.threads : 1 };
}

function findMemory(module: TfjsWasmModule): WebAssembly.Memory {
  for (const v of Object.values(module.asm ?? {})) {
    if (v instanceof WebAssembly.Memory) return v;
  }
  throw new Error("simdnet: the tfjs WASM module exports no memory");
}

/**
 * Registers (replacing tfjs' own factory) and activates the `wasm` backend
 * on a loaded module. Returns the XNNPACK thread count tfjs reports.
 *
 * XNNPACK keeps one thread by default: every heavy training kernel runs in
 * simdnet's own pool, and XNNPACK's pool workers spin for milliseconds after
 * each op, taking the core that simdnet's workers need.
 */
export async function activateWasmBackend(
  loaded: LoadedTfjsWasm,
  xnnpackThreads = 1,
): Promise<number> {
  wasmPkg.setThreadsCount(xnnpackThreads);
  if (tf.findBackendFactory("wasm") != null) tf.removeBackend("wasm");
  const BackendWasm = (wasmPkg as unknown as {
    BackendWasm: new (m: TfjsWasmModule) => tf.KernelBackend;
  }).BackendWasm;
  const backend = new BackendWasm(loaded.module);
  tf.registerBackend("wasm", () => backend, 2);
  const ok = await tf.setBackend("wasm");
  if (!ok) throw new Error("simdnet: tfjs refused to start the wasm backend");
  return wasmPkg.getThreadsCount();
}

/** True when this engine validates a SIMD128 module. */
export function hasSimd(): boolean {
  // (module (func (drop (i32x4.splat (i32.const 0)))))
  return WebAssembly.validate(
    new Uint8Array([
      0,
      97,
      115,
      109,
      1,
      0,
      0,
      0,
      1,
      4,
      1,
      96,
      0,
      0,
      3,
      2,
      1,
      0,
      10,
      9,
      1,
      7,
      0,
      65,
      0,
      253,
      15,
      26,
      11,
    ]),
  );
}

/**
 * True when shared memory and workers exist, so threads can run. Edge
 * isolates (and browsers without cross-origin isolation) lack them.
 */
export function hasThreads(): boolean {
  try {
    if (
      typeof Worker !== "function" || typeof SharedArrayBuffer !== "function"
    ) {
      return false;
    }
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/** True when `memory` is shared; false too where `SharedArrayBuffer` is gone. */
export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === "function" &&
    memory.buffer instanceof SharedArrayBuffer;
}
