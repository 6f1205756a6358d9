/**
 * Where `train` gets its images: CIFAR-10 (Keras' validation semantics) or
 * an image folder of the user's own, split per class.
 *
 * @module
 */

import { loadCifar10 } from "../data/cifar10.ts";
import { DataError } from "../data/errors.ts";
import { splitValidation } from "../data/dataset.ts";
import { detectDataKind } from "../data/image_folder_scan.ts";
import { formatSkipped } from "../data/image_folder_stats.ts";
import type { ImageSet } from "../data/image_set.ts";
import { loadTrainingFolders } from "../data/training_folders.ts";
import type { Lang } from "../data/classes.ts";
import { UsageError } from "./usage.ts";

/** The flags the data depends on. */
export interface TrainDataArgs {
  data: string | undefined;
  archive: string | undefined;
  limit: number | undefined;
  lang: Lang;
  valSplit: number | null;
  seed: number;
  folder: {
    valData: string | undefined;
    testData: string | undefined;
    imageSize: number;
    cacheImages: boolean;
  };
}

/** What a run trains on, validates on, and reports on at the end. */
export interface TrainingData {
  train: ImageSet;
  /** The set validated on after each epoch. */
  validation: ImageSet;
  /** The set evaluated and reported on at the end. */
  evaluated: ImageSet;
  what: "test" | "validation";
  /** An image folder's class names; null for CIFAR-10 (the report's own). */
  classNames: string[] | null;
}

// CIFAR-10, as before image folders: Keras semantics.
async function loadCifarTraining(a: TrainDataArgs): Promise<TrainingData> {
  const data = await loadCifar10({
    dir: a.data,
    archive: a.archive,
    limit: a.limit,
    lang: a.lang,
  });
  if (data.train === null) {
    throw new DataError(
      "missing",
      `no training batches in ${data.source.path}`,
      "pass --data with a directory holding data_batch_1.bin ... data_batch_5.bin",
    );
  }
  // Keras semantics: an explicit split takes the last part of the training
  // data; otherwise the test set validates, or the last 10% without one.
  const split = a.valSplit ?? (data.test ? null : 0.1);
  if (split === null) {
    return {
      train: data.train,
      validation: data.test!,
      evaluated: data.test!,
      what: "test",
      classNames: null,
    };
  }
  const parts = splitValidation(data.train, { validationSplit: split });
  return {
    train: parts.train,
    validation: parts.validation,
    evaluated: parts.validation,
    what: "validation",
    classNames: null,
  };
}

/**
 * CIFAR-10, or an image folder when `--data` is one: the folder is split
 * per class (`--val-split`, default 0.1) unless `--val-data` is given, and
 * `--test-data`, when given, is what the run reports on at the end.
 */
export async function loadTrainingData(
  a: TrainDataArgs,
): Promise<TrainingData> {
  const { valData, testData } = a.folder;
  const isFolder = a.data !== undefined &&
    await detectDataKind(a.data, "--data") === "folder";
  if (!isFolder) {
    if (valData !== undefined || testData !== undefined) {
      throw new UsageError(
        "--val-data and --test-data need --data DIR to be an image folder",
      );
    }
    return await loadCifarTraining(a);
  }
  const data = await loadTrainingFolders({
    dir: a.data!,
    ...(valData === undefined ? {} : { valData }),
    ...(testData === undefined ? {} : { testData }),
    ...(a.valSplit === null ? {} : { valSplit: a.valSplit }),
    ...(a.limit === undefined ? {} : { limit: a.limit }),
    seed: a.seed,
    imageSize: a.folder.imageSize,
    cache: a.folder.cacheImages,
    progress: true,
  });
  // Not fatal, but the user should know which files were left out.
  const skipped = formatSkipped(data.skipped);
  if (skipped !== "") console.log(skipped.trimEnd());
  return {
    train: data.train,
    validation: data.validation,
    evaluated: data.test ?? data.validation,
    what: data.test ? "test" : "validation",
    classNames: data.classNames,
  };
}
