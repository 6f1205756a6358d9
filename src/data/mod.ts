/**
 * The data layer: CIFAR-10 (directory, cache, archive, download) and image
 * folders of your own (`loadImageFolder`),
 * class names, splits and per-batch float conversion.
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
  isClassNameLang,
  parseBatchesMeta,
} from "./classes.ts";
export type { ClassNameLang } from "./classes.ts";
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
