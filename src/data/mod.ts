/**
 * Image sets: CIFAR-10 loading (directory, cache, archive or download, with
 * the checksum checked), image folders of your own (`loadImageFolder`),
 * class names in English or Japanese, validation
 * splits, and per-batch conversion of the uint8 HWC pixels to float32.
 *
 * ```ts
 * import { type ImageSet, iterateBatches, splitValidation } from "@simdnet/simdnet/data";
 *
 * // Ten 4x4 RGB images; loadCifar10({ dir }) gives sets like this one.
 * const data: ImageSet = {
 *   images: new Uint8Array(10 * 4 * 4 * 3).fill(255),
 *   labels: Uint8Array.from({ length: 10 }, (_, i) => i % 2),
 *   count: 10,
 *   shape: [4, 4, 3],
 * };
 * const { train, validation } = splitValidation(data, { validationSplit: 0.2 });
 * console.log(train.count, validation.count); // 8 2
 * for (const batch of iterateBatches(train, { batchSize: 5, numClasses: 2 })) {
 *   console.log(batch.size, batch.x[0]); // 5 1, then 3 1
 * }
 * ```
 *
 * @module
 */

export {
  ARCHIVE_NAME,
  BATCH_FILES,
  extractArchive,
  OFFICIAL_MD5,
} from "./archive.ts";
export type { ExtractOptions } from "./archive.ts";
export { iterateBatches, oneHot, oneHotBatch, toFloatBatch } from "./batch.ts";
export type { Batch, BatchOptions } from "./batch.ts";
export {
  CIFAR10_CLASSES_EN,
  CIFAR10_CLASSES_JA,
  classNamesFor,
  isLang,
  LANGS,
  parseBatchesMeta,
} from "./classes.ts";
export type { Lang } from "./classes.ts";
export { loadCifar10, OFFICIAL_URL } from "./cifar10.ts";
export type {
  Cifar10Data,
  Cifar10Source,
  LoadCifar10Options,
} from "./cifar10.ts";
export {
  checkValidationSplit,
  countPerClass,
  gather,
  limit,
  sliceSet,
  splitValidation,
} from "./dataset.ts";
export type { SplitOptions, ValidationSplit } from "./dataset.ts";
// The generator the shuffles (`SplitOptions.rng`, `BatchOptions.rng`) and
// the trainer draw from; its state is saveable.
export { createRng, Rng, type RngState } from "../util/random.ts";
export { downloadFile } from "./download.ts";
export type { DownloadOptions } from "./download.ts";
export { DataError } from "./errors.ts";
export type { DataErrorCode } from "./errors.ts";
export {
  CHANNELS,
  decodeRecords,
  encodeRecords,
  IMAGE_BYTES,
  IMAGE_SIZE,
  NUM_CLASSES,
  readBatchFiles,
  RECORD_BYTES,
} from "./format.ts";
export type { ReadBatchOptions } from "./format.ts";
export { checkImageSet, CIFAR10_SHAPE, imageBytes } from "./image_set.ts";
export type { ImageSet, ImageShape } from "./image_set.ts";
export {
  defaultCacheDir,
  findLayout,
  TEST_FILE,
  TRAIN_FILES,
} from "./layout.ts";
export type { Layout } from "./layout.ts";
export { checkSameClasses, loadImageFolder } from "./image_folder.ts";
export type {
  ImageFolderData,
  ImageFolderSource,
  LoadImageFolderOptions,
} from "./image_folder.ts";
export { DEFAULT_MAX_FILE_BYTES, inputToByte } from "./image_file.ts";
export type { ImageFileInfo, ImageFileLimits } from "./image_file.ts";
export {
  compareCodePoints,
  detectDataKind,
  IMAGE_EXTENSIONS,
} from "./image_folder_scan.ts";
export type { DataKind } from "./image_folder_scan.ts";
export { formatSkipped, mostCommon } from "./image_folder_stats.ts";
export { folderProgress } from "./folder_progress.ts";
export type { FolderProgress } from "./folder_progress.ts";
export type {
  FolderStats,
  ImageDims,
  SkippedFile,
} from "./image_folder_stats.ts";
export { stratifiedSplit } from "./stratified_split.ts";
export { loadTrainingFolders } from "./training_folders.ts";
export type {
  TrainingFolders,
  TrainingFoldersOptions,
} from "./training_folders.ts";
