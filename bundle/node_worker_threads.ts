/**
 * What the bundle gives for `node:worker_threads`: its `Worker` (source
 * text with `eval: true`, `message`/`error` events, `unref`, `terminate`)
 * over a web module Worker, so the same thread pool and tfjs pthread glue
 * run in a browser or an isolate that has `Worker` and shared memory. The
 * worker's code gets a `require("node:worker_threads")` whose `parentPort`
 * is the web worker's own message port.
 *
 * Only `bundle/build.ts` maps the specifier here; Deno runs the real module.
 *
 * @module
 */

// Runs in the worker before its code. `self.postMessage` is captured first:
// tfjs' pthread shim replaces the global one with a call to `parentPort`.
// A worker that sets `self.onmessage` itself (emscripten's) then receives
// messages directly, once, instead of through these listeners.
const PRELUDE = `
// tfjs' pthread shim assigns self = globalThis, which is a getter-only
// accessor in a browser's worker scope (a TypeError in strict code): an own
// writable property with the same value lets the assignment through.
try {
  Object.defineProperty(globalThis, "self", { value: globalThis, writable: true, configurable: true });
} catch {}
const __simdnetPost = self.postMessage.bind(self);
const __simdnetListeners = [];
const __simdnetPort = {
  on(type, fn) { if (type === "message") __simdnetListeners.push({ fn, once: false }); return this; },
  once(type, fn) { if (type === "message") __simdnetListeners.push({ fn, once: true }); return this; },
  postMessage(message, transfer) { __simdnetPost(message, transfer || []); },
};
self.onmessage = (e) => {
  for (const l of __simdnetListeners.slice()) {
    if (l.once) __simdnetListeners.splice(__simdnetListeners.indexOf(l), 1);
    l.fn(e.data);
  }
};
const require = (name) => {
  if (name === "node:worker_threads" || name === "worker_threads") return { parentPort: __simdnetPort };
  throw new Error("simdnet bundle: a worker cannot load " + name);
};
`;

type Listener = (value: unknown) => void;

/** Options of {@linkcode Worker}: only source text is supported. */
export interface WorkerOptions {
  /** Must be true: the worker runs the given source text. */
  eval?: boolean;
}

/** `node:worker_threads`' `Worker`, for source text, over a web Worker. */
export class Worker {
  readonly #worker: globalThis.Worker;
  readonly #listeners = new Map<string, { fn: Listener; once: boolean }[]>();

  /** Starts a module worker running `source` after the prelude above. */
  constructor(source: string, options: WorkerOptions = {}) {
    if (!options.eval) {
      throw new Error("simdnet bundle: workers run from source text only");
    }
    const blob = new Blob([PRELUDE, source], { type: "text/javascript" });
    // Not revoked: a browser may fetch the URL after the constructor returns.
    const url = URL.createObjectURL(blob);
    this.#worker = new globalThis.Worker(url, { type: "module" });
    this.#worker.onmessage = (e) => this.#emit("message", e.data);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#emit("error", new Error(e.message || "worker failed to start"));
    };
  }

  #emit(type: string, value: unknown): void {
    const list = this.#listeners.get(type) ?? [];
    this.#listeners.set(type, list.filter((l) => !l.once));
    for (const l of list) l.fn(value);
  }

  /** Adds a `message` or `error` listener. */
  on(type: string, fn: Listener): this {
    this.#listeners.set(type, [
      ...(this.#listeners.get(type) ?? []),
      { fn, once: false },
    ]);
    return this;
  }

  /** Adds a listener called at most once. */
  once(type: string, fn: Listener): this {
    this.#listeners.set(type, [
      ...(this.#listeners.get(type) ?? []),
      { fn, once: true },
    ]);
    return this;
  }

  /** Posts a message (structured clone; `transfer` moves buffers). */
  postMessage(message: unknown, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /**
   * Lets the process exit while the worker idles, where the engine can
   * (Deno's web Workers have no such switch, browsers need none).
   */
  unref(): void {
    (this.#worker as { unref?: () => void }).unref?.();
  }

  /** Stops the worker. */
  terminate(): Promise<number> {
    this.#worker.terminate();
    return Promise.resolve(0);
  }
}
