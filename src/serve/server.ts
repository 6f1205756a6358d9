/**
 * The classification service: `POST /classify`, the page at `GET /`,
 * `GET /healthz` and `GET /metrics`, with limits on body size, content
 * type and queued inference work.
 *
 * @module
 */

import { ImageDecodeError } from "./image_decode.ts";
import type { Classifier, Prediction } from "./classifier.ts";
import { classifierPage } from "./page.ts";
import { BatchQueue, QueueFullError } from "./work_queue.ts";
import { prometheusText, ServerMetrics } from "./server_metrics.ts";

/** The parts of a {@linkcode Classifier} the service uses. */
export type ClassifierEngine = Pick<
  Classifier,
  "inputShape" | "classes" | "preprocess" | "predictPixels" | "top" | "runtime"
>;

/** Options of {@linkcode createClassifyHandler}. */
export interface ClassifyServiceOptions {
  /** Largest request body in bytes; default 5 MB (5 * 1024 * 1024). Larger: 413. */
  maxBodyBytes?: number;
  /** Most images waiting for inference; default 64. More: 503. */
  queueLimit?: number;
  /** Most images per forward pass; default 32. */
  maxBatch?: number;
  /** Language of the page; default `en`. */
  lang?: "en" | "ja";
  /** Largest decoded image in pixels; default 40 million. Larger: 400. */
  maxPixels?: number;
  /** Receives unexpected errors (answered with 500); default `console.error`. */
  onError?: (error: unknown) => void;
}

/** A request handler with its metrics and queue. */
export interface ClassifyService {
  handler: (request: Request) => Promise<Response>;
  metrics: ServerMetrics;
  queue: BatchQueue<Float32Array, Float32Array>;
}

/** Content types `POST /classify` accepts. */
export const ACCEPTED_TYPES: readonly string[] = [
  "image/png",
  "image/jpeg",
  "application/octet-stream",
  "multipart/form-data",
];

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function json(status: number, body: unknown, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("cache-control", "no-store");
  h.set("x-content-type-options", "nosniff");
  return new Response(JSON.stringify(body) + "\n", { status, headers: h });
}

async function readBody(
  request: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () =>
    new HttpError(
      413,
      `the body is larger than the limit of ${limit} bytes`,
    );
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await request.body?.cancel();
    throw tooLarge();
  }
  if (request.body === null) return new Uint8Array(0);
  // The length header may be absent (chunked) or wrong: count while reading.
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

interface Upload {
  name: string | null;
  bytes: Uint8Array;
}

async function uploads(
  request: Request,
  limit: number,
): Promise<Upload[]> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!
    .trim().toLowerCase();
  const accepted = type === "" || type === "image/jpg" ||
    ACCEPTED_TYPES.includes(type);
  if (!accepted) {
    await request.body?.cancel();
    throw new HttpError(
      415,
      `content type ${type} is not accepted: send image/png, image/jpeg, ` +
        `application/octet-stream or a multipart/form-data form with a file`,
    );
  }
  const body = await readBody(request, limit);
  if (type !== "multipart/form-data") {
    if (body.length === 0) throw new HttpError(400, "the body is empty");
    return [{ name: null, bytes: body }];
  }
  let form: FormData;
  try {
    form = await new Response(body, { headers: request.headers }).formData();
  } catch (error) {
    throw new HttpError(
      400,
      `the multipart form cannot be read: ${(error as Error).message}`,
    );
  }
  const files: Upload[] = [];
  for (const [, value] of form) {
    if (typeof value !== "string") {
      files.push({
        name: value.name,
        bytes: new Uint8Array(await value.arrayBuffer()),
      });
    }
  }
  if (files.length === 0) {
    throw new HttpError(400, "the form holds no file: add an image file field");
  }
  return files;
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

/**
 * Builds the service's request handler around a classifier. Decoding and
 * resizing happen per request; forward passes go through a bounded
 * {@linkcode BatchQueue}, so concurrent requests share batches.
 */
export function createClassifyHandler(
  classifier: ClassifierEngine,
  options: ClassifyServiceOptions = {},
): ClassifyService {
  const maxBody = options.maxBodyBytes ?? 5 * 1024 * 1024;
  const lang = options.lang ?? "en";
  const onError = options.onError ?? ((e) => console.error(e));
  const [h, w, c] = classifier.inputShape;
  const size = h * w * c;
  const classes = classifier.classes;
  const metrics = new ServerMetrics();
  const queue = new BatchQueue<Float32Array, Float32Array>({
    limit: options.queueLimit ?? 64,
    maxBatch: options.maxBatch ?? 32,
    run: async (items) => {
      const x = new Float32Array(items.length * size);
      items.forEach((item, i) => x.set(item, i * size));
      const probs = await classifier.predictPixels(x, items.length);
      return items.map((_, i) => probs.slice(i * classes, (i + 1) * classes));
    },
  });

  async function classify(request: Request, url: URL): Promise<Response> {
    const topK = topKOf(url, classes);
    const files = await uploads(request, maxBody);
    const inputs = files.map((f) => {
      try {
        return classifier.preprocess(f.bytes);
      } catch (error) {
        if (error instanceof ImageDecodeError || error instanceof RangeError) {
          const which = f.name === null ? "" : ` (${f.name})`;
          throw new HttpError(400, `${error.message}${which}`);
        }
        throw error;
      }
    });
    const probs = await Promise.all(inputs.map((x) => queue.submit(x)));
    metrics.images += probs.length;
    const results = probs.map((p, i) => ({
      name: files[i]!.name,
      predictions: classifier.top(p, 0, topK) as Prediction[],
    }));
    return json(200, { predictions: results[0]!.predictions, results });
  }

  function route(request: Request, url: URL): Promise<Response> | Response {
    const only = (method: string, run: () => Promise<Response> | Response) =>
      request.method === method ? run() : json(405, {
        error: `${url.pathname} takes ${method} only`,
      }, { allow: method });
    switch (url.pathname) {
      case "/classify":
        return only("POST", () => classify(request, url));
      case "/":
      case "/index.html":
        return only("GET", () => {
          const nonce = crypto.randomUUID().replaceAll("-", "");
          return new Response(classifierPage(lang, nonce), {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "content-security-policy":
                `default-src 'none'; img-src blob: data:; style-src 'nonce-${nonce}'; ` +
                `script-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'`,
              "x-content-type-options": "nosniff",
            },
          });
        });
      case "/healthz":
        return only("GET", () =>
          json(200, {
            status: "ok",
            backend: classifier.runtime.backend,
            inputShape: classifier.inputShape,
            classes,
          }));
      case "/metrics":
        return only("GET", () => {
          const snap = metrics.snapshot({
            waiting: queue.waiting,
            running: queue.running,
            limit: queue.limit,
            batches: queue.stats.batches,
            meanBatch: queue.stats.items / Math.max(1, queue.stats.batches),
          });
          const prom = url.searchParams.get("format") === "prometheus" ||
            (request.headers.get("accept") ?? "").includes("text/plain");
          return prom
            ? new Response(prometheusText(snap), {
              headers: { "content-type": "text/plain; version=0.0.4" },
            })
            : json(200, snap);
        });
      default:
        return json(404, { error: `no route ${url.pathname}` });
    }
  }

  async function handler(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    let response: Response;
    try {
      response = await route(request, url);
    } catch (error) {
      if (error instanceof HttpError) {
        response = json(error.status, { error: error.message });
      } else if (error instanceof QueueFullError) {
        response = json(503, { error: error.message }, { "retry-after": "1" });
      } else {
        onError(error);
        response = json(500, { error: "internal error; see the server log" });
      }
    }
    metrics.count(response.status);
    if (url.pathname === "/classify") {
      metrics.latency(performance.now() - started);
    }
    return response;
  }

  return { handler, metrics, queue };
}

/** Options of {@linkcode serveClassifier}. */
export interface ServeOptions extends ClassifyServiceOptions {
  /** Address to bind; default `127.0.0.1` (this machine only). */
  hostname?: string;
  /** Port; default 8080; 0 picks a free one. */
  port?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening; default prints nothing. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running service. */
export interface RunningService extends ClassifyService {
  server: Deno.HttpServer<Deno.NetAddr>;
  /** The bound address (with the real port when 0 was asked). */
  addr: Deno.NetAddr;
}

/**
 * Serves a classifier over HTTP (needs `--allow-net` for the address).
 *
 * @example
 * ```ts ignore
 * const classifier = await Classifier.load("runs/latest");
 * const { addr, server } = serveClassifier(classifier, { port: 8080 });
 * console.log(`http://${addr.hostname}:${addr.port}/`);
 * await server.finished;
 * ```
 */
export function serveClassifier(
  classifier: ClassifierEngine,
  options: ServeOptions = {},
): RunningService {
  const service = createClassifyHandler(classifier, options);
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
    signal: options.signal,
    onListen: (addr) => options.onListen?.(addr),
  }, service.handler);
  return { ...service, server, addr: server.addr };
}
