/**
 * The service's metrics in the Prometheus text exposition format, version
 * 0.0.4: one `# HELP` and one `# TYPE` line per family before its samples,
 * counters named `_total`, the classify latency as a histogram in seconds.
 *
 * @module
 */

import type { MetricsSnapshot } from "./server_metrics.ts";

/** The content type of {@linkcode prometheusText}'s output. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/**
 * Entries of `limits` that count events since the start; every other entry
 * is a gauge of what is held now (connections, bytes, requests, workers).
 */
const LIMIT_COUNTERS = new Set([
  "refusedConnections",
  "headerTimeouts",
  "decodeTimeouts",
  "droppedClients",
  "droppedBeforeAnswer",
]);

type Labels = Record<string, string>;

/** A sample value as the format spells it: `+Inf`, `-Inf`, `NaN` or a number. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

// Label values escape backslash, double quote and newline; HELP text
// escapes backslash and newline only (the format's two rules).
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

function sample(name: string, value: number, labels: Labels = {}): string {
  const pairs = Object.entries(labels).map(([k, v]) =>
    `${k}="${escapeLabel(v)}"`
  );
  const set = pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
  return `${name}${set} ${formatValue(value)}`;
}

function family(
  name: string,
  type: "counter" | "gauge" | "histogram",
  help: string,
  samples: string[],
): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`]
    .concat(samples);
}

/** `refusedConnections` → `refused_connections`: metric names are snake case. */
function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
    .replace(/[^a-zA-Z0-9_]/g, "_");
}

function limitFamilies(limits: Record<string, number>): string[] {
  return Object.entries(limits).flatMap(([key, n]) => {
    const counter = LIMIT_COUNTERS.has(key);
    const name = `simdnet_${snake(key)}${counter ? "_total" : ""}`;
    const help = counter
      ? `Hardening limit events so far: ${key}.`
      : `Held now under the hardening limits: ${key}.`;
    return family(name, counter ? "counter" : "gauge", help, [
      sample(name, n),
    ]);
  });
}

function latencyFamily(m: MetricsSnapshot): string[] {
  const name = "simdnet_classify_duration_seconds";
  const h = m.latencySeconds;
  return family(
    name,
    "histogram",
    "Time from request to answer of POST /classify, body upload included.",
    [
      ...h.buckets.map(([le, n]) =>
        sample(`${name}_bucket`, n, { le: formatValue(le) })
      ),
      sample(`${name}_bucket`, h.count, { le: "+Inf" }),
      sample(`${name}_sum`, h.sum),
      sample(`${name}_count`, h.count),
    ],
  );
}

/**
 * The snapshot in the Prometheus text exposition format; `ready` adds the
 * `simdnet_ready` gauge (1 when `/readyz` would answer 200).
 */
export function prometheusText(m: MetricsSnapshot, ready?: boolean): string {
  const q = m.queue;
  const lines = [
    ...family(
      "simdnet_requests_total",
      "counter",
      "Answered HTTP requests by status code.",
      Object.entries(m.byStatus).map(([code, n]) =>
        sample("simdnet_requests_total", n, { code })
      ),
    ),
    ...family(
      "simdnet_errors_total",
      "counter",
      "Answers with status >= 400.",
      [sample("simdnet_errors_total", m.errors)],
    ),
    ...family("simdnet_images_total", "counter", "Images classified.", [
      sample("simdnet_images_total", m.images),
    ]),
    ...latencyFamily(m),
    ...family(
      "simdnet_queue_waiting",
      "gauge",
      "Images waiting for inference.",
      [sample("simdnet_queue_waiting", q.waiting)],
    ),
    ...family(
      "simdnet_queue_limit",
      "gauge",
      "Most images that may wait (--queue); /readyz fails at the limit.",
      [sample("simdnet_queue_limit", q.limit)],
    ),
    ...family("simdnet_batches_total", "counter", "Forward passes run.", [
      sample("simdnet_batches_total", q.batches),
    ]),
    ...limitFamilies(m.limits),
    ...family(
      "simdnet_resident_memory_bytes",
      "gauge",
      "Resident set size of the process.",
      [sample("simdnet_resident_memory_bytes", m.rssBytes)],
    ),
    ...family(
      "simdnet_uptime_seconds",
      "gauge",
      "Seconds since the service started.",
      [sample("simdnet_uptime_seconds", m.uptimeSeconds)],
    ),
    ...(ready === undefined ? [] : family(
      "simdnet_ready",
      "gauge",
      "1 when /readyz answers 200, else 0.",
      [sample("simdnet_ready", ready ? 1 : 0)],
    )),
  ];
  return lines.join("\n") + "\n";
}
