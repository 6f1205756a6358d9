/**
 * Training checkpoints: everything needed to continue a run exactly where
 * the last completed epoch left it (weights, Adam's moments and iteration
 * count, the trainer's random state, history, early-stopping state).
 *
 * File layout (little-endian):
 *
 *     8 bytes   magic "SNCKPT01"
 *     4 bytes   uint32 n: length of the JSON header in bytes
 *     n bytes   UTF-8 JSON header, padded with spaces to a multiple of 4
 *     rest      float32 blob; the header gives each tensor's offset and length
 *
 * Files are written atomically: to a temporary file in the same directory,
 * synced, then renamed over the old checkpoint, so a run killed at any
 * moment leaves either the previous or the new checkpoint, never half of one.
 *
 * @module
 */

import { writeFileAtomic } from "../nn/model_io.ts";
import type { WeightValues } from "../nn/sequential.ts";

const MAGIC = "SNCKPT01";

/** Metrics per epoch, as Keras' `history.history`. */
export interface History {
  loss: number[];
  accuracy: number[];
  val_loss: number[];
  val_accuracy: number[];
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
  /** The trainer's random state after `epoch` epochs. */
  rngState: number;
  history: History;
  earlyStopping: EarlyStoppingState | null;
  /** Settings that must match for an exact resume (batch size, data sizes, ...). */
  settings: Record<string, string | number | boolean | null>;
  weights: WeightValues[];
  optimizer: { iterations: number; m: WeightValues[]; v: WeightValues[] };
}

/** A checkpoint that cannot be read, with the fix in the message. */
export class CheckpointError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

interface TensorEntry {
  group: "weight" | "m" | "v";
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** The JSON header: the state without its tensors, plus their layout. */
interface Header extends Omit<TrainState, "weights" | "optimizer"> {
  format: string;
  version: number;
  iterations: number;
  tensors: TensorEntry[];
}

/** Serialises `state` to the checkpoint format. */
export function encodeCheckpoint(state: TrainState): Uint8Array {
  const groups: Array<[TensorEntry["group"], WeightValues[]]> = [
    ["weight", state.weights],
    ["m", state.optimizer.m],
    ["v", state.optimizer.v],
  ];
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const [group, list] of groups) {
    for (const w of list) {
      entries.push({
        group,
        name: w.name,
        shape: w.shape,
        offset,
        length: w.values.length,
      });
      offset += w.values.length;
    }
  }
  const { weights: _w, optimizer, ...rest } = state;
  const header: Header = {
    format: "simdnet-checkpoint",
    version: 1,
    ...rest,
    iterations: optimizer.iterations,
    tensors: entries,
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(12 + json.length + offset * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  const blob = new Float32Array(out.buffer, 12 + json.length, offset);
  let i = 0;
  for (const [, list] of groups) {
    for (const w of list) {
      blob.set(w.values, entries[i]!.offset);
      i++;
    }
  }
  return out;
}

/** Parses a checkpoint; `path` only serves error messages. */
export function decodeCheckpoint(bytes: Uint8Array, path: string): TrainState {
  const bad = (why: string) =>
    new CheckpointError(
      `${path} is not a usable simdnet checkpoint (${why}); delete it or ` +
        `train into a new --out directory without --resume`,
    );
  if (
    bytes.length < 12 ||
    new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC
  ) {
    throw bad("wrong magic bytes");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  if (12 + n > bytes.length || n % 4 !== 0) throw bad("truncated header");
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n)));
  } catch {
    throw bad("corrupt header");
  }
  if (header?.format !== "simdnet-checkpoint" || header.version !== 1) {
    throw bad(`unknown format or version ${header?.version}`);
  }
  if (!Number.isInteger(header.epoch) || !Array.isArray(header.tensors)) {
    throw bad("incomplete header");
  }
  const floats = (bytes.length - 12 - n) / 4;
  // Copy the blob: the source may not be 4-byte aligned.
  const blob = new Float32Array(
    bytes.slice(12 + n, 12 + n + floats * 4).buffer,
  );
  const groups: Record<TensorEntry["group"], WeightValues[]> = {
    weight: [],
    m: [],
    v: [],
  };
  for (const e of header.tensors) {
    if (e.offset + e.length > blob.length) throw bad("truncated tensor data");
    groups[e.group].push({
      name: e.name,
      shape: e.shape,
      values: blob.slice(e.offset, e.offset + e.length),
    });
  }
  return {
    epoch: header.epoch,
    stoppedEarly: header.stoppedEarly,
    rngState: header.rngState,
    history: header.history,
    earlyStopping: header.earlyStopping,
    settings: header.settings,
    weights: groups.weight,
    optimizer: { iterations: header.iterations, m: groups.m, v: groups.v },
  };
}

/** Saves a checkpoint atomically. */
export async function saveCheckpoint(
  path: string,
  state: TrainState,
): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(state));
}

/** Loads a checkpoint, with a clear error when it is missing or unusable. */
export async function loadCheckpoint(path: string): Promise<TrainState> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CheckpointError(
        `no checkpoint at ${path} to resume from; drop --resume to start a ` +
          `new run, or pass the --out directory of the run to continue`,
      );
    }
    throw error;
  }
  return decodeCheckpoint(bytes, path);
}
