/**
 * Helpers of the checkpoint tests: a realistic state, re-framing an edited
 * header with a valid checksum (to reach the validator past the CRC), and
 * assertions that a file is refused with one line.
 */

import assert from "node:assert/strict";
import {
  CheckpointError,
  decodeCheckpoint,
  loadCheckpoint,
  type TrainState,
} from "../src/train/checkpoint.ts";
import { crc32 } from "../src/train/crc32.ts";
import { Rng } from "../src/util/random.ts";

/** A state with three tensors (conv kernel, bias, dense kernel) and 2 epochs. */
export function sampleState(seed = 1): TrainState {
  const rng = new Rng(seed);
  const tensor = (name: string, shape: number[], positive = false) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(
      () => positive ? rng.next() : rng.uniform(-1, 1),
    );
    return { name, shape, values };
  };
  const shapes: Array<[string, number[]]> = [
    ["conv2d/kernel", [3, 3, 3, 8]],
    ["conv2d/bias", [8]],
    ["dense/kernel", [128, 4]],
  ];
  return {
    epoch: 2,
    stoppedEarly: false,
    rngState: [0x89abcdef, 1, 0, 0xffffffff],
    history: {
      loss: [1.25, 0.5],
      accuracy: [0.25, 0.75],
      val_loss: [1.5, 0.75],
      val_accuracy: [0.125, 0.5],
      learning_rate: [1e-3, 5e-4],
    },
    earlyStopping: { best: 0.75, wait: 0 },
    settings: { batchSize: 16, augment: false, trainData: "sha256:00" },
    weights: shapes.map(([n, s]) => tensor(n, s)),
    optimizer: {
      kind: "adam",
      iterations: 40,
      slots: {
        momentum: shapes.map(([n, s]) => tensor(n, s)),
        velocity: shapes.map(([n, s]) => tensor(n, s, true)),
      },
    },
    step: 40,
    callbacks: {},
    lookahead: null,
  };
}

/** Splits a version-5 file into its header object and payload bytes. */
export function unframe(bytes: Uint8Array): {
  header: Record<string, unknown>;
  payload: Uint8Array;
} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  const text = new TextDecoder().decode(bytes.subarray(16, 16 + n));
  return {
    header: JSON.parse(text),
    payload: bytes.slice(16 + n, bytes.length - 4),
  };
}

/**
 * Builds a version-5 file from header text and payload with correct length
 * fields and CRC, as a careful hand edit would; `floats` overrides the
 * announced payload size, `pad` pads the header to a multiple of 4.
 */
export function frame(
  headerText: string,
  payload: Uint8Array,
  options: { floats?: number; pad?: boolean } = {},
): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const n = options.pad === false
    ? json.length
    : Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(16 + n + payload.length + 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode("SNCKPT05"));
  view.setUint32(8, n, true);
  view.setUint32(12, options.floats ?? payload.length / 4, true);
  out.fill(0x20, 16, 16 + n);
  out.set(json, 16);
  out.set(payload, 16 + n);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/**
 * Asserts that decoding `bytes` throws a one-line {@linkcode CheckpointError}
 * naming the file (and nothing else: no RangeError, no acceptance);
 * `pattern` checks the reason. Returns the message.
 */
export function assertRefused(
  bytes: Uint8Array,
  what: string,
  pattern?: RegExp,
): string {
  let error: unknown = null;
  try {
    decodeCheckpoint(bytes, "run/c.ckpt");
  } catch (e) {
    error = e;
  }
  assert.ok(error !== null, `${what}: accepted`);
  assert.ok(
    error instanceof CheckpointError,
    `${what}: ${(error as Error)?.stack ?? error}`,
  );
  assert.ok(!error.message.includes("\n"), `${what}: ${error.message}`);
  assert.match(error.message, /^run\/c\.ckpt /, what);
  if (pattern) assert.match(error.message, pattern, what);
  return error.message;
}

const CHILD = new URL("./_ckpt_child.ts", import.meta.url).pathname;

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise<void>((ok) => setTimeout(ok, ms));

/**
 * A seeded kill moment for a child whose run took `span` ms: from 200 ms to
 * 3/4 of the span. The quarter left out is for noise: on CI's machine a
 * child once ended in about half the span of the run timed before it.
 */
export function killMoment(rng: Rng, span: number): number {
  return 200 + rng.int(Math.max(1, Math.round(span * 0.75) - 200));
}

/** How a training child ended. */
export interface ChildOutcome {
  code: number;
  stderr: string;
  killed: boolean;
}

/**
 * Runs tests/_ckpt_child.ts in `dir` with `args`; SIGKILLs it when
 * `killWhen` (given whether the child is still running) resolves, unless it
 * has exited by then.
 */
export async function runTrainingChild(
  dir: string,
  args: string[],
  killWhen?: (running: () => boolean) => Promise<void>,
): Promise<ChildOutcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write=/tmp", CHILD, dir, ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let running = true;
  let killed = false;
  const killer = killWhen?.(() => running).then(() => {
    if (!running) return;
    killed = true;
    child.kill("SIGKILL");
  });
  const { code, stderr } = await child.output();
  running = false;
  await killer;
  return { code, stderr: new TextDecoder().decode(stderr), killed };
}

/** Resolves once the checkpoint `dir/c.ckpt` holds `epoch` epochs (or the child ended). */
export async function reaches(
  dir: string,
  epoch: number,
  running: () => boolean,
): Promise<void> {
  while (running()) {
    const state = await loadCheckpoint(`${dir}/c.ckpt`).catch(() => null);
    if (state && state.epoch >= epoch) return;
    await sleep(5);
  }
}

/** When to kill a run: given its folder, a `killWhen` for the child. */
export type KillPlan = [
  what: string,
  when: (dir: string) => (running: () => boolean) => Promise<void>,
];

/**
 * The kill-and-resume check of the kill tests: each plan runs the child in
 * its own folder under `root`, kills it when the plan says, resumes it to
 * the end and expects `final.bin` to equal `expected` bit for bit (then
 * `check`, for what else the resumed run must equal); at least two of the
 * runs must have been killed before they ended, or the test proved little.
 */
export async function killAndResume(
  root: string,
  runChild: (
    dir: string,
    killWhen?: (running: () => boolean) => Promise<void>,
  ) => Promise<ChildOutcome>,
  plans: readonly KillPlan[],
  expected: Uint8Array,
  check?: (dir: string, what: string) => Promise<void>,
): Promise<void> {
  let kills = 0;
  for (const [what, when] of plans) {
    const dir = `${root}/${what.replaceAll(" ", "_")}`;
    await Deno.mkdir(dir);
    if ((await runChild(dir, when(dir))).killed) kills++;
    const end = await runChild(dir);
    assert.equal(end.code, 0, `${what}: ${end.stderr}`);
    assert.deepEqual(await Deno.readFile(`${dir}/final.bin`), expected, what);
    await check?.(dir, what);
  }
  assert.ok(
    kills >= 2,
    `only ${kills} of the runs were killed before they ended`,
  );
}
