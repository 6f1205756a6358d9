/**
 * The answers an orchestrator reads: `/readyz` (200, or 503 with a
 * one-line JSON reason) and `/metrics` (Prometheus text by default, since
 * that is what scrapers ask for without saying so; JSON on request).
 *
 * @module
 */

import { HttpError, json } from "./request_limits.ts";
import type { MetricsSnapshot } from "./server_metrics.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.ts";

/** 200 `{"status":"ready"}`, or 503 with the reason why not. */
export function readyResponse(notReady: string | null): Response {
  return notReady === null
    ? json(200, { status: "ready" })
    : json(503, { status: "not ready", reason: notReady }, {
      "retry-after": "1",
    });
}

/**
 * `json` or `prometheus`: `?format=` decides, else an `Accept` that names
 * `application/json` (and not `text/plain` before it) asks for JSON;
 * anything else, a bare scrape included, gets Prometheus text.
 */
export function metricsFormat(
  request: Request,
  url: URL,
): "json" | "prometheus" {
  const format = url.searchParams.get("format");
  if (format === "json" || format === "prometheus") return format;
  if (format !== null) {
    throw new HttpError(
      400,
      `format must be prometheus or json, got ${format.slice(0, 40)}`,
    );
  }
  const accept = (request.headers.get("accept") ?? "").toLowerCase();
  const jsonAt = accept.indexOf("application/json");
  const textAt = accept.indexOf("text/plain");
  return jsonAt !== -1 && (textAt === -1 || jsonAt < textAt)
    ? "json"
    : "prometheus";
}

/** The metrics in the format the request asks for. */
export function metricsResponse(
  request: Request,
  url: URL,
  snap: MetricsSnapshot,
  ready: boolean,
): Response {
  if (metricsFormat(request, url) === "json") return json(200, snap);
  return new Response(prometheusText(snap, ready), {
    headers: {
      "content-type": PROMETHEUS_CONTENT_TYPE,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
