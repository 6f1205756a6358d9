/**
 * A pool of module workers that run simdnet's WebAssembly kernels on the
 * tfjs heap itself. Every worker instantiates the same kernel module over the
 * same shared `WebAssembly.Memory`, so a kernel call passes only a pointer to
 * its parameter block: tensors are never copied between threads.
 *
 * Calls are synchronous, like every tfjs kernel: the calling thread posts
 * the job to the workers, takes share 0 itself, and blocks on `Atomics.wait`
 * (allowed on Deno's main thread) until all shares are done.
 *
 * @module
 */
import { Worker } from "node:worker_threads";

type KernelFn = (params: number, tid: number, nt: number) => void;

// Control words in a small SharedArrayBuffer, separate from the heap.
const GEN = 0; // bumped for every job; workers wait on it
const FN = 1; // index into the pool's entry point names
const PARAMS = 2;
const NT = 3;
const DONE = 4; // workers that finished the current job
const FAILED = 5;
// Polls of a control word before a thread sleeps on it.
const SPIN = 20000;

// The worker runs from source text so that no file access is needed to start
// it (edge isolates and \`deno compile\` binaries have no source tree). It is
// a node:worker_threads worker because Deno's web Workers cannot be unref'd,
// and an idle pool must not keep the process alive. Jobs are signalled through
// Atomics.wait/notify: a message per job would cost more than small kernels.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", (d) => {
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
  const fns = d.names.map((n) => inst.exports[n]);
  const c = new Int32Array(d.ctrl);
  const tid = d.tid;
  // Read the generation before saying ready, or a job posted in between
  // would be missed and the caller would wait for it forever.
  let gen = Atomics.load(c, ${GEN});
  parentPort.postMessage("ready");
  for (;;) {
    // Kernels come in bursts (a training step, one inference): spin a few
    // tens of microseconds before sleeping, since waking a sleeping thread
    // costs about as much on a VM.
    for (let i = 0; i < ${SPIN} && Atomics.load(c, ${GEN}) === gen; i++);
    Atomics.wait(c, ${GEN}, gen);
    gen = Atomics.load(c, ${GEN});
    const nt = Atomics.load(c, ${NT});
    if (tid >= nt) continue;
    try {
      fns[Atomics.load(c, ${FN})](Atomics.load(c, ${PARAMS}), tid, nt);
    } catch (err) {
      Atomics.store(c, ${FAILED}, 1);
      console.error("simdnet kernel worker failed:", err);
    }
    Atomics.add(c, ${DONE}, 1);
    Atomics.notify(c, ${DONE});
  }
});
`;

// Browsers forbid `Atomics.wait` on their main thread (it throws there);
// the caller then spins on the control word instead, as emscripten's own
// pthread glue does on that thread.
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs kernel calls over `threads` threads sharing one memory (a thread
 * pool; nothing to do with pooling layers).
 */
export class ThreadPool {
  readonly #fns: KernelFn[];
  readonly #index: Map<string, number>;
  readonly #workers: Worker[];
  readonly #ctrl: Int32Array;
  readonly #canBlock: boolean;
  readonly #exports: WebAssembly.Exports;
  #limit: number;

  private constructor(
    names: readonly string[],
    fns: KernelFn[],
    workers: Worker[],
    ctrl: Int32Array,
    exports: WebAssembly.Exports,
  ) {
    this.#exports = exports;
    this.#index = new Map(names.map((n, i) => [n, i]));
    this.#fns = fns;
    this.#workers = workers;
    this.#ctrl = ctrl;
    this.#limit = workers.length + 1;
    this.#canBlock = workers.length === 0 || canBlock();
  }

  /**
   * Instantiates `module` on `memory` here and in `threads - 1` workers, to
   * run the entry points `names` (exports of the module taking
   * `(params, tid, nt)`). More than one thread needs a shared memory.
   */
  static async create(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    threads: number,
    names: readonly string[],
  ): Promise<ThreadPool> {
    const inst = new WebAssembly.Instance(module, { env: { memory } });
    const fns = names.map((n) => {
      const fn = inst.exports[n];
      if (typeof fn !== "function") {
        throw new Error(`simdnet: the kernel module exports no ${n}`);
      }
      return fn as KernelFn;
    });
    // Only workers read the control words: one thread needs no shared
    // buffer, and edge isolates have no SharedArrayBuffer.
    const ctrl = new Int32Array(
      threads > 1 ? new SharedArrayBuffer(64) : new ArrayBuffer(64),
    );
    const workers: Worker[] = [];
    if (threads > 1) {
      if (!(memory.buffer instanceof SharedArrayBuffer)) {
        throw new Error(
          "simdnet: kernel threads need a shared WebAssembly memory",
        );
      }
      try {
        const ready: Promise<void>[] = [];
        for (let tid = 1; tid < threads; tid++) {
          const w = new Worker(WORKER_SOURCE, { eval: true });
          workers.push(w);
          ready.push(
            new Promise((resolve, reject) => {
              w.once("message", () => resolve());
              w.once(
                "error",
                (e: Error) =>
                  reject(
                    new Error(
                      `simdnet: kernel worker failed to start: ${e.message}`,
                    ),
                  ),
              );
            }),
          );
          w.postMessage({ module, memory, ctrl: ctrl.buffer, tid, names });
        }
        await Promise.all(ready);
        for (const w of workers) w.unref();
      } catch (err) {
        for (const w of workers) void w.terminate();
        throw err;
      }
    }
    return new ThreadPool(names, fns, workers, ctrl, inst.exports);
  }

  /**
   * Calls a host-side export of the kernel module on this thread: a size
   * query such as `wino_conv_scratch(K, N)`, so that buffer layouts the
   * kernels depend on are computed by the kernels' own code.
   */
  query(name: string, ...args: number[]): number {
    const fn = this.#exports[name];
    if (typeof fn !== "function") {
      throw new Error(`simdnet: the kernel module exports no ${name}`);
    }
    return (fn as (...a: number[]) => number)(...args);
  }

  /** Threads that share each call, the calling thread included. */
  get threads(): number {
    return this.#workers.length + 1;
  }

  /** Threads each call uses by default (at most {@linkcode ThreadPool.threads}). */
  get limit(): number {
    return Math.min(this.#limit, this.threads);
  }

  set limit(n: number) {
    this.#limit = Math.max(1, Math.min(Math.floor(n), this.threads));
  }

  /** Runs `name` with the parameter block at heap offset `params`, on every thread. */
  run(name: string, params: number, threads: number = this.limit): void {
    const fn = this.#index.get(name);
    if (fn === undefined) {
      throw new Error(`simdnet: no kernel entry point ${name} in the pool`);
    }
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
      for (let i = 0; i < SPIN && Atomics.load(c, DONE) < nt - 1; i++);
      for (
        let d = Atomics.load(c, DONE);
        d < nt - 1;
        d = Atomics.load(c, DONE)
      ) {
        if (this.#canBlock) Atomics.wait(c, DONE, d);
      }
      if (Atomics.exchange(c, FAILED, 0) !== 0) {
        throw new Error(`simdnet: kernel ${name} failed in a worker thread`);
      }
    }
  }

  /** Stops the workers; the pool then runs on the calling thread only. */
  terminate(): void {
    for (const w of this.#workers) void w.terminate();
    this.#workers.length = 0;
  }
}
