/**
 * The TCP front of the service: it accepts connections itself, caps how
 * many are open, closes those that send no complete request header in
 * time, and relays the rest to the `Deno.serve` server behind it.
 *
 * Why a front at all, measured with Deno 2.9.6 (`Deno.serve` on hyper):
 * a client that sent half a header, one that sent nothing and one that
 * stalled in its body were all still connected after 75 s, and 3,000 idle
 * connections were all accepted and held. `Deno.serve` has no option for a
 * header timeout, an idle timeout or a connection cap, and Deno 2 has no
 * way to hand it connections accepted elsewhere (`Deno.serveHttp` is
 * gone). A handler only runs once a header is complete, so handler-level
 * limits cannot see these clients at all. Writing an HTTP parser was the
 * other choice; relaying bytes keeps hyper's parser and costs one loopback
 * hop per connection.
 *
 * The inner server listens on 127.0.0.1 on a free port; requests that do
 * not come from one of the front's own relay sockets are refused, so the
 * limits cannot be bypassed by connecting to it directly.
 *
 * @module
 */

/** Options of {@linkcode ConnectionFront}. */
export interface FrontOptions {
  /** Most connections open at once; more get a 503 and are closed. */
  maxConnections: number;
  /** Most milliseconds from connecting, or from the end of the last request, to a complete header. */
  headerTimeoutMs: number;
  /** One line per dropped or refused client. */
  log: (line: string) => void;
}

interface Relay {
  client: Deno.Conn;
  upstream: Deno.Conn | null;
  active: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
  peer: string;
}

const REFUSED_BODY = JSON.stringify({
  error: "too many open connections; retry shortly",
}) + "\n";
const REFUSED = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\n" +
    "content-type: application/json; charset=utf-8\r\n" +
    `content-length: ${REFUSED_BODY.length}\r\n` +
    "retry-after: 1\r\nconnection: close\r\n\r\n" + REFUSED_BODY,
);

/** Accepts, limits and relays connections to an inner HTTP server. */
export class ConnectionFront {
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #inner: Deno.NetAddr;
  readonly #options: FrontOptions;
  /** Relays by the local port of their upstream socket. */
  readonly #byPort = new Map<number, Relay>();
  readonly #relays = new Set<Relay>();
  /** Connections refused at the cap and closed at the header timeout. */
  readonly stats = { refused: 0, headerTimeouts: 0 };
  /** Resolves when the front stopped accepting. */
  readonly done: Promise<void>;

  /** Starts accepting on `listener`, relaying to `inner`. */
  constructor(
    listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
    inner: Deno.NetAddr,
    options: FrontOptions,
  ) {
    this.#listener = listener;
    this.#inner = inner;
    this.#options = options;
    this.done = this.#accept();
  }

  /** Connections open now. */
  get open(): number {
    return this.#relays.size;
  }

  /**
   * Called by the inner handler when a request starts: false when the
   * request did not come through the front. Stops the header timer.
   */
  begin(port: number): boolean {
    const relay = this.#byPort.get(port);
    if (!relay) return false;
    relay.active++;
    clearTimeout(relay.timer);
    relay.timer = undefined;
    return true;
  }

  /**
   * Called when the handler answered; restarts the timer when idle. With
   * `close` (the answer says `connection: close`) the connection is closed
   * half a second later: hyper sends such an answer but, measured, keeps
   * the connection open while the client still owes body bytes. Returns
   * true when the client had gone before the answer.
   */
  end(port: number, close = false): boolean {
    const relay = this.#byPort.get(port);
    if (!relay) return false;
    relay.active = Math.max(0, relay.active - 1);
    if (relay.closed) {
      if (relay.active === 0) this.#byPort.delete(port);
      return true;
    }
    if (close) {
      clearTimeout(relay.timer);
      relay.timer = setTimeout(() => this.#drop(relay), 500);
    } else if (relay.active === 0) this.#arm(relay);
    return false;
  }

  /**
   * Stops accepting: the listening socket closes, so new connections are
   * refused by the OS, while open ones go on (a drain answers them).
   */
  stopAccepting(): void {
    try {
      this.#listener.close();
    } catch { /* already closed */ }
  }

  /**
   * Resolves once every connection has ended by itself (the inner server
   * closed its side after its last answer, and the relay passed that
   * answer on) or after `ms`, whichever is first.
   */
  async settle(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (this.#relays.size > 0 && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    this.stopAccepting();
    for (const relay of this.#relays) this.#drop(relay);
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (this.#relays.size >= this.#options.maxConnections) {
        this.stats.refused++;
        this.#refuse(client);
        continue;
      }
      this.#relay(client);
    }
  }

  // The request is read (briefly) before the 503 is written: closing a
  // socket with unread data sends a reset, which can destroy the answer.
  async #refuse(client: Deno.Conn): Promise<void> {
    const peer = client.remoteAddr as Deno.NetAddr;
    this.#options.log(
      `refused ${peer.hostname}:${peer.port}: ` +
        `${this.#options.maxConnections} connections are open`,
    );
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      try {
        client.close();
      } catch { /* gone */ }
    };
    // At most one second for a refused client, whatever it sends or not.
    const timer = setTimeout(close, 1000);
    try {
      await client.read(new Uint8Array(16 * 1024));
      await client.write(REFUSED);
    } catch { /* gone, or closed by the timer */ }
    clearTimeout(timer);
    close();
  }

  #arm(relay: Relay): void {
    clearTimeout(relay.timer);
    relay.timer = setTimeout(() => {
      this.stats.headerTimeouts++;
      this.#options.log(
        `closed ${relay.peer}: no complete request header within ` +
          `${this.#options.headerTimeoutMs} ms`,
      );
      this.#drop(relay);
    }, this.#options.headerTimeoutMs);
  }

  async #relay(client: Deno.TcpConn): Promise<void> {
    const peer = client.remoteAddr;
    const relay: Relay = {
      client,
      upstream: null,
      active: 0,
      timer: undefined,
      closed: false,
      peer: `${peer.hostname}:${peer.port}`,
    };
    this.#relays.add(relay);
    this.#arm(relay);
    try {
      const upstream = await Deno.connect({
        hostname: this.#inner.hostname,
        port: this.#inner.port,
      });
      relay.upstream = upstream;
      if (relay.closed) return upstream.close();
      const port = (upstream.localAddr as Deno.NetAddr).port;
      this.#byPort.set(port, relay);
      // Either side ending ends both: hyper closes on a half-closed read.
      await Promise.race([pipe(client, upstream), pipe(upstream, client)]);
      // With a request still in the handler, end() says the client left.
      if (relay.active === 0) this.#byPort.delete(port);
    } catch {
      // A reset or refused socket: the handler logs a dropped request.
    }
    this.#drop(relay);
  }

  #drop(relay: Relay): void {
    if (relay.closed) return;
    relay.closed = true;
    clearTimeout(relay.timer);
    this.#relays.delete(relay);
    for (const conn of [relay.client, relay.upstream]) {
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  }
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await from.read(buffer).catch(() => null);
    if (n === null) return;
    let at = 0;
    while (at < n) {
      const written = await to.write(buffer.subarray(at, n)).catch(() => 0);
      if (written === 0) return;
      at += written;
    }
  }
}
