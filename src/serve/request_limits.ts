/**
 * Reading request bodies within limits: a size limit (413), a deadline for
 * the whole body (408), and a byte budget shared by all requests so that
 * many concurrent uploads cannot buffer more than a set total (503).
 *
 * @module
 */

/** An answer with a status and a one-line JSON error. */
export class HttpError extends Error {
  /** Creates the error; `headers` go on the answer. */
  constructor(
    readonly status: number,
    message: string,
    readonly headers: HeadersInit = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The client went away while its request was read; nobody to answer. */
export class ClientGoneError extends Error {
  /** Creates the error. */
  constructor(readonly received: number, reason: string) {
    super(`the client went away after ${received} body bytes (${reason})`);
    this.name = "ClientGoneError";
  }
}

/** A JSON answer (one line) that caches nothing. */
export function json(
  status: number,
  body: unknown,
  headers?: HeadersInit,
): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("cache-control", "no-store");
  h.set("x-content-type-options", "nosniff");
  return new Response(JSON.stringify(body) + "\n", { status, headers: h });
}

/** Bytes buffered across all requests, against a fixed total. */
export class ByteBudget {
  #used = 0;
  /** Creates a budget of `limit` bytes. */
  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Takes `n` bytes if they fit; false (and nothing taken) otherwise. */
  take(n: number): boolean {
    if (this.#used + n > this.limit) return false;
    this.#used += n;
    return true;
  }

  /** Gives back `n` bytes. */
  give(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }
}

/** Limits of {@linkcode readBody}. */
export interface BodyLimits {
  /** Largest body in bytes (413 above). */
  maxBytes: number;
  /** Most milliseconds to receive the whole body (408 after). */
  timeoutMs: number;
  /** The shared budget; the caller gives back `held()` bytes when done. */
  budget: ByteBudget;
}

/** A body read so far and the budget it holds. */
export interface BodyRead {
  /** The body. */
  bytes: Uint8Array<ArrayBuffer>;
  /** Bytes taken from the budget (give them back when the request ends). */
  held: number;
}

function busy(budget: ByteBudget): HttpError {
  return new HttpError(
    503,
    `the server is buffering ${budget.used} bytes of uploads, its limit ` +
      `is ${budget.limit}; retry shortly`,
    { "retry-after": "1", connection: "close" },
  );
}

function joined(chunks: Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Reads a request body within `limits`. A declared length is checked and
 * taken from the budget before anything is read; without one (chunked) the
 * size and budget are counted while reading. On any failure the bytes taken
 * are given back before the error is thrown.
 */
export async function readBody(
  request: Request,
  limits: BodyLimits,
): Promise<BodyRead> {
  const { maxBytes, budget } = limits;
  const tooLarge = () =>
    new HttpError(
      413,
      `the body is larger than the limit of ${maxBytes} bytes`,
      {
        connection: "close",
      },
    );
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (request.body === null) return { bytes: new Uint8Array(0), held: 0 };
  let held = declared > 0 ? declared : 0;
  if (!budget.take(held)) {
    await request.body.cancel().catch(() => {});
    throw busy(budget);
  }
  const reader = request.body.getReader();
  let timedOut = false;
  // Cancelling the reader ends a read that waits on a stalled client.
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, limits.timeoutMs);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (error) {
        throw new ClientGoneError(size, (error as Error).message ?? "reset");
      }
      if (timedOut) {
        throw new HttpError(
          408,
          `the body did not arrive within ${limits.timeoutMs} ms ` +
            `(${size} bytes received)`,
          { connection: "close" },
        );
      }
      if (step.done) break;
      size += step.value.length;
      if (size > maxBytes) throw tooLarge();
      if (size > held) {
        if (!budget.take(size - held)) throw busy(budget);
        held = size;
      }
      chunks.push(step.value);
    }
  } catch (error) {
    budget.give(held);
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // A declared length larger than what came keeps only what came.
  budget.give(held - size);
  return { bytes: joined(chunks, size), held: size };
}
