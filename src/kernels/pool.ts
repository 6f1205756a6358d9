/**
 * A pool of module workers that run simdnet's WebAssembly kernels on the
 * tfjs heap itself. Every worker instantiates the same kernel module over the
 * same shared `WebAssembly.Memory`, so a kernel call passes only a pointer to
 * its parameter block: tensors are never copied between threads.
 *
 * Calls are synchronous, like every tfjs kernel: the calling thread takes
 * share 0, the workers the rest, and the caller blocks on `Atomics.wait`
 * (allowed on Deno's main thread) until all shares are done.
 *
 * @module
 */

/** Names of the kernel entry points exported by `wasm/kernels.ts`. */
export const KERNEL_NAMES = [
  "matmul",
  "conv_gemm",
  "conv_filter_grad",
  "conv_filter_reduce",
  "flip_filter",
  "maxpool_grad",
] as const;

/** One kernel entry point. */
export type KernelName = typeof KERNEL_NAMES[number];

type KernelFn = (params: number, tid: number, nt: number) => void;

// Control words in a small SharedArrayBuffer, separate from the heap.
const GEN = 0; // bumped for every job; workers wait on it
const FN = 1; // index into KERNEL_NAMES; -1 asks workers to exit
const PARAMS = 2;
const NT = 3;
const DONE = 4; // workers that finished the current job
const FAILED = 5;

// The worker is a Blob module so that no file access is needed to start it
// (edge isolates and `deno compile` binaries have no source tree).
const WORKER_SOURCE = `
const names = ${JSON.stringify(KERNEL_NAMES)};
self.onmessage = (e) => {
  const { module, memory, ctrl, tid } = e.data;
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const fns = names.map((n) => inst.exports[n]);
  const c = new Int32Array(ctrl);
  self.postMessage("ready");
  let gen = Atomics.load(c, ${GEN});
  for (;;) {
    Atomics.wait(c, ${GEN}, gen);
    gen = Atomics.load(c, ${GEN});
    const fn = Atomics.load(c, ${FN});
    if (fn < 0) break;
    const nt = Atomics.load(c, ${NT});
    if (tid < nt) {
      try {
        fns[fn](Atomics.load(c, ${PARAMS}), tid, nt);
      } catch (err) {
        Atomics.store(c, ${FAILED}, 1);
        console.error("simdnet kernel worker failed:", err);
      }
      Atomics.add(c, ${DONE}, 1);
      Atomics.notify(c, ${DONE});
    }
  }
  self.close();
};
`;

/** Runs kernel calls over `threads` threads sharing one memory. */
export class KernelPool {
  readonly #fns: KernelFn[];
  readonly #workers: Worker[];
  readonly #ctrl: Int32Array;
  #limit: number;

  private constructor(fns: KernelFn[], workers: Worker[], ctrl: Int32Array) {
    this.#fns = fns;
    this.#workers = workers;
    this.#ctrl = ctrl;
    this.#limit = workers.length + 1;
  }

  /**
   * Instantiates `module` on `memory` here and in `threads - 1` workers.
   * More than one thread needs a shared memory.
   */
  static async create(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    threads: number,
  ): Promise<KernelPool> {
    const inst = new WebAssembly.Instance(module, { env: { memory } });
    const fns = KERNEL_NAMES.map((n) => inst.exports[n] as KernelFn);
    const ctrl = new Int32Array(new SharedArrayBuffer(64));
    const workers: Worker[] = [];
    if (threads > 1) {
      if (!(memory.buffer instanceof SharedArrayBuffer)) {
        throw new Error("simdnet: kernel threads need a shared WebAssembly memory");
      }
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
      try {
        const ready: Promise<void>[] = [];
        for (let tid = 1; tid < threads; tid++) {
          const w = new Worker(url, { type: "module" });
          workers.push(w);
          ready.push(
            new Promise((resolve, reject) => {
              w.onmessage = () => resolve();
              w.onerror = (e) => {
                e.preventDefault();
                reject(new Error(`simdnet: kernel worker failed to start: ${e.message}`));
              };
            }),
          );
          w.postMessage({ module, memory, ctrl: ctrl.buffer, tid });
        }
        await Promise.all(ready);
      } catch (err) {
        for (const w of workers) w.terminate();
        throw err;
      } finally {
        URL.revokeObjectURL(url);
      }
    }
    return new KernelPool(fns, workers, ctrl);
  }

  /** Threads that share each call, the calling thread included. */
  get threads(): number {
    return this.#workers.length + 1;
  }

  /** Threads each call uses by default (at most {@linkcode KernelPool.threads}). */
  get limit(): number {
    return Math.min(this.#limit, this.threads);
  }

  set limit(n: number) {
    this.#limit = Math.max(1, Math.min(Math.floor(n), this.threads));
  }

  /** Runs `name` with the parameter block at heap offset `params`, on every thread. */
  run(name: KernelName, params: number, threads: number = this.limit): void {
    const fn = KERNEL_NAMES.indexOf(name);
    const nt = Math.max(1, Math.min(threads, this.threads));
    const c = this.#ctrl;
    if (nt > 1) {
      Atomics.store(c, DONE, 0);
      Atomics.store(c, FN, fn);
      Atomics.store(c, PARAMS, params);
      Atomics.store(c, NT, nt);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
    }
    this.#fns[fn]!(params, 0, nt);
    if (nt > 1) {
      // Only workers with tid < nt take part and report.
      for (let d = Atomics.load(c, DONE); d < nt - 1; d = Atomics.load(c, DONE)) {
        Atomics.wait(c, DONE, d);
      }
      if (Atomics.exchange(c, FAILED, 0) !== 0) {
        throw new Error(`simdnet: kernel ${name} failed in a worker thread`);
      }
    }
  }

  /** Stops the workers; the pool then runs on the calling thread only. */
  terminate(): void {
    const c = this.#ctrl;
    Atomics.store(c, FN, -1);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
  }
}
