/**
 * Decoding and resizing uploaded images off the main thread, in a small
 * pool of workers with a time budget per image, so a slow image (a legal
 * 40-megapixel JPEG decodes in seconds in pure JavaScript) never holds up
 * `/healthz` or other requests.
 *
 * @module
 */

import type { DecodeJob, DecodeReply } from "./decode_worker.ts";

/** An image the decoder rejects (answered with 400). */
export class BadImageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BadImageError";
  }
}

/** An image that took longer than the budget to decode (answered with 422). */
export class DecodeTimeoutError extends Error {
  /** Creates the error. */
  constructor(readonly budgetMs: number) {
    super(
      `the image took longer than the decode budget of ${budgetMs} ms; ` +
        `send a smaller image`,
    );
    this.name = "DecodeTimeoutError";
  }
}

/** Options of {@linkcode DecodePool}. */
export interface DecodePoolOptions {
  /** Workers; 0 decodes on the calling thread (no budget then). */
  workers: number;
  /** Most milliseconds one image may take in a worker. */
  budgetMs: number;
  /** Model input height. */
  height: number;
  /** Model input width. */
  width: number;
  /** Largest decoded image in pixels. */
  maxPixels: number;
  /** The in-thread path: `Classifier.preprocess` (used without workers). */
  inThread: (bytes: Uint8Array) => Float32Array;
}

interface Job {
  bytes: Uint8Array;
  resolve: (x: Float32Array) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: (Job & { id: number; timer: ReturnType<typeof setTimeout> }) | null;
}

/** True where `Worker` exists (not in some edge isolates). */
export function workersAvailable(): boolean {
  return typeof Worker === "function";
}

/**
 * Runs image decodes in `workers` module workers, one image per worker at a
 * time, others waiting in order. A worker over the budget is terminated and
 * replaced, and its image fails with a {@linkcode DecodeTimeoutError}.
 */
export class DecodePool {
  readonly #options: DecodePoolOptions;
  readonly #slots: Slot[] = [];
  readonly #waiting: Job[] = [];
  #nextId = 1;
  #closed = false;
  #failedStarts = 0;
  /** Decodes started (in a worker or in-thread), timed out, and workers replaced. */
  readonly stats = { decodes: 0, timeouts: 0, replaced: 0 };

  /** Starts the workers (none when `workers` is 0 or `Worker` is missing). */
  constructor(options: DecodePoolOptions) {
    this.#options = options;
    const n = workersAvailable() ? options.workers : 0;
    try {
      for (let i = 0; i < n; i++) this.#slots.push(this.#spawn());
    } catch {
      // A Worker that cannot be made at all (a sandbox that forbids it):
      // decode in-thread, as where Worker is missing.
      for (const slot of this.#slots.splice(0)) slot.worker.terminate();
    }
  }

  /** Workers running (0: decodes run on the calling thread). */
  get workers(): number {
    return this.#slots.length;
  }

  /** Workers loaded and able to take a job. */
  get readyWorkers(): number {
    return this.#slots.filter((s) => s.ready).length;
  }

  /** The model input of one image; rejects with {@linkcode BadImageError} or {@linkcode DecodeTimeoutError}. */
  decode(bytes: Uint8Array): Promise<Float32Array> {
    if (this.#closed) return Promise.reject(new Error("the pool is closed"));
    if (this.#slots.length === 0) {
      this.stats.decodes++;
      try {
        return Promise.resolve(this.#options.inThread(bytes));
      } catch (error) {
        // As in the worker: what the decoders throw is about the bytes.
        return Promise.reject(
          error instanceof Error ? new BadImageError(error.message) : error,
        );
      }
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ bytes, resolve, reject });
      this.#dispatch();
    });
  }

  /** Terminates the workers; waiting decodes fail. */
  close(): void {
    this.#closed = true;
    for (const slot of this.#slots) {
      slot.worker.terminate();
      if (slot.job) {
        clearTimeout(slot.job.timer);
        slot.job.reject(new Error("the decode pool was closed"));
      }
    }
    this.#slots.length = 0;
    for (const job of this.#waiting.splice(0)) {
      job.reject(new Error("the decode pool was closed"));
    }
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./decode_worker.ts", import.meta.url), {
      type: "module",
    });
    const slot: Slot = { worker, ready: false, job: null };
    worker.onmessage = (event: MessageEvent<DecodeReply | { ready: true }>) => {
      const reply = event.data;
      if ("ready" in reply) {
        slot.ready = true;
        this.#failedStarts = 0;
        return this.#dispatch();
      }
      const job = slot.job;
      if (!job || reply.id !== job.id) return;
      clearTimeout(job.timer);
      slot.job = null;
      if (reply.ok) job.resolve(reply.input);
      else job.reject(new BadImageError(reply.message));
      this.#dispatch();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (!slot.ready) this.#failedStarts++;
      this.#replace(
        slot,
        new Error(`the decode worker failed: ${event.message}`),
      );
    };
    return slot;
  }

  // Terminating is the only way to stop a synchronous decode in progress.
  #replace(slot: Slot, error: unknown): void {
    slot.worker.terminate();
    const job = slot.job;
    if (job) clearTimeout(job.timer);
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    this.stats.replaced++;
    let next: Slot | null = null;
    if (this.#failedStarts < 3) {
      try {
        next = this.#spawn();
      } catch { /* as below */ }
    }
    if (next === null) {
      // Workers that cannot even load would be restarted forever: decode
      // in-thread from now on, as where Worker is missing.
      this.#slots.splice(index, 1);
    } else {
      this.#slots[index] = next;
    }
    job?.reject(error);
    if (this.#slots.length === 0) {
      for (const waiting of this.#waiting.splice(0)) {
        this.decode(waiting.bytes).then(waiting.resolve, waiting.reject);
      }
    }
    this.#dispatch();
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (!slot.ready || slot.job || this.#waiting.length === 0) continue;
      const job = this.#waiting.shift()!;
      const id = this.#nextId++;
      this.stats.decodes++;
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        this.#replace(slot, new DecodeTimeoutError(this.#options.budgetMs));
      }, this.#options.budgetMs);
      slot.job = { ...job, id, timer };
      const message: DecodeJob = {
        id,
        bytes: job.bytes,
        height: this.#options.height,
        width: this.#options.width,
        maxPixels: this.#options.maxPixels,
      };
      slot.worker.postMessage(message);
    }
  }
}
