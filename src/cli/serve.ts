/**
 * `deno task serve --model DIR [--port 8080] [--host 127.0.0.1]`: the
 * classification service (`POST /classify`, the page at `/`, `/healthz`,
 * `/metrics`). Binds 127.0.0.1 unless `--host` says otherwise. Stops
 * cleanly on SIGINT or SIGTERM.
 *
 * Exit codes: 0 stopped by a signal; 2 a bad model; 3 network (model URL);
 * 4 permission (e.g. `--host` outside the task's `--allow-net`); 64 usage;
 * 69 the backend cannot start or the port is taken.
 *
 * @module
 */

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
  --host ADDR          address to bind (default 127.0.0.1, this machine only)
  --lang en|ja         language of the page (default en)
  --max-body BYTES     largest request body (default 5242880, 5 MB): 413 above
  --queue N            most images waiting for inference (default 64): 503 above
  --max-batch N        most images per forward pass (default 32)
  --backend B          auto, wasm, webgpu or cpu (default auto)
  --threads N          WASM threads (default: all cores, or env SIMDNET_THREADS)
  --help               show this text
`;

/** Parsed command line. */
export interface ServeArgs {
  model: string;
  port: number;
  host: string;
  lang: "en" | "ja";
  maxBody: number;
  queue: number;
  maxBatch: number;
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
