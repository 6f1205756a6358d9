/**
 * The result rows of the benchmarks, and the line protocol between the
 * harness and its worker processes.
 *
 * A worker starts, prepares its model, and prints one message, `ready` or
 * `skip`. Then each request line on its stdin, such as
 * `{"task":"train","batch":64,"steps":5}`, gets one reply: the seconds
 * those steps took, or an error. It exits when stdin closes. Messages are
 * JSON on one line after {@linkcode MESSAGE_PREFIX}, so that whatever a
 * library prints on stdout cannot be mistaken for one. bench/pytorch_cnn.py
 * speaks the same protocol.
 *
 * @module
 */

import { peakRssMb } from "../src/util/peak_rss.ts";

/** Systems compared. */
export type System =
  | "simdnet"
  | "simdnet@base"
  | "simdnet-unchecked"
  | "pytorch"
  | "pytorch-capped"
  | "onnxruntime-web"
  | "onnxruntime-node";

/**
 * `train`: full training steps of the seed CNN; `infer`: batched
 * inference; `latency`: batch 1; `train-fast`: training steps of the fast
 * recipe's network at width {@linkcode FAST_BENCH_WIDTH} (augmentation
 * from uint8, SGD with Nesterov momentum and the BatchNorm-offset group,
 * label smoothing; the lookahead, one pass over the weights every 5 steps,
 * left out on both sides).
 */
export type Task = "train" | "infer" | "latency" | "train-fast";

/** Every task. */
export const TASKS: readonly Task[] = [
  "train",
  "infer",
  "latency",
  "train-fast",
];

/** The fast network's width in `train-fast` (issue #14's small variant). */
export const FAST_BENCH_WIDTH = 0.5;

/** One measured configuration: what `--json` prints, an array of these. */
export interface BenchRow {
  system: System;
  /** `wasm`, `cpu`, `webgpu` for simdnet; what the other system ran on. */
  backend: string;
  threads: number;
  task: Task;
  batch: number;
  /** Median over rounds. */
  imagesPerSecond: number;
  /** Milliseconds per batch (per training step for `train`) at that median. */
  msPerBatch: number;
  /**
   * Peak resident memory of the worker process in MiB (its VmHWM): the
   * whole process, so every task one worker ran (train, infer, latency of
   * one configuration) shares the figure. Absent where unknown.
   */
  peakRssMb?: number;
}

/** What the harness asks for. */
export interface BenchRequest {
  task: Task;
  batch: number;
  steps: number;
}

/** A measurement. */
export interface BenchReply extends BenchRequest {
  seconds: number;
  imagesPerSecond: number;
  msPerBatch: number;
  /** The worker process's peak resident memory so far, in MiB, if known. */
  peakRssMb?: number;
}

/** A worker's first message. */
export type WorkerHello =
  | { ready: true; info: Record<string, unknown> }
  | { skip: string };

/** A worker's answer to a request. */
export type WorkerReply = BenchReply | { error: string };

/** Marks protocol lines on a worker's stdout (pytorch_cnn.py uses it too). */
export const MESSAGE_PREFIX = "@@bench ";

/** Times one request: returns seconds for `steps` steps of `task`. */
export type RunSteps = (
  task: Task,
  batch: number,
  steps: number,
) => Promise<number>;

/** The reply for `steps` steps that took `seconds`. */
export function reply(request: BenchRequest, seconds: number): BenchReply {
  return {
    ...request,
    seconds,
    imagesPerSecond: (request.batch * request.steps) / seconds,
    msPerBatch: (seconds * 1000) / request.steps,
  };
}

const encoder = new TextEncoder();

/** Writes one protocol message to stdout. */
export function send(message: WorkerHello | WorkerReply): void {
  Deno.stdout.writeSync(
    encoder.encode(`${MESSAGE_PREFIX}${JSON.stringify(message)}\n`),
  );
}

/** Parses a protocol line; null for any other output. */
export function parseMessage(line: string): Record<string, unknown> | null {
  if (!line.startsWith(MESSAGE_PREFIX)) return null;
  return JSON.parse(line.slice(MESSAGE_PREFIX.length)) as Record<
    string,
    unknown
  >;
}

/** Checks a request read from the harness. */
export function parseRequest(line: string): BenchRequest {
  const r = JSON.parse(line) as Partial<BenchRequest>;
  const whole = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  if (!TASKS.includes(r.task as Task) || !whole(r.batch) || !whole(r.steps)) {
    throw new Error(`bad request ${line.trim()}`);
  }
  return r as BenchRequest;
}

/**
 * Announces `info`, then answers requests from stdin until it closes.
 * A request that throws is answered with its error; the worker goes on.
 */
export async function serveRequests(
  info: Record<string, unknown>,
  run: RunSteps,
): Promise<void> {
  send({ ready: true, info });
  const lines = Deno.stdin.readable
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(splitLines());
  for await (const line of lines) {
    if (line.trim() === "") continue;
    try {
      const request = parseRequest(line);
      const seconds = await run(request.task, request.batch, request.steps);
      const rss = peakRssMb();
      send({
        ...reply(request, seconds),
        ...(rss === null ? {} : { peakRssMb: rss }),
      });
    } catch (err) {
      send({ error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** Splits a text stream into lines, without their line ends. */
export function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) controller.enqueue(p.replace(/\r$/, ""));
    },
    flush(controller) {
      if (rest !== "") controller.enqueue(rest);
    },
  });
}

/** A measurement by hand: `warmup` untimed steps, then `request`. */
export async function measureOnce(
  run: RunSteps,
  request: BenchRequest,
  warmup: number,
): Promise<BenchReply> {
  if (warmup > 0) await run(request.task, request.batch, warmup);
  return reply(request, await run(request.task, request.batch, request.steps));
}
