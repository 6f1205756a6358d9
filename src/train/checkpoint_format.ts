/**
 * The checkpoint file format, version 5: what a checkpoint holds, its
 * encoding, and a decoder that refuses anything damaged with one line.
 *
 * Layout (little-endian):
 *
 *     0       8 bytes  magic "SNCKPT05" (the last two digits: the version)
 *     8       4 bytes  uint32 n: bytes of the JSON header, a multiple of 4
 *     12      4 bytes  uint32 f: float32 values in the payload
 *     16      n bytes  UTF-8 JSON header, padded with spaces
 *     16+n    4f bytes float32 payload: weights, then each optimizer slot
 *                      (Adam: momentum, velocity; SGD: momentum; RMSprop:
 *                      velocity[, momentum][, average_gradient]), then
 *                      the lookahead's slow weights when the run has one
 *     16+n+4f 4 bytes  uint32 CRC-32 (zlib's) of every byte before it
 *
 * A file is accepted only if its length is exactly 20 + n + 4f (so a
 * truncated file or trailing bytes are refused before anything is parsed),
 * the CRC matches, the header has exactly the expected fields with the
 * expected types, its tensors tile the payload exactly (contiguous, in
 * order, each `length` the product of its `shape`, every optimizer slot
 * naming the same weights with their shapes: all of them, or the trainable
 * ones in order when layers are frozen), history lengths match the epoch
 * count, and every value is finite. Older files are refused with a message saying why: version 1
 * ("SNCKPT01") had no checksum, version 2 saved the state of the trainer's
 * former generator (one uint32 of SplitMix32), which the one generator of
 * src/util/random.ts (xoshiro128**, four uint32s) cannot continue, version
 * 3 held Adam's moments only (no optimizer kind, schedule step, callback
 * state or learning-rate history), version 4 had no lookahead state (the
 * fast recipe's slow weights: without them a resumed run is not the
 * continuation of the saved one).
 *
 * Cost on a seed-CNN checkpoint (26.0 MB): encoding 33 ms, decoding with
 * the CRC and every check 38 ms (minimum of 9 runs, AMD EPYC Zen 4, Deno
 * 2.9.6), against 70-85 s per training epoch.
 *
 * @module
 */

import type { WeightValues } from "../nn/sequential.ts";
import type { RngState } from "../util/random.ts";
import type { CallbackState } from "./callback.ts";
import type { OptimizerKind, OptimizerState } from "./optimizer.ts";
import { crc32 } from "./crc32.ts";
import {
  checkFields,
  checkLookahead,
  checkTensors,
  exactKeys,
  type Group,
  LOOKAHEAD,
  type TensorEntry,
} from "./checkpoint_validate.ts";

export type { Group, TensorEntry } from "./checkpoint_validate.ts";

/** The magic of the current version; "SNCKPT" + two digits in general. */
const MAGIC = "SNCKPT05";
const VERSION = 5;
const PREFIX = 16;
/** Why each older version cannot be read, for the refusal message. */
const OLDER: Record<number, string> = {
  1: "from an older simdnet without a checksum",
  2: "from an older simdnet whose random generator state (one uint32) the " +
    "current generator cannot continue",
  3: "from an older simdnet that saved Adam's moments only, without the " +
    "optimizer kind, schedule step and callback state",
  4: "from an older simdnet without the lookahead state",
};
const CRC_BYTES = 4;

/** Metrics per epoch, as Keras' `history.history`. */
export interface History {
  /** Mean training loss of each epoch. */
  loss: number[];
  /** Training accuracy of each epoch. */
  accuracy: number[];
  /** Validation loss of each epoch (empty without validation data). */
  val_loss: number[];
  /** Validation accuracy of each epoch (empty without validation data). */
  val_accuracy: number[];
  /**
   * Learning rate of each epoch's last step (Keras 3's `learning_rate`);
   * always written by `fit` and in checkpoints, absent in older history.json.
   */
  learning_rate?: number[];
}

/** Early stopping's running state. */
export interface EarlyStoppingState {
  /** Best monitored value so far; `null` before the first epoch. */
  best: number | null;
  /** Epochs since the last improvement. */
  wait: number;
}

/** What a checkpoint holds. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  /** Whether early stopping ended the run (it is then not continued). */
  stoppedEarly: boolean;
  /** The trainer's generator state after `epoch` epochs (`Rng.state`). */
  rngState: RngState;
  /** Metrics of the `epoch` epochs completed. */
  history: History;
  /** Early stopping's state, or null without early stopping. */
  earlyStopping: EarlyStoppingState | null;
  /** Settings that must match for an exact resume (batch size, data fingerprints, ...). */
  settings: Record<string, string | number | boolean | null>;
  /** The model's weights, by Keras name. */
  weights: WeightValues[];
  /** The optimizer's kind, update count and slots, one per trainable weight in weight order. */
  optimizer: OptimizerState;
  /** Training steps done, the learning-rate schedule's position. */
  step: number;
  /** Each callback's state, by class name. */
  callbacks: Record<string, CallbackState>;
  /**
   * The lookahead's steps between updates and slow weights (one per model
   * weight, in weight order), or null for a run without lookahead.
   */
  lookahead: LookaheadState | null;
}

/** A lookahead's state in a checkpoint. */
export interface LookaheadState {
  /** Steps between two updates. */
  every: number;
  /** The slow weights, named and shaped as the model's weights. */
  slow: WeightValues[];
}

/** Why a checkpoint cannot be used. */
export type CheckpointProblem =
  | "missing"
  | "damaged"
  | "old-format"
  | "mismatch";

/** A checkpoint that cannot be used; the one-line message says what to do. */
export class CheckpointError extends Error {
  /** Creates the error; `reason` is the short why (e.g. "checksum mismatch"). */
  constructor(
    message: string,
    readonly problem: CheckpointProblem = "damaged",
    readonly reason: string = message,
  ) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** The error for a damaged or unreadable checkpoint at `path`. */
export function damaged(path: string, why: string): CheckpointError {
  return new CheckpointError(
    `${path} is damaged (${why}) and cannot be resumed; delete it, or start ` +
      `a new run without --resume`,
    "damaged",
    why,
  );
}

/** The JSON header: the state without its tensors, plus their layout. */
interface Header
  extends Omit<TrainState, "weights" | "optimizer" | "lookahead"> {
  format: string;
  version: number;
  optimizer: { kind: OptimizerKind; iterations: number; slots: string[] };
  lookahead: { every: number } | null;
  tensors: TensorEntry[];
}

/** The header's fields, all required. */
export const HEADER_KEYS = [
  "format",
  "version",
  "epoch",
  "stoppedEarly",
  "rngState",
  "history",
  "earlyStopping",
  "settings",
  "optimizer",
  "step",
  "callbacks",
  "lookahead",
  "tensors",
];

/** Serialises `state` to the checkpoint format (version 5). */
export function encodeCheckpoint(state: TrainState): Uint8Array {
  const slots = Object.keys(state.optimizer.slots);
  const groups: Array<[Group, WeightValues[]]> = [
    ["weight", state.weights],
    ...slots.map((
      s,
    ): [Group, WeightValues[]] => [s, state.optimizer.slots[s]!]),
    ...(state.lookahead
      ? [[LOOKAHEAD, state.lookahead.slow] as [Group, WeightValues[]]]
      : []),
  ];
  const tensors: TensorEntry[] = [];
  let floats = 0;
  for (const [group, list] of groups) {
    for (const w of list) {
      const { name, shape } = w;
      tensors.push({
        group,
        name,
        shape,
        offset: floats,
        length: w.values.length,
      });
      floats += w.values.length;
    }
  }
  const header: Header = {
    format: "simdnet-checkpoint",
    version: VERSION,
    epoch: state.epoch,
    stoppedEarly: state.stoppedEarly,
    rngState: state.rngState,
    history: state.history,
    earlyStopping: state.earlyStopping,
    settings: state.settings,
    optimizer: {
      kind: state.optimizer.kind,
      iterations: state.optimizer.iterations,
      slots,
    },
    step: state.step,
    callbacks: state.callbacks,
    lookahead: state.lookahead ? { every: state.lookahead.every } : null,
    tensors,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(PREFIX + n + floats * 4 + CRC_BYTES);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, n, true);
  view.setUint32(12, floats, true);
  out.fill(0x20, PREFIX, PREFIX + n);
  out.set(json, PREFIX);
  const payload = new Float32Array(out.buffer, PREFIX + n, floats);
  let i = 0;
  for (const [, list] of groups) {
    for (const w of list) payload.set(w.values, tensors[i++]!.offset);
  }
  const end = out.length - CRC_BYTES;
  view.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}

/** Checks magic, version, exact length and CRC; returns header text and payload. */
function readFrame(
  bytes: Uint8Array,
  path: string,
): { text: string; payload: Float32Array } {
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (!/^SNCKPT\d\d$/.test(magic)) {
    throw damaged(path, "not a simdnet checkpoint: wrong magic bytes");
  }
  if (magic !== MAGIC) {
    const v = Number(magic.slice(6));
    throw new CheckpointError(
      `${path} is a version-${v} checkpoint, ${
        OLDER[v] ?? "from a newer simdnet"
      }; this simdnet reads version ${VERSION} only: start a new run without ` +
        `--resume (or into a new --out)`,
      "old-format",
      `format version ${v}`,
    );
  }
  if (bytes.length < PREFIX + CRC_BYTES) {
    throw damaged(path, `truncated: ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  const floats = view.getUint32(12, true);
  const want = PREFIX + n + 4 * floats + CRC_BYTES;
  if (bytes.length !== want) {
    throw damaged(
      path,
      `${bytes.length} bytes where its header announces ${want}: ` +
        (bytes.length < want ? "truncated" : "trailing bytes") +
        " or a damaged header",
    );
  }
  const end = bytes.length - CRC_BYTES;
  if (crc32(bytes.subarray(0, end)) !== view.getUint32(end, true)) {
    throw damaged(path, "checksum mismatch");
  }
  if (n % 4 !== 0) throw damaged(path, "misaligned header");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(PREFIX, PREFIX + n),
    );
  } catch {
    throw damaged(path, "header is not UTF-8");
  }
  // Copy the payload: `bytes` may not be 4-byte aligned.
  const payload = new Float32Array(
    bytes.slice(PREFIX + n, PREFIX + n + 4 * floats).buffer,
  );
  return { text, payload };
}

/**
 * Fails unless every value is finite and the velocity slot (Adam's and
 * RMSprop's squared-gradient average, `[vStart, vEnd)`) is not negative. One plain loop: `Array.prototype.some`
 * with a closure took ~10x longer on 26 MB.
 */
function checkValues(
  payload: Float32Array,
  vStart: number,
  vEnd: number,
  fail: (why: string) => never,
): void {
  for (let i = 0; i < payload.length; i++) {
    const x = payload[i]!;
    if (x - x !== 0) fail(`non-finite value at payload index ${i}`);
    if (x < 0 && i >= vStart && i < vEnd) {
      fail(`negative second moment at index ${i}`);
    }
  }
}

/**
 * Parses and validates a checkpoint; `path` only serves error messages.
 * Throws {@linkcode CheckpointError} (and nothing else) for any damage.
 */
export function decodeCheckpoint(bytes: Uint8Array, path: string): TrainState {
  const fail = (why: string): never => {
    throw damaged(path, why);
  };
  const { text, payload } = readFrame(bytes, path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail("header is not valid JSON");
  }
  const h = exactKeys(parsed, HEADER_KEYS, "the header", fail);
  if (h.format !== "simdnet-checkpoint" || h.version !== VERSION) {
    fail(`header names format ${JSON.stringify(h.format)} ${h.version}`);
  }
  const slots = checkFields(h, fail);
  const lookahead = checkLookahead(h.lookahead, fail);
  const tensors = checkTensors(
    h.tensors,
    payload.length,
    slots,
    fail,
    lookahead !== null,
  );
  const velocity = tensors.filter((e) => e.group === "velocity");
  const last = velocity[velocity.length - 1];
  checkValues(
    payload,
    velocity[0]?.offset ?? 0,
    last ? last.offset + last.length : 0,
    fail,
  );
  // Views into the one payload copy: Sequential.setWeights and
  // the optimizers' setState copy them into tensors anyway.
  const groups: Record<Group, WeightValues[]> = { weight: [] };
  for (const s of slots) groups[s] = [];
  groups[LOOKAHEAD] = [];
  for (const e of tensors) {
    const values = payload.subarray(e.offset, e.offset + e.length);
    groups[e.group]!.push({ name: e.name, shape: e.shape, values });
  }
  const header = h as unknown as Header;
  return {
    epoch: header.epoch,
    stoppedEarly: header.stoppedEarly,
    rngState: header.rngState,
    history: header.history,
    earlyStopping: header.earlyStopping,
    settings: header.settings,
    weights: groups.weight!,
    optimizer: {
      kind: header.optimizer.kind,
      iterations: header.optimizer.iterations,
      slots: Object.fromEntries(slots.map((s) => [s, groups[s]!])),
    },
    step: header.step,
    callbacks: header.callbacks,
    lookahead: lookahead
      ? { every: lookahead.every, slow: groups[LOOKAHEAD]! }
      : null,
  };
}
