/**
 * Training checkpoints on disk: everything needed to continue a run exactly
 * where the last completed epoch left it (weights, the optimizer's kind,
 * slots and iteration count, the schedule's step, the callbacks' state,
 * the trainer's random state, history, early-stopping state, the settings
 * and data fingerprints it was trained with). The byte
 * format, with its checksum and strict validation, is in
 * checkpoint_format.ts.
 *
 * Two files: `checkpoint.ckpt`, the latest, and `checkpoint.prev.ckpt`, the
 * one before. Each save writes a temporary file, syncs it, renames the
 * latest to the previous and the temporary file to the latest, so a run
 * killed at any moment leaves at least one complete checkpoint; resuming
 * falls back to the previous one when the latest is missing or damaged.
 *
 * @module
 */

import {
  removeStaleTemps,
  splitPath,
  writeFileAtomic,
} from "../util/atomic_write.ts";
import {
  CheckpointError,
  damaged,
  decodeCheckpoint,
  encodeCheckpoint,
  type TrainState,
} from "./checkpoint_format.ts";

export {
  CheckpointError,
  type CheckpointProblem,
  decodeCheckpoint,
  type EarlyStoppingState,
  encodeCheckpoint,
  type History,
  type TrainState,
} from "./checkpoint_format.ts";

/**
 * The previous checkpoint's path for `path`: `run/checkpoint.ckpt` keeps
 * `run/checkpoint.prev.ckpt`; a name without `.ckpt` gets `.prev`.
 */
export function previousPath(path: string): string {
  return path.endsWith(".ckpt")
    ? `${path.slice(0, -".ckpt".length)}.prev.ckpt`
    : `${path}.prev`;
}

/**
 * Saves a checkpoint atomically. With `keepPrevious`, the checkpoint now at
 * `path` (which the caller knows to be good) becomes
 * {@linkcode previousPath}; without it the previous file is left alone.
 */
export async function saveCheckpoint(
  path: string,
  state: TrainState,
  options: { keepPrevious?: boolean } = {},
): Promise<void> {
  const backup = options.keepPrevious ? previousPath(path) : undefined;
  await writeFileAtomic(path, encodeCheckpoint(state), { backup });
}

/**
 * Loads one checkpoint file. Throws {@linkcode CheckpointError} when it is
 * missing (problem "missing"), damaged or of an old format.
 */
export async function loadCheckpoint(path: string): Promise<TrainState> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CheckpointError(
        `no checkpoint at ${path} to resume from; drop --resume to start a ` +
          `new run, or pass the --out directory of the run to continue`,
        "missing",
        "missing",
      );
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw damaged(path, "a directory, not a file");
    }
    throw error;
  }
  return decodeCheckpoint(bytes, path);
}

/** What {@linkcode resumeCheckpoint} found. */
export interface Resumed {
  /** The checkpoint's content. */
  state: TrainState;
  /** The file the state came from. */
  path: string;
  /** Whether that is the latest checkpoint (false after a fallback). */
  latest: boolean;
}

/**
 * Loads the latest checkpoint at `path`, or, when it is missing or
 * unusable, the previous one, calling `warn` with one line that says so.
 * Throws {@linkcode CheckpointError} when neither can be used.
 */
export async function resumeCheckpoint(
  path: string,
  warn: (line: string) => void,
): Promise<Resumed> {
  let first: CheckpointError;
  try {
    return { state: await loadCheckpoint(path), path, latest: true };
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    first = error;
  }
  const prev = previousPath(path);
  let state: TrainState;
  try {
    state = await loadCheckpoint(prev);
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    if (error.problem === "missing") throw first;
    if (first.problem === "missing") throw error;
    throw new CheckpointError(
      `${path} is unusable (${first.reason}) and so is the previous ` +
        `checkpoint ${prev} (${error.reason}); start a new run without ` +
        `--resume (or into a new --out)`,
      "damaged",
      first.reason,
    );
  }
  const what = first.problem === "missing" ? "missing" : first.reason;
  warn(
    `${path} is unusable (${what}); resuming from the previous checkpoint ` +
      `${prev} (epoch ${state.epoch})`,
  );
  return { state, path: prev, latest: false };
}

/**
 * Removes what a killed run may have left next to the checkpoint at `path`:
 * temporary files of the latest and previous checkpoints. Returns their
 * names.
 */
export async function cleanCheckpointTemps(path: string): Promise<string[]> {
  const { dir, base } = splitPath(path);
  return await removeStaleTemps(dir, [
    base,
    splitPath(previousPath(path)).base,
  ]);
}

/** Removes the previous checkpoint of `path` (a new run supersedes it). */
export async function removePrevious(path: string): Promise<void> {
  await Deno.remove(previousPath(path)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
