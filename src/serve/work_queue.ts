/**
 * A bounded queue that runs work in batches, one batch at a time: requests
 * that arrive while a batch runs wait and then go together, so a busy
 * server makes fewer, larger forward passes.
 *
 * @module
 */

/** The queue is full; the caller should answer 503 and retry later. */
export class QueueFullError extends Error {
  /** Creates the error. */
  constructor(limit: number) {
    super(`the inference queue is full (${limit} waiting); retry shortly`);
    this.name = "QueueFullError";
  }
}

/** Options of {@linkcode BatchQueue}. */
export interface BatchQueueOptions<T, R> {
  /** Runs one batch and returns one result per item, in order. */
  run: (items: T[]) => Promise<R[]>;
  /** Most items per batch; default 32. */
  maxBatch?: number;
  /** Most items waiting (not counting the batch that runs); default 64. */
  limit?: number;
}

interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/** Runs submitted items in batches; rejects new items when `limit` wait. */
export class BatchQueue<T, R> {
  /** Most items per batch. */
  readonly maxBatch: number;
  /** Most items waiting, counting places held by {@linkcode reserve}. */
  readonly limit: number;
  readonly #run: (items: T[]) => Promise<R[]>;
  #waiting: Waiting<T, R>[] = [];
  #reserved = 0;
  #running = 0;
  #scheduled = false;
  #batches = 0;
  #items = 0;

  /** Creates an idle queue. */
  constructor(options: BatchQueueOptions<T, R>) {
    this.maxBatch = options.maxBatch ?? 32;
    this.limit = options.limit ?? 64;
    for (const [k, v] of [["maxBatch", this.maxBatch], ["limit", this.limit]]) {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new RangeError(`${k} must be a whole number >= 1, got ${v}`);
      }
    }
    this.#run = options.run;
  }

  /** Items waiting for a batch. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Items in the batch that runs now. */
  get running(): number {
    return this.#running;
  }

  /** Batches run and items processed so far. */
  get stats(): { batches: number; items: number } {
    return { batches: this.#batches, items: this.#items };
  }

  /** Places held by {@linkcode reserve} and not yet used or released. */
  get reserved(): number {
    return this.#reserved;
  }

  /**
   * Holds `n` places for items still being prepared, so that a request
   * with many images is refused before any work rather than after it.
   * False (nothing held) when waiting items and held places would pass
   * `limit`. Each place is used by `submit(item, true)` or given back with
   * {@linkcode release}.
   */
  reserve(n: number): boolean {
    if (this.#waiting.length + this.#reserved + n > this.limit) return false;
    this.#reserved += n;
    return true;
  }

  /** Gives back `n` places held by {@linkcode reserve}. */
  release(n: number): void {
    this.#reserved = Math.max(0, this.#reserved - n);
  }

  /**
   * Queues `item` and resolves with its result once its batch has run.
   * Throws a {@linkcode QueueFullError} at once when `limit` items wait
   * (counting held places), unless `reserved` uses a place held before.
   */
  submit(item: T, reserved = false): Promise<R> {
    if (reserved && this.#reserved > 0) {
      this.#reserved--;
    } else if (this.#waiting.length + this.#reserved >= this.limit) {
      return Promise.reject(new QueueFullError(this.limit));
    }
    const done = new Promise<R>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
    });
    this.#schedule();
    return done;
  }

  // A macrotask, not a microtask: a forward pass blocks the thread, so
  // requests that arrived meanwhile are only read once the event loop turns;
  // waiting one turn lets them join the next batch.
  #schedule(): void {
    if (this.#scheduled || this.#running > 0 || this.#waiting.length === 0) {
      return;
    }
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#next();
    }, 0);
  }

  async #next(): Promise<void> {
    if (this.#running > 0 || this.#waiting.length === 0) return;
    const batch = this.#waiting.splice(0, this.maxBatch);
    this.#running = batch.length;
    try {
      const results = await this.#run(batch.map((w) => w.item));
      if (results.length !== batch.length) {
        throw new Error(
          `a batch of ${batch.length} gave ${results.length} results`,
        );
      }
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      batch.forEach((w) => w.reject(error));
    } finally {
      this.#batches++;
      this.#items += batch.length;
      this.#running = 0;
    }
    this.#schedule();
  }
}
