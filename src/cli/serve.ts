/**
 * `deno task serve --model DIR [--port 8080] [--host 127.0.0.1]`: the
 * classification service (`POST /classify`, the page at `/`, `/healthz`,
 * `/readyz`, `/metrics`). Binds 127.0.0.1 unless `--host` says otherwise.
 * On SIGINT or SIGTERM it drains: the listener closes, `/readyz` answers
 * 503, requests in flight are answered, then it exits (after
 * `--drain-timeout` at the latest; a second signal stops at once). Every
 * limit of `ServeOptions` (connections, header and body timeouts, requests
 * in flight, bytes buffered, files per form, queue, decode workers and
 * budget) has a flag, and every flag an environment variable
 * ({@linkcode SERVE_ENV}); `--help` lists the defaults.
 *
 * Exit codes: 0 stopped by a signal (drained, or not within the drain
 * timeout: a log line says so); 2 a bad model; 3 network (model URL); 4
 * permission (e.g. `--host` outside the task's `--allow-net`); 64 usage;
 * 69 the backend cannot start or the port is taken.
 *
 * @module
 */

import type { Lang } from "../data/classes.ts";
import type { BackendChoice } from "../runtime/types.ts";
import { Classifier } from "../serve/classifier.ts";
import { serveClassifier, type ServiceServer } from "../serve/server.ts";
import {
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "./flags.ts";
import {
  envHelp,
  type EnvReader,
  fillFromEnv,
  nameEnvInError,
  permittedEnv,
} from "./env_flags.ts";
import { reportFailure, runCli } from "./run_cli.ts";
import { TTA_OPTIONS, ttaFlags } from "./tta_flags.ts";
import { describeTta, type TtaOptions } from "../train/tta.ts";
import { UsageError } from "./usage.ts";

/**
 * Every flag's environment variable, for containers and orchestrators; a
 * flag given on the command line wins. The `serve` task's `--allow-env`
 * lists these names (a name it does not grant is read as unset).
 */
export const SERVE_ENV: Readonly<Record<string, string>> = {
  model: "SIMDNET_MODEL",
  port: "SIMDNET_PORT",
  host: "SIMDNET_HOST",
  lang: "SIMDNET_LANG",
  "max-body": "SIMDNET_MAX_BODY",
  queue: "SIMDNET_QUEUE",
  "max-batch": "SIMDNET_MAX_BATCH",
  "max-files": "SIMDNET_MAX_FILES",
  "max-connections": "SIMDNET_MAX_CONNECTIONS",
  "max-in-flight": "SIMDNET_MAX_IN_FLIGHT",
  "max-buffered": "SIMDNET_MAX_BUFFERED",
  "header-timeout": "SIMDNET_HEADER_TIMEOUT",
  "body-timeout": "SIMDNET_BODY_TIMEOUT",
  "decode-workers": "SIMDNET_DECODE_WORKERS",
  "decode-budget": "SIMDNET_DECODE_BUDGET",
  "drain-timeout": "SIMDNET_DRAIN_TIMEOUT",
  backend: "SIMDNET_BACKEND",
  threads: "SIMDNET_THREADS",
  tta: "SIMDNET_TTA",
  "tta-translate": "SIMDNET_TTA_TRANSLATE",
};

/** The text of `--help`. */
export const SERVE_USAGE = `usage: deno task serve --model DIR [options]

Serves a saved model over HTTP:
  POST /classify   raw PNG/JPEG bytes or a multipart form; JSON answer (?topK=N)
  GET  /           a page to choose or drop an image and see its top 3
  GET  /healthz    liveness: 200 while the process answers
  GET  /readyz     readiness: 200, or 503 with a JSON reason while the queue
                   or the requests in flight are full, or while draining
  GET  /metrics    Prometheus text (requests, errors, latency histogram,
                   limits, memory); JSON with ?format=json or
                   Accept: application/json

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
  --drain-timeout MS   on SIGTERM/SIGINT, most time to answer the requests in
                       flight before exiting anyway (default 30000)
  --backend B          auto, wasm, webgpu or cpu (default auto)
  --threads N          WASM threads (default: all cores, or env SIMDNET_THREADS)
  --tta                test-time augmentation: average the probabilities of
                       each image and its mirror (2 forward passes per image)
  --tta-translate      also average one-pixel translations, filled by
                       reflection, as airbench does (6 passes; implies --tta)
  --help               show this text

Every option can also be set by an environment variable (for containers;
1 or 0 for --tta and --tta-translate); a flag on the command line wins over
its variable:
${envHelp(SERVE_ENV)}
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
  drainTimeout: number;
  backend: BackendChoice;
  threads: number | undefined;
  /** Test-time augmentation, or undefined for none. */
  tta: Required<TtaOptions> | undefined;
}

/**
 * Parses the command line, then fills what it left unset from the
 * variables of {@linkcode SERVE_ENV} read by `env` (default: those the
 * permissions grant); returns "help" for --help.
 */
export function parseServeArgs(
  args: string[],
  env: EnvReader = permittedEnv,
): ServeArgs | "help" {
  const parsed = parseFlags(args, {
    model: { type: "string" },
    port: { type: "string" },
    // No defaults here: an unset flag must be told from a given one, so
    // that its variable can fill it.
    host: { type: "string" },
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
    "drain-timeout": { type: "string" },
    ...RUNTIME_OPTIONS,
    backend: { type: "string" },
    lang: { type: "string" },
    ...TTA_OPTIONS,
    help: { type: "boolean", default: false },
  });
  const v = parsed.values;
  if (v.help) return "help";
  const used = fillFromEnv(v, SERVE_ENV, env);
  return nameEnvInError(used, () => serveArgs(v));
}

function serveArgs(v: Record<string, unknown>): ServeArgs {
  const str = (flag: string) => v[flag] as string | undefined;
  const whole = (flag: string, min: number) => wholeFlag(str(flag), flag, min);
  const model = str("model");
  if (model === undefined) {
    throw new UsageError(
      "--model DIR (or SIMDNET_MODEL) is required: the directory of a saved model",
    );
  }
  const runtime = runtimeFlags({
    backend: str("backend"),
    threads: str("threads"),
    lang: str("lang"),
  });
  const port = whole("port", 0) ?? 8080;
  if (port > 65535) throw new UsageError(`--port must be at most 65535`);
  return {
    model,
    port,
    host: str("host") ?? "127.0.0.1",
    lang: runtime.lang,
    maxBody: whole("max-body", 1) ?? 5 * 1024 * 1024,
    queue: whole("queue", 1) ?? 64,
    maxBatch: whole("max-batch", 1) ?? 32,
    maxFiles: whole("max-files", 1) ?? 16,
    maxConnections: whole("max-connections", 1) ?? 256,
    maxInFlight: whole("max-in-flight", 1) ?? 64,
    maxBuffered: whole("max-buffered", 1) ?? 64 * 1024 * 1024,
    headerTimeout: whole("header-timeout", 1) ?? 10_000,
    bodyTimeout: whole("body-timeout", 1) ?? 30_000,
    decodeWorkers: whole("decode-workers", 0),
    decodeBudget: whole("decode-budget", 1) ?? 10_000,
    drainTimeout: whole("drain-timeout", 0) ?? 30_000,
    backend: runtime.backend,
    threads: runtime.threads,
    tta: ttaFlags({
      tta: v.tta as boolean | string | undefined,
      "tta-translate": v["tta-translate"] as boolean | string | undefined,
    }),
  };
}

/**
 * Waits for SIGINT/SIGTERM, then drains `server`; resolves once it stopped,
 * the drain timed out, or a second signal asked to stop at once.
 */
function stopOnSignal(server: ServiceServer, drainMs: number): Promise<void> {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const listeners = new Map<Deno.Signal, () => void>();
  return new Promise<void>((resolve) => {
    let draining = false;
    const done = () => {
      for (const [s, f] of listeners) Deno.removeSignalListener(s, f);
      resolve();
    };
    for (const signal of signals) {
      const onSignal = () => {
        if (draining) {
          console.warn(`${signal} again: stopping without waiting`);
          return done();
        }
        draining = true;
        console.log(
          `${signal}: draining, ${server.active()} requests in flight ` +
            `(up to ${drainMs} ms)`,
        );
        server.drain(drainMs).then((drained) => {
          if (!drained) {
            console.warn(
              `drain timeout: requests still in flight after ${drainMs} ms; ` +
                `stopping anyway (raise --drain-timeout to wait longer)`,
            );
          }
          done();
        });
      };
      listeners.set(signal, onSignal);
      Deno.addSignalListener(signal, onSignal);
    }
  });
}

// `deno task bundle`'s output, when it was built: the page then offers to
// classify in the browser tab. Absent (not built, or unreadable), the page
// classifies on the server only.
async function readBundle(): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(
      new URL("../../dist/simdnet.js", import.meta.url),
    );
  } catch {
    return undefined;
  }
}

async function run(a: ServeArgs): Promise<number> {
  const classifier = await Classifier.load(a.model, {
    backend: a.backend,
    threads: a.threads,
    tta: a.tta,
  });
  const rt = classifier.runtime;
  console.log(`backend: ${rt.backend} (${rt.reason})`);
  if (a.tta) console.log(`test-time augmentation: ${describeTta(a.tta)}`);
  // Before listening, so that /readyz and the first requests find the code
  // compiled (the first classification took 55-60 ms, the next about 1).
  // A batch holds at most --max-batch queued images, and at most --queue.
  const started = performance.now();
  await classifier.warmUp([...new Set([1, Math.min(a.maxBatch, a.queue)])]);
  console.log(`warmed up in ${Math.round(performance.now() - started)} ms`);
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
    bundle: await readBundle(),
    onListen: (addr) => {
      const host = addr.hostname.includes(":")
        ? `[${addr.hostname}]`
        : addr.hostname;
      console.log(`listening on http://${host}:${addr.port}/`);
    },
  });
  await stopOnSignal(server, a.drainTimeout);
  // After a timed-out drain a forward pass may still hold the model; the
  // process exits right after this, which frees it either way.
  if (server.active() === 0) classifier.dispose();
  console.log("stopped");
  return 0;
}

/** Runs the CLI with `args` and returns the exit code once the server stops. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: SERVE_USAGE,
    parse: parseServeArgs,
    run,
    failure: (error) => reportFailure(error, "serve"),
  });
}

if (import.meta.main) {
  // Deno.exit carries main()'s exit code to the shell.
  Deno.exit(await main(Deno.args));
}
