/**
 * The image folders of a training run: the training folder, split per class
 * unless a validation folder is given, and an optional test folder, all
 * decoded to one image size and checked to have the same classes. What
 * `train --data DIR --val-data DIR --test-data DIR` loads.
 *
 * @module
 */

import { gather } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { folderProgress } from "./folder_progress.ts";
import {
  checkSameClasses,
  type ImageFolderData,
  loadImageFolder,
  type LoadImageFolderOptions,
} from "./image_folder.ts";
import type { SkippedFile } from "./image_folder_stats.ts";
import type { ImageSet } from "./image_set.ts";
import { Rng } from "../util/random.ts";

/** Options of {@linkcode loadTrainingFolders}. */
export interface TrainingFoldersOptions {
  /** The training folder. */
  dir: string;
  /** A validation folder; otherwise `valSplit` of each class is held out. */
  valData?: string;
  /** A test folder, evaluated at the end of the run. */
  testData?: string;
  /** Fraction of each class held out when there is no `valData`; default 0.1. */
  valSplit?: number;
  /** Seed of the split and of the `limit` sample; default 42. */
  seed?: number;
  /** Model input side or `[height, width]`; default 32. */
  imageSize?: LoadImageFolderOptions["imageSize"];
  /** Keep the decoded images in the cache directory. */
  cache?: boolean;
  /** Train on a seeded random sample of at most this many images. */
  limit?: number;
  /** Draw util's progress bar on stderr (on a terminal only). */
  progress?: boolean;
}

/** What {@linkcode loadTrainingFolders} returns. */
export interface TrainingFolders {
  train: ImageSet;
  /** Validated on after each epoch. */
  validation: ImageSet;
  /** The test folder's images, or null without `testData`. */
  test: ImageSet | null;
  classNames: string[];
  /** Files skipped in all the folders. */
  skipped: SkippedFile[];
}

async function load(
  options: TrainingFoldersOptions,
  dir: string,
  label: string,
  valSplit?: number,
): Promise<ImageFolderData> {
  const bar = options.progress ? folderProgress(`decode ${label}`) : null;
  try {
    return await loadImageFolder({
      dir,
      imageSize: options.imageSize ?? 32,
      cache: options.cache ?? false,
      seed: options.seed ?? 42,
      ...(valSplit === undefined ? {} : { valSplit }),
      ...(bar ? { onProgress: bar.onProgress } : {}),
    });
  } finally {
    bar?.finish();
  }
}

/**
 * Loads the training folder and, when given, the validation and test
 * folders. Throws a {@linkcode DataError} naming the folder when the
 * classes differ, and a "usage" one for both `valData` and `valSplit`.
 */
export async function loadTrainingFolders(
  options: TrainingFoldersOptions,
): Promise<TrainingFolders> {
  const { valData, testData } = options;
  if (valData !== undefined && options.valSplit !== undefined) {
    throw new DataError(
      "usage",
      "both a validation folder and a validation split were given",
      "give either --val-split or --val-data, not both",
    );
  }
  const data = await load(
    options,
    options.dir,
    "train",
    valData === undefined ? options.valSplit ?? 0.1 : undefined,
  );
  const skipped = [...data.skipped];
  let validation = data.validation!;
  if (valData !== undefined) {
    const val = await load(options, valData, "val-data");
    checkSameClasses(data.classNames, val.classNames, valData, "--val-data");
    validation = val.train;
    skipped.push(...val.skipped);
  }
  let test: ImageSet | null = null;
  if (testData !== undefined) {
    const t = await load(options, testData, "test-data");
    checkSameClasses(data.classNames, t.classNames, testData, "--test-data");
    test = t.train;
    skipped.push(...t.skipped);
  }
  // A seeded random sample: the first N would all be of the first class.
  const { limit } = options;
  const train = limit === undefined || limit >= data.train.count
    ? data.train
    : gather(
      data.train,
      new Rng(options.seed ?? 42).permutation(data.train.count)
        .subarray(0, limit),
    );
  return { train, validation, test, classNames: data.classNames, skipped };
}
