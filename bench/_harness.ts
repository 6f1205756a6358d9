/**
 * Runs benchmark configurations interleaved: one worker process per
 * configuration (system, backend, threads), all started up front and each
 * warmed up, then several rounds in which every measurement runs once, the
 * order rotating from round to round. Each row is the median over rounds,
 * so a burst of load from elsewhere on the machine hits one sample of each
 * system rather than all samples of one.
 *
 * @module
 */

import {
  type BenchReply,
  type BenchRow,
  parseMessage,
  splitLines,
  type System,
  type Task,
} from "./_protocol.ts";

/** One worker process: a configuration that can run several tasks. */
export interface WorkerSpec {
  system: System;
  backend: string;
  threads: number;
  command: string;
  args: string[];
  /** The whole environment, when given (replaces the harness's own). */
  env?: Record<string, string>;
}

/** One row to measure. */
export interface Measurement {
  worker: WorkerSpec;
  task: Task;
  batch: number;
  /** Untimed steps before the rounds. */
  warmup: number;
  /** Steps per round; default: as many as take about `targetSeconds`. */
  steps?: number;
  /** Rounds for this row, if fewer than the run's (for slow backends). */
  rounds?: number;
}

/** A configuration or row that did not run, and why. */
export interface Skipped {
  system: System;
  backend: string;
  threads: number;
  task?: Task;
  reason: string;
}

/** Options of {@linkcode runInterleaved}. */
export interface HarnessOptions {
  rounds: number;
  /** Time a round of an adaptive row aims at; default 1.5 s. */
  targetSeconds?: number;
  /** Idle time before each request, so spinning pool threads of the last worker go to sleep. */
  pauseMs?: number;
  /** Progress lines (to stderr, so that `--json` output stays clean). */
  log?: (line: string) => void;
  /**
   * A short measurement of the machine itself, run in this process before
   * each round while no worker runs (bench:compare's: the 6x8 kernel loop,
   * GFLOP/s); its values come back in {@linkcode HarnessResult.probes}.
   */
  probe?: () => number;
  /**
   * Called before each round for every 1-thread worker's process: bench:compare
   * pins them all to CPU `round % cores` (bench/_cpu_probe.ts), so that in a
   * round every 1-thread system runs on the same core and the rounds take
   * turns between cores; on a VM whose cores differ in speed, one worker
   * would otherwise measure a slow core in all its rounds.
   */
  pin?: (pid: number, round: number) => void;
}

/** Rows measured and configurations skipped. */
export interface HarnessResult {
  rows: BenchRow[];
  skipped: Skipped[];
  /** The probe's value before each round, if there was a probe. */
  probes: number[];
}

const START_TIMEOUT_MS = 180_000;
const REQUEST_TIMEOUT_MS = 900_000;

/** A running worker process. */
export class WorkerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #messages: AsyncIterator<string>;
  #stderr = "";
  readonly #stderrDone: Promise<void>;
  /** What the worker's `ready` message described (versions, threads). */
  info: unknown;
  /** The worker's process id. */
  readonly pid: number;

  constructor(readonly spec: WorkerSpec) {
    const child = new Deno.Command(spec.command, {
      args: spec.args,
      env: spec.env,
      clearEnv: spec.env !== undefined,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.#messages = child.stdout
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(splitLines())[Symbol.asyncIterator]();
    this.#stderrDone = (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        this.#stderr = (this.#stderr + chunk).slice(-4000); // the tail explains a crash
      }
    })();
  }

  /** The next protocol message; throws when the worker exits or is too slow. */
  async next(timeoutMs: number): Promise<Record<string, unknown>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      while (true) {
        const line = await Promise.race([this.#messages.next(), timeout]);
        if (line.done) {
          await this.#stderrDone;
          const tail = this.#stderr.trim().split("\n").slice(-6).join("\n");
          throw new Error(`worker exited${tail ? `:\n${tail}` : ""}`);
        }
        const message = parseMessage(line.value);
        if (message) return message;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async request(task: Task, batch: number, steps: number): Promise<BenchReply> {
    const line = JSON.stringify({ task, batch, steps }) + "\n";
    await this.#writer.write(new TextEncoder().encode(line));
    const answer = await this.next(REQUEST_TIMEOUT_MS);
    if (typeof answer.error === "string") throw new Error(answer.error);
    return answer as unknown as BenchReply;
  }

  async close(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // already gone
    }
    const exited = this.#child.status;
    const late = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(late);
    await this.#stderrDone.catch(() => {});
  }
}

/**
 * Starts `spec` and waits for its `ready`; throws with the worker's reason
 * when it says `skip` or exits (for `deno bench` files, which drive one
 * worker per system without the rounds of {@linkcode runInterleaved}).
 */
export async function startWorker(spec: WorkerSpec): Promise<WorkerProcess> {
  const worker = new WorkerProcess(spec);
  try {
    const hello = await worker.next(START_TIMEOUT_MS);
    if (typeof hello.skip === "string") throw new Error(hello.skip);
    worker.info = hello.info ?? {};
    return worker;
  } catch (err) {
    await worker.close();
    throw err;
  }
}

/** `system backend Nt` for messages. */
export function label(
  s: { system: string; backend: string; threads: number },
): string {
  return `${s.system} ${s.backend} ${s.threads}t`;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A measurement being taken: its steps per request and its samples. */
interface LiveRow {
  m: Measurement;
  steps: number;
  samples: BenchReply[];
}

type Log = (line: string) => void;

/** Why a row or worker was dropped, from the error that dropped it. */
function skip(spec: WorkerSpec, err: unknown, task?: Task): Skipped {
  return {
    ...pick(spec),
    ...(task === undefined ? {} : { task }),
    reason: (err as Error).message,
  };
}

/** Starts each row's worker once, one at a time (start-up compiles). */
async function startAll(
  measurements: readonly Measurement[],
  skipped: Skipped[],
  log: Log,
): Promise<Map<WorkerSpec, WorkerProcess>> {
  const workers = new Map<WorkerSpec, WorkerProcess>();
  for (const spec of new Set(measurements.map((m) => m.worker))) {
    try {
      const worker = await startWorker(spec);
      log(`started ${label(spec)} ${JSON.stringify(worker.info)}`);
      workers.set(spec, worker);
    } catch (err) {
      skipped.push(skip(spec, err));
      log(`skipped ${label(spec)}: ${(err as Error).message}`);
    }
  }
  return workers;
}

/**
 * Warms each row up and sizes its requests to about `target` seconds;
 * a row whose warm-up fails is dropped from `live`.
 */
async function warmUp(
  live: LiveRow[],
  workers: Map<WorkerSpec, WorkerProcess>,
  target: number,
  skipped: Skipped[],
  log: Log,
): Promise<void> {
  for (const row of [...live]) {
    const { m } = row;
    try {
      const warm = await workers.get(m.worker)!.request(
        m.task,
        m.batch,
        Math.max(1, m.warmup),
      );
      const perStep = warm.seconds / warm.steps;
      row.steps = m.steps ??
        Math.max(1, Math.min(500, Math.round(target / perStep)));
      log(
        `warmed ${label(m.worker)} ${m.task} b${m.batch}: ${
          warm.msPerBatch.toFixed(1)
        } ms/batch`,
      );
    } catch (err) {
      skipped.push(skip(m.worker, err, m.task));
      live.splice(live.indexOf(row), 1);
    }
  }
}

/** One sample of every due row per round, the order rotated each round. */
async function measureRounds(
  live: LiveRow[],
  workers: Map<WorkerSpec, WorkerProcess>,
  options: HarnessOptions,
  skipped: Skipped[],
  log: Log,
  probes: number[],
): Promise<void> {
  const pause = options.pauseMs ?? 200;
  for (let round = 0; round < options.rounds; round++) {
    if (options.probe) {
      await sleep(pause);
      probes.push(options.probe());
    }
    if (options.pin) {
      for (const worker of workers.values()) {
        if (worker.spec.threads === 1) options.pin(worker.pid, round);
      }
    }
    const due = live.filter((r) => (r.m.rounds ?? options.rounds) > round);
    const shift = due.length ? round % due.length : 0;
    for (const row of [...due.slice(shift), ...due.slice(0, shift)]) {
      await sleep(pause);
      try {
        row.samples.push(
          await workers.get(row.m.worker)!.request(
            row.m.task,
            row.m.batch,
            row.steps,
          ),
        );
      } catch (err) {
        skipped.push(skip(row.m.worker, err, row.m.task));
        live.splice(live.indexOf(row), 1);
        row.samples.length = 0;
      }
    }
    log(`round ${round + 1}/${options.rounds} done`);
  }
}

/** A row's result: the median rate and the largest peak memory reported. */
function toRow({ m, samples }: LiveRow): BenchRow {
  const ips = median(samples.map((s) => s.imagesPerSecond));
  // The high-water mark only grows: the largest a worker reported.
  const rss = samples.flatMap((s) =>
    typeof s.peakRssMb === "number" ? [s.peakRssMb] : []
  );
  return {
    ...pick(m.worker),
    task: m.task,
    batch: m.batch,
    imagesPerSecond: ips,
    msPerBatch: (m.batch * 1000) / ips,
    ...(rss.length ? { peakRssMb: Math.max(...rss) } : {}),
  };
}

/** Measures every row, interleaved; see the module doc. */
export async function runInterleaved(
  measurements: readonly Measurement[],
  options: HarnessOptions,
): Promise<HarnessResult> {
  const log = options.log ?? (() => {});
  const skipped: Skipped[] = [];
  const probes: number[] = [];
  const workers = await startAll(measurements, skipped, log);
  const live: LiveRow[] = measurements
    .filter((m) => workers.has(m.worker))
    .map((m) => ({ m, steps: m.steps ?? 1, samples: [] }));
  try {
    await warmUp(live, workers, options.targetSeconds ?? 1.5, skipped, log);
    await measureRounds(live, workers, options, skipped, log, probes);
  } finally {
    await Promise.all([...workers.values()].map((w) => w.close()));
  }
  const rows = live.filter((r) => r.samples.length > 0).map(toRow);
  return { rows, skipped, probes };
}

function pick(
  s: WorkerSpec,
): { system: System; backend: string; threads: number } {
  return { system: s.system, backend: s.backend, threads: s.threads };
}
