/**
 * `deno task serve --model DIR [--port 8080] [--host 127.0.0.1]`: the
 * classification service (`POST /classify`, the page at `/`, `/healthz`,
 * `/metrics`). Binds 127.0.0.1 unless `--host` says otherwise. Stops
 * cleanly on SIGINT or SIGTERM. Every limit of `ServeOptions` (connections,
 * header and body timeouts, requests in flight, bytes buffered, files per
 * form, queue, decode workers and budget) has a flag; `--help` lists the
 * defaults.
 *
 * Exit codes: 0 stopped by a signal; 2 a bad model; 3 network (model URL);
 * 4 permission (e.g. `--host` outside the task's `--allow-net`); 64 usage;
 * 69 the backend cannot start or the port is taken.
 *
 * @module
 */

import type { Lang } from "../data/classes.ts";
import type { BackendChoice } from "../runtime/types.ts";
import { Classifier } from "../serve/classifier.ts";
import { serveClassifier } from "../serve/server.ts";
import {
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "./flags.ts";
import { reportFailure, runCli } from "./run_cli.ts";
import { UsageError } from "./usage.ts";

const USAGE = `usage: deno task serve --model DIR [options]

Serves a saved model over HTTP:
  POST /classify   raw PNG/JPEG bytes or a multipart form; JSON answer (?topK=N)
  GET  /           a page to choose or drop an image and see its top 3
  GET  /healthz    liveness
  GET  /metrics    requests, errors, latency percentiles (JSON; Prometheus
                   text with ?format=prometheus)

options:
  --model DIR          model directory, model.json path or URL (required)
  --port N             port (default 8080; 0 picks a free one)
  --host ADDR          address to bind (default 127.0.0.1, this machine only);
                       another address needs --allow-net for it and for
                       127.0.0.1, where the server behind the front listens
  --lang en|ja         language of the page (default en)
  --max-body BYTES     largest request body (default 5242880, 5 MB): 413 above
  --queue N            most images waiting for inference (default 64): 503 above
  --max-batch N        most images per forward pass (default 32)
  --max-files N        most files in one multipart request (default 16): 413
  --max-connections N  most open connections (default 256): 503 and closed
  --max-in-flight N    most POST /classify requests at once (default 64): 503
  --max-buffered BYTES most upload bytes held at once, all requests together
                       (default 67108864, 64 MB): 503 above
  --header-timeout MS  a request header must arrive within MS of connecting
                       or of the last answer (default 10000): else closed
  --body-timeout MS    a whole body must arrive within MS (default 30000): 408
  --decode-workers N   image decode workers (default: cores, at most 4; 0
                       decodes on the main thread, without a time budget)
  --decode-budget MS   most time to decode one image (default 10000): 422
  --backend B          auto, wasm, webgpu or cpu (default auto)
  --threads N          WASM threads (default: all cores, or env SIMDNET_THREADS)
  --help               show this text
`;

/** Parsed command line. */
export interface ServeArgs {
  model: string;
  port: number;
  host: string;
  lang: Lang;
  maxBody: number;
  queue: number;
  maxBatch: number;
  maxFiles: number;
  maxConnections: number;
  maxInFlight: number;
  maxBuffered: number;
  headerTimeout: number;
  bodyTimeout: number;
  decodeWorkers: number | undefined;
  decodeBudget: number;
  backend: BackendChoice;
  threads: number | undefined;
}

/** Parses the command line; returns "help" for --help. */
export function parseServeArgs(args: string[]): ServeArgs | "help" {
  const parsed = parseFlags(args, {
    model: { type: "string" },
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    "max-body": { type: "string" },
    queue: { type: "string" },
    "max-batch": { type: "string" },
    "max-files": { type: "string" },
    "max-connections": { type: "string" },
    "max-in-flight": { type: "string" },
    "max-buffered": { type: "string" },
    "header-timeout": { type: "string" },
    "body-timeout": { type: "string" },
    "decode-workers": { type: "string" },
    "decode-budget": { type: "string" },
    ...RUNTIME_OPTIONS,
    help: { type: "boolean", default: false },
  });
  const v = parsed.values;
  if (v.help) return "help";
  if (v.model === undefined) {
    throw new UsageError(
      "--model DIR is required: the directory of a saved model",
    );
  }
  const runtime = runtimeFlags(v);
  const port = wholeFlag(v.port, "port", 0) ?? 8080;
  if (port > 65535) throw new UsageError(`--port must be at most 65535`);
  return {
    model: v.model,
    port,
    host: v.host,
    lang: runtime.lang,
    maxBody: wholeFlag(v["max-body"], "max-body", 1) ?? 5 * 1024 * 1024,
    queue: wholeFlag(v.queue, "queue", 1) ?? 64,
    maxBatch: wholeFlag(v["max-batch"], "max-batch", 1) ?? 32,
    maxFiles: wholeFlag(v["max-files"], "max-files", 1) ?? 16,
    maxConnections: wholeFlag(v["max-connections"], "max-connections", 1) ??
      256,
    maxInFlight: wholeFlag(v["max-in-flight"], "max-in-flight", 1) ?? 64,
    maxBuffered: wholeFlag(v["max-buffered"], "max-buffered", 1) ??
      64 * 1024 * 1024,
    headerTimeout: wholeFlag(v["header-timeout"], "header-timeout", 1) ??
      10_000,
    bodyTimeout: wholeFlag(v["body-timeout"], "body-timeout", 1) ?? 30_000,
    decodeWorkers: wholeFlag(v["decode-workers"], "decode-workers", 0),
    decodeBudget: wholeFlag(v["decode-budget"], "decode-budget", 1) ?? 10_000,
    backend: runtime.backend,
    threads: runtime.threads,
  };
}

async function run(a: ServeArgs): Promise<number> {
  const classifier = await Classifier.load(a.model, {
    backend: a.backend,
    threads: a.threads,
  });
  const rt = classifier.runtime;
  console.log(`backend: ${rt.backend} (${rt.reason})`);
  const stop = new AbortController();
  const { server } = serveClassifier(classifier, {
    hostname: a.host,
    port: a.port,
    lang: a.lang,
    maxBodyBytes: a.maxBody,
    queueLimit: a.queue,
    maxBatch: a.maxBatch,
    maxFiles: a.maxFiles,
    maxConnections: a.maxConnections,
    maxInFlight: a.maxInFlight,
    maxBufferedBytes: a.maxBuffered,
    headerTimeoutMs: a.headerTimeout,
    bodyTimeoutMs: a.bodyTimeout,
    decodeWorkers: a.decodeWorkers,
    decodeBudgetMs: a.decodeBudget,
    signal: stop.signal,
    onListen: (addr) => {
      const host = addr.hostname.includes(":")
        ? `[${addr.hostname}]`
        : addr.hostname;
      console.log(`listening on http://${host}:${addr.port}/`);
    },
  });
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => stop.abort();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  await server.finished;
  for (const s of signals) Deno.removeSignalListener(s, onSignal);
  classifier.dispose();
  console.log("stopped");
  return 0;
}

/** Runs the CLI with `args` and returns the exit code once the server stops. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseServeArgs,
    run,
    failure: (error) => reportFailure(error, "serve"),
  });
}

if (import.meta.main) {
  // Deno.exit carries main()'s exit code to the shell.
  Deno.exit(await main(Deno.args));
}
