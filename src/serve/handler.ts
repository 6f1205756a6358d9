/**
 * The request handler of the classification service: `POST /classify`,
 * the page at `GET /`, `GET /healthz` (liveness), `GET /readyz`
 * (readiness) and `GET /metrics` (`./probes.ts`), with limits on
 * requests in flight, body size, time and buffered bytes, files per
 * request, queued inference work, and decode time.
 *
 * @module
 */

import type { Classifier, Prediction } from "./classifier.ts";
import {
  BadImageError,
  DecodePool,
  DecodeTimeoutError,
  workersAvailable,
} from "./decode_pool.ts";
import type { Lang } from "../data/classes.ts";
import { DEFAULT_MAX_PIXELS } from "../image/image_decode.ts";
import { classifierPage, type TabOptions } from "./page.ts";
import {
  type BodyLimits,
  ByteBudget,
  ClientGoneError,
  HttpError,
  json,
} from "./request_limits.ts";
import { metricsResponse, readyResponse } from "./probes.ts";
import { ServerMetrics } from "./server_metrics.ts";
import { ISOLATION_HEADERS, TabAssets } from "./tab_assets.ts";
import { describeTta } from "../train/tta.ts";
import { readUploads, type Upload } from "./uploads.ts";
import { BatchQueue, QueueFullError } from "./work_queue.ts";

/**
 * The parts of a {@linkcode Classifier} the service uses; `tta`, when
 * present, is reported by `/healthz`.
 */
export type ClassifierEngine =
  & Pick<
    Classifier,
    | "inputShape"
    | "classes"
    | "preprocess"
    | "predictPixels"
    | "top"
    | "runtime"
  >
  & Partial<Pick<Classifier, "tta">>;

/** Options of {@linkcode createClassifyHandler}; every limit has a default. */
export interface ClassifyServiceOptions {
  /** Largest request body in bytes; default 5 MB (5 * 1024 * 1024). Larger: 413. */
  maxBodyBytes?: number;
  /**
   * Most milliseconds to receive a whole body; default 30,000 (5 MB at
   * about 1.4 Mbit/s). Slower: 408 and the connection is closed.
   */
  bodyTimeoutMs?: number;
  /** Most body bytes buffered at once over all requests; default 64 MB. More: 503. */
  maxBufferedBytes?: number;
  /** Most `POST /classify` requests in flight; default 64. More: 503. */
  maxInFlight?: number;
  /** Most files in one multipart request; default 16. More: 413. */
  maxFiles?: number;
  /** Most images waiting for inference; default 64. More: 503. */
  queueLimit?: number;
  /** Most images per forward pass; default 32. */
  maxBatch?: number;
  /** Decode workers; default cores (at most 4); 0 decodes in the handler's thread. */
  decodeWorkers?: number;
  /**
   * Most milliseconds one image may take to decode in a worker; default
   * 10,000. Slower: 422. Measured on the 2-core VM (load 6): a 4 MP noise
   * JPEG took 1.6 s, a 20 MP photo-like one (2.9 MB) 14.4 s, so images
   * above about 12 MP need a larger budget. The clock starts when a worker
   * takes the image, not while it waits for one.
   */
  decodeBudgetMs?: number;
  /** Language of the page; default `en`. */
  lang?: Lang;
  /**
   * The bytes of `dist/simdnet.js` (`deno task bundle`). Given, and with a
   * classifier that has its model, the page offers "run in this tab": it
   * loads `/simdnet.js` and `/model/model.json` and classifies without
   * uploading the image.
   */
  bundle?: Uint8Array;
  /** Largest decoded image in pixels; default 40 million. Larger: 400. */
  maxPixels?: number;
  /** Receives unexpected errors (answered with 500); default `console.error`. */
  onError?: (error: unknown) => void;
  /** One line per dropped, refused or timed-out client; default `console.warn`. */
  log?: (line: string) => void;
  /** More values for the `limits` of `/metrics` (the server adds its front's). */
  limitMetrics?: () => Record<string, number>;
}

/** A request handler with its metrics, queue and decoders. */
export interface ClassifyService {
  /** Answers one request; never throws (unexpected errors become 500). */
  handler: (request: Request) => Promise<Response>;
  /** Counters and latencies shown by `/metrics`. */
  metrics: ServerMetrics;
  /** The inference queue. */
  queue: BatchQueue<Float32Array, Float32Array>;
  /** The decode workers (or the in-thread decoder). */
  decoder: DecodePool;
  /** `POST /classify` requests in flight now. */
  inFlight: () => number;
  /** Body bytes buffered now, over all requests. */
  buffered: ByteBudget;
  /**
   * Why `/readyz` answers 503 now (queue full, requests in flight at their
   * cap, or draining), or null when it answers 200.
   */
  notReady: () => string | null;
  /** Marks the service as stopping: `/readyz` answers 503 from now on. */
  drain: () => void;
  /** Stops the decode workers. */
  close: () => void;
}

/** The default of {@linkcode ClassifyServiceOptions.decodeWorkers}. */
export function defaultDecodeWorkers(): number {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(4, cores));
}

function topKOf(url: URL, classes: number): number {
  const raw = url.searchParams.get("topK") ?? url.searchParams.get("top_k");
  if (raw === null) return Math.min(3, classes);
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 1) {
    throw new HttpError(400, `topK must be a whole number >= 1, got ${raw}`);
  }
  return Math.min(k, classes);
}

function page(lang: Lang, inTab: TabOptions | null): Response {
  const nonce = crypto.randomUUID().replaceAll("-", "");
  // In the tab, the bundle is a same-origin script that compiles
  // WebAssembly, evaluates tfjs' emscripten glue with `new Function` and
  // starts its threads as blob: workers.
  const scripts = inTab
    ? `script-src 'nonce-${nonce}' 'self' 'unsafe-eval' 'wasm-unsafe-eval'; worker-src blob:`
    : `script-src 'nonce-${nonce}'`;
  return new Response(classifierPage(lang, nonce, inTab ?? undefined), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        `default-src 'none'; img-src blob: data:; style-src 'nonce-${nonce}'; ` +
        `${scripts}; connect-src 'self'; base-uri 'none'; form-action 'none'`,
      "x-content-type-options": "nosniff",
      ...ISOLATION_HEADERS,
    },
  });
}

function errorResponse(
  error: unknown,
  onError: (error: unknown) => void,
): Response {
  if (error instanceof HttpError) {
    return json(error.status, { error: error.message }, error.headers);
  }
  if (error instanceof BadImageError) {
    return json(400, { error: error.message });
  }
  if (error instanceof DecodeTimeoutError) {
    return json(422, { error: error.message });
  }
  if (error instanceof QueueFullError) {
    return json(503, { error: error.message }, { "retry-after": "1" });
  }
  onError(error);
  return json(500, { error: "internal error; see the server log" });
}

function inferenceQueue(
  classifier: ClassifierEngine,
  options: ClassifyServiceOptions,
): BatchQueue<Float32Array, Float32Array> {
  const [h, w, c] = classifier.inputShape;
  const size = h * w * c;
  const classes = classifier.classes;
  return new BatchQueue<Float32Array, Float32Array>({
    limit: options.queueLimit ?? 64,
    maxBatch: options.maxBatch ?? 32,
    run: async (items) => {
      const x = new Float32Array(items.length * size);
      items.forEach((item, i) => x.set(item, i * size));
      const probs = await classifier.predictPixels(x, items.length);
      return items.map((_, i) => probs.slice(i * classes, (i + 1) * classes));
    },
  });
}

/** What a request needs: the limits and parts of one service. */
class Service {
  readonly metrics = new ServerMetrics();
  readonly queue: BatchQueue<Float32Array, Float32Array>;
  readonly decoder: DecodePool;
  readonly limits: BodyLimits;
  readonly tab: TabAssets | null;
  inFlight = 0;
  dropped = 0;
  draining = false;
  readonly #log: (line: string) => void;
  readonly #onError: (error: unknown) => void;

  constructor(
    readonly classifier: ClassifierEngine,
    readonly options: ClassifyServiceOptions,
  ) {
    this.#onError = options.onError ?? ((e) => console.error(e));
    this.#log = options.log ?? ((line) => console.warn(line));
    this.limits = {
      maxBytes: options.maxBodyBytes ?? 5 * 1024 * 1024,
      timeoutMs: options.bodyTimeoutMs ?? 30_000,
      budget: new ByteBudget(options.maxBufferedBytes ?? 64 * 1024 * 1024),
    };
    const [h, w] = classifier.inputShape;
    this.tab = options.bundle && "model" in classifier && "labels" in classifier
      ? new TabAssets(options.bundle, classifier as Classifier)
      : null;
    this.queue = inferenceQueue(classifier, options);
    this.decoder = new DecodePool({
      workers: workersAvailable()
        ? options.decodeWorkers ?? defaultDecodeWorkers()
        : 0,
      budgetMs: options.decodeBudgetMs ?? 10_000,
      height: h,
      width: w,
      maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
      inThread: (bytes) => classifier.preprocess(bytes),
    });
  }

  /** Class probabilities of each file, decoded first, then queued. */
  async #infer(files: Upload[]): Promise<Float32Array[]> {
    // Places in the queue are held before any decode, and given back at the end.
    if (!this.queue.reserve(files.length)) {
      throw new QueueFullError(this.queue.limit);
    }
    let unused = files.length;
    try {
      // Every decode settles before any image is queued: a bad file fails
      // the request without inference work, and no place is used late.
      const decoded = await Promise.allSettled(
        files.map((f) => this.decoder.decode(f.bytes)),
      );
      const inputs = decoded.map((d, i) => {
        if (d.status === "fulfilled") return d.value;
        const name = files[i]!.name;
        if (name !== null && d.reason instanceof Error) {
          d.reason.message += ` (${name})`;
        }
        throw d.reason;
      });
      return await Promise.all(inputs.map((x) => {
        unused--;
        return this.queue.submit(x, true);
      }));
    } finally {
      this.queue.release(unused);
    }
  }

  async #classify(request: Request, url: URL): Promise<Response> {
    const topK = topKOf(url, this.classifier.classes);
    const maxFiles = this.options.maxFiles ?? 16;
    const { files, held } = await readUploads(request, this.limits, maxFiles);
    try {
      const probs = await this.#infer(files);
      this.metrics.images += probs.length;
      const results = probs.map((p, i) => ({
        name: files[i]!.name,
        predictions: this.classifier.top(p, 0, topK) as Prediction[],
      }));
      return json(200, { predictions: results[0]!.predictions, results });
    } finally {
      this.limits.budget.give(held);
    }
  }

  async #admitted(request: Request, url: URL): Promise<Response> {
    const maxInFlight = this.options.maxInFlight ?? 64;
    if (this.inFlight >= maxInFlight) {
      await request.body?.cancel().catch(() => {});
      return json(503, {
        error: `${maxInFlight} requests are in flight; retry shortly`,
      }, { "retry-after": "1", connection: "close" });
    }
    this.inFlight++;
    try {
      return await this.#classify(request, url);
    } finally {
      this.inFlight--;
    }
  }

  #route(request: Request, url: URL): Promise<Response> | Response {
    const only = (method: string, run: () => Promise<Response> | Response) =>
      request.method === method ? run() : json(405, {
        error: `${url.pathname} takes ${method} only`,
      }, { allow: method });
    switch (url.pathname) {
      case "/classify":
        return only("POST", () => this.#admitted(request, url));
      case "/":
      case "/index.html":
        return only("GET", () =>
          page(
            this.options.lang ?? "en",
            // The tab averages the server's TTA views, so answers agree.
            this.tab ? { tta: this.classifier.tta ?? null } : null,
          ));
      case "/healthz":
        return only("GET", () =>
          json(200, {
            status: "ok",
            backend: this.classifier.runtime.backend,
            inputShape: this.classifier.inputShape,
            classes: this.classifier.classes,
            // Which test-time augmentation the answers average over.
            tta: describeTta(this.classifier.tta ?? undefined),
          }));
      case "/readyz":
        return only("GET", () => readyResponse(this.notReady()));
      case "/metrics":
        return only("GET", () => this.#metricsResponse(request, url));
      default:
        if (this.tab?.has(url.pathname)) {
          const tab = this.tab;
          return only("GET", () => tab.respond(url.pathname));
        }
        return json(404, { error: `no route ${url.pathname}` });
    }
  }

  #metricsResponse(request: Request, url: URL): Response {
    const { queue, decoder } = this;
    const snap = this.metrics.snapshot({
      waiting: queue.waiting,
      running: queue.running,
      limit: queue.limit,
      batches: queue.stats.batches,
      meanBatch: queue.stats.items / Math.max(1, queue.stats.batches),
    }, {
      droppedClients: this.dropped,
      decodeTimeouts: decoder.stats.timeouts,
      decodeWorkers: decoder.workers,
      inFlight: this.inFlight,
      bufferedBytes: this.limits.budget.used,
      ...this.options.limitMetrics?.(),
    });
    return metricsResponse(request, url, snap, this.notReady() === null);
  }

  /**
   * The model is loaded once this exists (the CLI listens only after
   * loading), so readiness is about taking more work: a load balancer
   * should send requests elsewhere rather than collect 503s here.
   */
  notReady(): string | null {
    if (this.draining) return "the server is shutting down";
    const q = this.queue;
    if (q.waiting + q.reserved >= q.limit) {
      return `the inference queue is full (${q.limit} waiting)`;
    }
    const maxInFlight = this.options.maxInFlight ?? 64;
    if (this.inFlight >= maxInFlight) {
      return `${maxInFlight} requests are in flight`;
    }
    return null;
  }

  /** Answers one request; never throws. */
  async handle(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    let response: Response;
    try {
      response = await this.#route(request, url);
    } catch (error) {
      if (error instanceof ClientGoneError) {
        // Nobody to answer; one line, no stack: a dropped client is no bug.
        this.dropped++;
        this.#log(
          `dropped ${request.method} ${url.pathname}: ${error.message}`,
        );
        response = json(499, { error: error.message });
      } else {
        response = errorResponse(error, this.#onError);
      }
    }
    this.metrics.count(response.status);
    if (url.pathname === "/classify") {
      this.metrics.latency(performance.now() - started);
    }
    return response;
  }
}

/**
 * Builds the service's request handler around a classifier. Images are
 * decoded and resized in a {@linkcode DecodePool} (off the main thread where
 * `Worker` exists); forward passes go through a bounded
 * {@linkcode BatchQueue}, so concurrent requests share batches. Call
 * `close()` when done: the decode workers keep a program alive.
 */
export function createClassifyHandler(
  classifier: ClassifierEngine,
  options: ClassifyServiceOptions = {},
): ClassifyService {
  const service = new Service(classifier, options);
  return {
    handler: (request) => service.handle(request),
    metrics: service.metrics,
    queue: service.queue,
    decoder: service.decoder,
    inFlight: () => service.inFlight,
    buffered: service.limits.budget,
    notReady: () => service.notReady(),
    drain: () => {
      service.draining = true;
    },
    close: () => service.decoder.close(),
  };
}
