/**
 * Counters and latency percentiles of the classification service, shown by
 * `GET /metrics` as JSON or in the Prometheus text format.
 *
 * @module
 */

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
      queue,
      limits,
      rssBytes: Deno.memoryUsage().rss,
    };
  }
}

/** The snapshot in the Prometheus text exposition format. */
export function prometheusText(m: MetricsSnapshot): string {
  const lines = [
    "# HELP simdnet_requests_total Answered HTTP requests.",
    "# TYPE simdnet_requests_total counter",
    ...Object.entries(m.byStatus).map(([code, n]) =>
      `simdnet_requests_total{code="${code}"} ${n}`
    ),
    "# HELP simdnet_errors_total Answers with status >= 400.",
    "# TYPE simdnet_errors_total counter",
    `simdnet_errors_total ${m.errors}`,
    "# HELP simdnet_images_total Images classified.",
    "# TYPE simdnet_images_total counter",
    `simdnet_images_total ${m.images}`,
    "# HELP simdnet_classify_latency_ms Latency of POST /classify over the recent window.",
    "# TYPE simdnet_classify_latency_ms summary",
    `simdnet_classify_latency_ms{quantile="0.5"} ${m.latencyMs.p50}`,
    `simdnet_classify_latency_ms{quantile="0.9"} ${m.latencyMs.p90}`,
    `simdnet_classify_latency_ms{quantile="0.99"} ${m.latencyMs.p99}`,
    `simdnet_classify_latency_ms_count ${m.latencyMs.count}`,
    "# HELP simdnet_queue_waiting Images waiting for inference.",
    "# TYPE simdnet_queue_waiting gauge",
    `simdnet_queue_waiting ${m.queue.waiting}`,
    "# HELP simdnet_limit Hardening limits: refusals and timeouts so far, bytes and requests held now.",
    "# TYPE simdnet_limit gauge",
    ...Object.entries(m.limits).map(([name, n]) =>
      `simdnet_limit{name="${name}"} ${n}`
    ),
    "# HELP simdnet_resident_memory_bytes Resident set size.",
    "# TYPE simdnet_resident_memory_bytes gauge",
    `simdnet_resident_memory_bytes ${m.rssBytes}`,
  ];
  return lines.join("\n") + "\n";
}
