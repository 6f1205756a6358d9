/**
 * The classification service over HTTP: a {@linkcode ConnectionFront}
 * (connection cap, header timeout) before a `Deno.serve` server running
 * the handler of `handler.ts` (requests in flight, body size and time,
 * buffered bytes, files, queue and decode limits).
 *
 * @module
 */

import { ConnectionFront } from "./front.ts";
import {
  type ClassifierEngine,
  type ClassifyService,
  type ClassifyServiceOptions,
  createClassifyHandler,
} from "./handler.ts";
import { json } from "./request_limits.ts";

export {
  type ClassifierEngine,
  type ClassifyService,
  type ClassifyServiceOptions,
  createClassifyHandler,
} from "./handler.ts";
export { ACCEPTED_TYPES } from "./uploads.ts";

/** Options of {@linkcode serveClassifier}; every limit has a default. */
export interface ServeOptions extends ClassifyServiceOptions {
  /** Address to bind; default `127.0.0.1` (this machine only). */
  hostname?: string;
  /** Port; default 8080; 0 picks a free one. */
  port?: number;
  /** Most connections open at once; default 256. More: 503 and closed. */
  maxConnections?: number;
  /**
   * Most milliseconds from connecting (or from the last answer on a
   * kept-alive connection) to a complete request header; default 10,000.
   * Slower: the connection is closed.
   */
  headerTimeoutMs?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening; default prints nothing. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** The server of a running service. */
export interface ServiceServer {
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
  /** Stops accepting, closes connections and the decode workers. */
  shutdown: () => Promise<void>;
}

/** A running service. */
export interface RunningService extends ClassifyService {
  /** Stop it with `shutdown()`; `finished` resolves once stopped. */
  server: ServiceServer;
  /** The bound address (with the real port when 0 was asked). */
  addr: Deno.NetAddr;
  /** The connection front (open connections, refusals, header timeouts). */
  front: ConnectionFront;
}

/**
 * Serves a classifier over HTTP (needs `--allow-net` for the address and
 * for 127.0.0.1, where the inner server listens).
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
  // The handler needs the front, which needs the inner server's port.
  const late: { front?: ConnectionFront } = {};
  let droppedBeforeAnswer = 0;
  const service = createClassifyHandler(classifier, {
    ...options,
    limitMetrics: () => ({
      openConnections: late.front?.open ?? 0,
      refusedConnections: late.front?.stats.refused ?? 0,
      headerTimeouts: late.front?.stats.headerTimeouts ?? 0,
      droppedBeforeAnswer: droppedBeforeAnswer,
      ...options.limitMetrics?.(),
    }),
  });
  const log = options.log ?? ((line) => console.warn(line));
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
  });
  const inner = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request, info) => {
    const port = info.remoteAddr.port;
    const front = late.front;
    if (!front?.begin(port)) {
      await request.body?.cancel().catch(() => {});
      return json(403, { error: "connect through the service's address" }, {
        connection: "close",
      });
    }
    const started = performance.now();
    const response = await service.handler(request); // never throws
    const close = response.headers.get("connection") === "close";
    // 499: the handler saw the client go while reading its body, and said so.
    if (front.end(port, close) && response.status !== 499) {
      droppedBeforeAnswer++;
      const path = new URL(request.url).pathname;
      const ms = (performance.now() - started).toFixed(0);
      log(
        `dropped ${request.method} ${path}: the client went away before ` +
          `its answer (${response.status} after ${ms} ms)`,
      );
    }
    return response;
  });
  const front = late.front = new ConnectionFront(listener, inner.addr, {
    maxConnections: options.maxConnections ?? 256,
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
    log,
  });
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      front.close();
      await front.done;
      await inner.shutdown();
      service.close();
    })();
  options.signal?.addEventListener("abort", () => shutdown(), { once: true });
  if (options.signal?.aborted) shutdown();
  const finished = inner.finished.then(() => stopping).then(() => {});
  options.onListen?.(listener.addr);
  return {
    ...service,
    server: { finished, shutdown },
    addr: listener.addr,
    front,
  };
}
