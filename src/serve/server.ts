/**
 * The classification service over HTTP: a {@linkcode ConnectionFront}
 * (connection cap, header timeout) before a `Deno.serve` server running
 * the handler of `handler.ts` (requests in flight, body size and time,
 * buffered bytes, files, queue and decode limits), and a drain for a
 * graceful stop behind a load balancer.
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
  /**
   * A graceful stop: closes the listening socket (new connections are
   * refused), makes `/readyz` answer 503 on connections still open, waits
   * until no request is in the handler, then shuts down. Resolves true when
   * drained, false when `timeoutMs` passed first (then it shuts down anyway
   * and waits at most one more second for that).
   */
  drain: (timeoutMs: number) => Promise<boolean>;
  /** Requests in the handler now, whatever their route. */
  active: () => number;
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
  const state = new RelayState();
  const service = createClassifyHandler(classifier, {
    ...options,
    limitMetrics: () => ({
      openConnections: state.front?.open ?? 0,
      refusedConnections: state.front?.stats.refused ?? 0,
      headerTimeouts: state.front?.stats.headerTimeouts ?? 0,
      droppedBeforeAnswer: state.droppedBeforeAnswer,
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
  }, (request, info) => relay(state, service, log, request, info));
  // The handler needs the front, which needs the inner server's port.
  const front = state.front = new ConnectionFront(listener, inner.addr, {
    maxConnections: options.maxConnections ?? 256,
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
    log,
  });
  const shutdown = () =>
    state.stopping ??= (async () => {
      front.close();
      await front.done;
      await inner.shutdown();
      service.close();
    })();
  options.signal?.addEventListener("abort", () => shutdown(), { once: true });
  if (options.signal?.aborted) shutdown();
  const finished = inner.finished.then(() => state.stopping).then(() => {});
  options.onListen?.(listener.addr);
  return {
    ...service,
    server: {
      finished,
      shutdown,
      drain: (ms) => drain(state, front, inner, service, ms),
      active: () => state.active,
    },
    addr: listener.addr,
    front,
  };
}

/** What the relay, shutdown and drain of one service share. */
class RelayState {
  /** Set once the front exists (it needs the inner server's port). */
  front?: ConnectionFront;
  droppedBeforeAnswer = 0;
  /** Requests in the handler, and who waits for them to reach 0 (a drain). */
  active = 0;
  onIdle?: () => void;
  stopping?: Promise<void>;
}

/**
 * The inner server's handler: only connections relayed by the front get
 * in; a client gone before its answer is counted and logged.
 */
async function relay(
  state: RelayState,
  service: ClassifyService,
  log: (line: string) => void,
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
): Promise<Response> {
  const port = info.remoteAddr.port;
  const front = state.front;
  if (!front?.begin(port)) {
    await request.body?.cancel().catch(() => {});
    return json(403, { error: "connect through the service's address" }, {
      connection: "close",
    });
  }
  const started = performance.now();
  state.active++;
  const response = await service.handler(request); // never throws
  if (--state.active === 0) state.onIdle?.();
  const close = response.headers.get("connection") === "close";
  // 499: the handler saw the client go while reading its body, and said so.
  if (front.end(port, close) && response.status !== 499) {
    state.droppedBeforeAnswer++;
    const path = new URL(request.url).pathname;
    const ms = (performance.now() - started).toFixed(0);
    log(
      `dropped ${request.method} ${path}: the client went away before ` +
        `its answer (${response.status} after ${ms} ms)`,
    );
  }
  return response;
}

/** {@linkcode ServiceServer.drain}. */
async function drain(
  state: RelayState,
  front: ConnectionFront,
  inner: Deno.HttpServer<Deno.NetAddr>,
  service: ClassifyService,
  timeoutMs: number,
): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  service.drain();
  front.stopAccepting();
  const idle = new Promise<true>((resolve) => {
    state.onIdle = () => resolve(true);
    if (state.active === 0) resolve(true);
  });
  const drained = await within(idle, timeoutMs, false);
  const left = () => Math.max(0, until - performance.now());
  // Deno.serve's own graceful shutdown first, so that answers it is still
  // writing reach the relays. It waits for handlers (one past the timeout
  // may never end) and perhaps for idle kept-alive connections, so it
  // gets two seconds at most, then the front closes whatever is open.
  state.stopping ??= (async () => {
    await within(inner.shutdown(), Math.min(2000, left() + 1000), undefined);
    await front.settle(Math.min(1000, left() + 200));
    front.close();
    await front.done;
    service.close();
  })();
  await state.stopping;
  return drained;
}

/** `promise`, or `late` once `ms` passed first; the timer never lingers. */
async function within<T, L>(
  promise: Promise<T>,
  ms: number,
  late: L,
): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<L>((resolve) => timer = setTimeout(() => resolve(late), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
