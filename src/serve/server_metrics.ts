/**
 * Counters, a latency histogram and latency percentiles of the
 * classification service, shown by `GET /metrics` in the Prometheus text
 * format (`./prometheus.ts`) or as JSON.
 *
 * @module
 */

/**
 * Upper bounds in seconds of the classify latency histogram. From 5 ms (a
 * small image on a warm server) to 30 s: a request may wait for the body
 * (30 s timeout) and for a decode (10 s budget), so the slow end matters.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** A cumulative histogram since the start, Prometheus-style. */
export interface Histogram {
  /** Cumulative counts: `[upper bound, observations <= bound]`, ascending. */
  buckets: [number, number][];
  /** Sum of the observations. */
  sum: number;
  /** Number of observations (the `+Inf` bucket). */
  count: number;
}

/** A snapshot of the service's metrics. */
export interface MetricsSnapshot {
  uptimeSeconds: number;
  /** Every answered request. */
  requests: number;
  /** Answers with status >= 400. */
  errors: number;
  /** Answers by status code. */
  byStatus: Record<string, number>;
  /** Images classified. */
  images: number;
  /** Latency of `POST /classify` answers in ms over the last `window` of them. */
  latencyMs: {
    count: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  };
  /** Latency of every `POST /classify` answer since the start, in seconds. */
  latencySeconds: Histogram;
  queue: {
    waiting: number;
    running: number;
    limit: number;
    batches: number;
    meanBatch: number;
  };
  /**
   * The hardening limits at work: counters of refusals and timeouts and
   * gauges of what is held now (e.g. `refusedConnections`,
   * `headerTimeouts`, `decodeTimeouts`, `droppedClients`, `bufferedBytes`,
   * `inFlight`, `openConnections`).
   */
  limits: Record<string, number>;
  /** Resident set size of the process in bytes. */
  rssBytes: number;
}

/** Keeps the service's counters and a sliding window of latencies. */
export class ServerMetrics {
  readonly #started = performance.now();
  readonly #window: Float64Array;
  #filled = 0;
  #next = 0;
  requests = 0;
  errors = 0;
  images = 0;
  readonly byStatus: Map<number, number> = new Map();
  // Not cumulative here: one count per bucket, summed in the snapshot.
  readonly #bucketCounts = new Array<number>(LATENCY_BUCKETS.length + 1)
    .fill(0);
  #latencySum = 0;

  /** Keeps the latencies of the last `window` classify requests (default 4096). */
  constructor(window = 4096) {
    this.#window = new Float64Array(window);
  }

  /** Counts an answer with `status`. */
  count(status: number): void {
    this.requests++;
    if (status >= 400) this.errors++;
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  /** Records the latency of one classify request. */
  latency(ms: number): void {
    const seconds = ms / 1000;
    const at = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    this.#bucketCounts[at === -1 ? LATENCY_BUCKETS.length : at]!++;
    this.#latencySum += seconds;
    this.#window[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#window.length;
    this.#filled = Math.min(this.#filled + 1, this.#window.length);
  }

  /** Nearest-rank percentiles over the window (0 when empty). */
  percentiles(): MetricsSnapshot["latencyMs"] {
    const sorted = this.#window.slice(0, this.#filled).sort();
    const at = (p: number) =>
      sorted.length === 0 ? 0 : sorted[
        Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)
      ]!;
    return {
      count: sorted.length,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!,
    };
  }

  /** The latency histogram since the start, in seconds. */
  histogram(): Histogram {
    let seen = 0;
    const buckets = LATENCY_BUCKETS.map((le, i): [number, number] => [
      le,
      seen += this.#bucketCounts[i]!,
    ]);
    return {
      buckets,
      sum: this.#latencySum,
      count: seen + this.#bucketCounts[LATENCY_BUCKETS.length]!,
    };
  }

  /** The current values; `queue` comes from the work queue. */
  snapshot(
    queue: MetricsSnapshot["queue"],
    limits: Record<string, number> = {},
  ): MetricsSnapshot {
    return {
      uptimeSeconds: (performance.now() - this.#started) / 1000,
      requests: this.requests,
      errors: this.errors,
      byStatus: Object.fromEntries(
        [...this.byStatus].map(([k, v]) => [String(k), v]),
      ),
      images: this.images,
      latencyMs: this.percentiles(),
      latencySeconds: this.histogram(),
      queue,
      limits,
      rssBytes: Deno.memoryUsage().rss,
    };
  }
}
