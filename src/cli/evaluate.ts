/**
 * `deno task evaluate --model DIR [--data DIR] [--out DIR] [--lang ja]`:
 * evaluates a saved model on the CIFAR-10 test set and writes `report.html`
 * and `metrics.json` (plus the report's pictures) into `--out`.
 *
 * Without a test set (`test_batch.bin`), the model is evaluated on the
 * validation split the trainer uses by default: the last 10% of the
 * training data. A directory holding only `test_batch.bin` is enough.
 * `--data` may also be an image folder (`DIR/<class name>/*.png|jpg`),
 * evaluated whole at the model's input size.
 *
 * Exit codes: 0 ok; 2 missing or bad data or model; 3 network; 4
 * permission; 64 usage; 69 the requested backend cannot start.
 *
 * @module
 */

import { loadCifar10 } from "../data/cifar10.ts";
import type { Lang } from "../data/classes.ts";
import { gather, splitValidation } from "../data/dataset.ts";
import { DataError } from "../data/errors.ts";
import { folderProgress } from "../data/folder_progress.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { detectDataKind } from "../data/image_folder_scan.ts";
import { formatSkipped } from "../data/image_folder_stats.ts";
import type { ImageSet } from "../data/image_set.ts";
import { loadModel, modelMetadata } from "../nn/model_io.ts";
import type { Model } from "../nn/model.ts";
import { buildReportData } from "../report/build_report_data.ts";
import { writeReport } from "../report/write_report.ts";
import { initRuntime } from "../runtime/init.ts";
import type { BackendChoice } from "../runtime/types.ts";
import type { History } from "../train/checkpoint.ts";
import { Rng } from "../util/random.ts";
import { evaluate } from "../train/evaluate.ts";
import { describeTta, type TtaOptions } from "../train/tta.ts";
import { EXIT_OK } from "./exit_codes.ts";
import {
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "./flags.ts";
import { reportFailure, runCli } from "./run_cli.ts";
import { TTA_OPTIONS, TTA_USAGE, ttaFlags } from "./tta_flags.ts";
import { UsageError } from "./usage.ts";

const USAGE = `usage: deno task evaluate --model DIR [options]

Evaluates a saved model on the CIFAR-10 test set (or, without one, on the
last 10% of the training data, the trainer's default validation split) and
writes report.html and metrics.json.

options:
  --model DIR        model directory (model.json + weights) or URL (required)
  --data DIR         a cifar-10-batches-bin directory; test_batch.bin alone
                     is enough (default: env CIFAR10_DIR, then the cache);
                     or an image folder DIR/<class name>/*.png|jpg|jpeg, all
                     of which is evaluated at the model's input size
  --cache-images     image folder: keep the decoded images in the cache directory
  --archive PATH     cifar-10-binary.tar.gz to verify and extract into the cache
                     when --data, CIFAR10_DIR and the cache have no data
  --out DIR          where the report goes (default: DIR/evaluation)
  --lang en|ja       language of the report and messages (default en)
  --batch-size N     images per forward pass (default 256)
  --limit N          evaluate at most N images
${TTA_USAGE}
  --backend B        auto, wasm, webgpu or cpu (default auto)
  --threads N        WASM threads (default: all cores, or env SIMDNET_THREADS)
  --help             show this text
`;

/** Parsed command line. */
export interface EvaluateArgs {
  model: string;
  data: string | undefined;
  archive: string | undefined;
  out: string;
  lang: Lang;
  batchSize: number;
  limit: number | undefined;
  backend: BackendChoice;
  threads: number | undefined;
  /** `--cache-images`: keep an image folder's decoded images in the cache. */
  cacheImages: boolean;
  /** `--tta`, `--tta-translate`: test-time augmentation, or undefined for none. */
  tta: Required<TtaOptions> | undefined;
}

/** Parses the command line; returns "help" for --help. */
export function parseEvaluateArgs(args: string[]): EvaluateArgs | "help" {
  const parsed = parseFlags(args, {
    model: { type: "string" },
    data: { type: "string" },
    archive: { type: "string" },
    out: { type: "string" },
    "batch-size": { type: "string" },
    limit: { type: "string" },
    ...RUNTIME_OPTIONS,
    "cache-images": { type: "boolean", default: false },
    ...TTA_OPTIONS,
    help: { type: "boolean", default: false },
  });
  const v = parsed.values;
  if (v.help) return "help";
  if (v.model === undefined) {
    throw new UsageError(
      "--model DIR is required: the directory of a saved model",
    );
  }
  const runtime = runtimeFlags(v);
  if (v.out === undefined && /^[a-z][a-z\d+.-]+:/i.test(v.model)) {
    throw new UsageError("--out DIR is required when --model is a URL");
  }
  return {
    model: v.model,
    data: v.data,
    archive: v.archive,
    out: v.out ?? `${v.model.replace(/\/+$/, "")}/evaluation`,
    lang: runtime.lang,
    batchSize: wholeFlag(v["batch-size"], "batch-size", 1) ?? 256,
    limit: wholeFlag(v.limit, "limit", 1),
    backend: runtime.backend,
    threads: runtime.threads,
    cacheImages: v["cache-images"],
    tta: ttaFlags(v),
  };
}

// The training history shown as learning curves, when the model directory
// has one; an evaluation of a model from elsewhere shows empty curves.
async function readHistory(model: string): Promise<History> {
  const empty = { loss: [], accuracy: [], val_loss: [], val_accuracy: [] };
  if (/^[a-z][a-z\d+.-]+:/i.test(model)) return empty;
  const dir = model.endsWith(".json")
    ? model.slice(0, model.lastIndexOf("/") + 1) || "."
    : model;
  try {
    const h = JSON.parse(await Deno.readTextFile(`${dir}/history.json`));
    const keys = ["loss", "accuracy", "val_loss", "val_accuracy"] as const;
    const ok = keys.every((k) =>
      Array.isArray(h?.[k]) &&
      h[k].every((x: unknown) => typeof x === "number")
    );
    return ok ? h as History : empty;
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof SyntaxError
    ) {
      return empty;
    }
    throw error;
  }
}

const TEXT = {
  en: {
    test: "Test",
    validation: "Validation (last 10% of the training data)",
    accuracy: "accuracy",
    loss: "loss",
    title: "evaluation",
  },
  ja: {
    test: "テスト",
    validation: "検証（訓練データの最後の10%）",
    accuracy: "精度",
    loss: "損失",
    title: "評価",
  },
};

/** The set to evaluate on, and the training set for the report's samples. */
interface EvaluationData {
  train: ImageSet | null;
  evaluated: ImageSet;
  what: "test" | "validation";
  /** An image folder's class names; null for CIFAR-10 (the report's own). */
  classNames: string[] | null;
}

// CIFAR-10: the test set, or the trainer's default validation split.
async function loadCifarEvaluation(a: EvaluateArgs): Promise<EvaluationData> {
  const data = await loadCifar10({
    dir: a.data,
    archive: a.archive,
    limit: a.limit,
    lang: a.lang,
  });
  if (data.test !== null) {
    return {
      train: data.train,
      evaluated: data.test,
      what: "test",
      classNames: null,
    };
  }
  if (data.train !== null) {
    const { validation } = splitValidation(data.train, {
      validationSplit: 0.1,
    });
    return {
      train: data.train,
      evaluated: validation,
      what: "validation",
      classNames: null,
    };
  }
  throw new DataError(
    "missing",
    `no test or training batches in ${data.source.path}`,
    "pass --data with a directory holding test_batch.bin",
  );
}

/**
 * CIFAR-10, or, when `--data` is an image folder, all of that folder
 * decoded to the model's input size (its class count must be the model's).
 */
async function loadEvaluationData(
  a: EvaluateArgs,
  model: Model,
): Promise<EvaluationData> {
  if (
    a.data === undefined || await detectDataKind(a.data, "--data") !== "folder"
  ) {
    return await loadCifarEvaluation(a);
  }
  const [height = 32, width = 32] = model.inputShape;
  const progress = folderProgress("decode");
  const data = await loadImageFolder({
    dir: a.data,
    imageSize: [height, width],
    cache: a.cacheImages,
    onProgress: progress.onProgress,
  });
  progress.finish();
  const skipped = formatSkipped(data.skipped);
  if (skipped !== "") console.log(skipped.trimEnd());
  const classes = model.outputShape[0];
  if (classes !== data.classNames.length) {
    throw new DataError(
      "format",
      `${a.data} has ${data.classNames.length} class folders but the model ` +
        `has ${classes} classes`,
      "evaluate on a folder with the class folders the model was trained on",
      { path: a.data },
    );
  }
  // --limit: a seeded random sample, as the first N would be one class.
  const all = data.train;
  const evaluated = a.limit === undefined || a.limit >= all.count
    ? all
    : gather(all, new Rng(42).permutation(all.count).subarray(0, a.limit));
  return { train: null, evaluated, what: "test", classNames: data.classNames };
}

/**
 * An image folder's classes must be the model's, in order, when the model
 * carries its class names: otherwise accuracy would compare wrong labels.
 */
function checkFolderNames(
  dir: string,
  model: Model,
  folderNames: readonly string[] | null | undefined,
): void {
  const saved = modelMetadata(model)?.classNames;
  if (!folderNames || !saved) return;
  const differ = folderNames.findIndex((n, i) => n !== saved[i]);
  if (differ >= 0 || folderNames.length !== saved.length) {
    const i = differ >= 0 ? differ : Math.min(folderNames.length, saved.length);
    throw new DataError(
      "format",
      `the folder's class ${i} is "${
        folderNames[i] ?? "(none)"
      }" but the model in ${dir} ` +
        `calls class ${i} "${saved[i] ?? "(none)"}"`,
      "evaluate on a folder with the model's class folders (see model.json's userDefinedMetadata)",
    );
  }
}

async function run(a: EvaluateArgs): Promise<number> {
  const runtime = await initRuntime({ backend: a.backend, threads: a.threads });
  console.log(`backend: ${runtime.backend} (${runtime.reason})`);
  const model = await loadModel(a.model);
  const { train, evaluated, what, classNames } = await loadEvaluationData(
    a,
    model,
  );
  checkFolderNames(a.model, model, classNames);
  const t = TEXT[a.lang];
  const label = what === "test" ? t.test : t.validation;
  console.log(`${label}: ${evaluated.count} images`);
  const started = performance.now();
  if (a.tta) console.log(`test-time augmentation: ${describeTta(a.tta)}`);
  const result = await evaluate(model, evaluated, a.batchSize, {
    tta: a.tta,
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label} ${t.accuracy}: ${result.accuracy.toFixed(4)}`);
  console.log(`${label} ${t.loss}: ${result.loss.toFixed(4)}`);

  const report = await buildReportData({
    model,
    history: await readHistory(a.model),
    // Only the training-sample grid uses `train`; it is dropped below when
    // there is no training set.
    train: train ?? evaluated,
    evaluated,
    evaluation: result,
    evaluatedOn: what,
    settings: {
      model: a.model,
      "evaluated on": what === "test" ? "test set" : "validation split (10%)",
      [`${what} images`]: evaluated.count,
      backend: runtime.backend,
      threads: runtime.threads,
      "batch size": a.batchSize,
      "evaluation time (s)": Math.round(seconds * 10) / 10,
      "test-time augmentation": describeTta(a.tta),
    },
    batchSize: a.batchSize,
    seed: 42,
    tta: a.tta,
  });
  // The class names come from the model (see buildReportData), and the
  // title names CIFAR-10 only when those are CIFAR-10's.
  report.title = `${report.title}: ${t.title}`;
  if (train === null) report.trainSamples = null;
  await writeReport(a.out, report, a.lang);
  model.dispose();
  console.log(`wrote ${a.out}/report.html, ${a.out}/metrics.json`);
  return EXIT_OK;
}

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseEvaluateArgs,
    run,
    failure: (error) => reportFailure(error, "evaluate"),
  });
}

if (import.meta.main) {
  // Deno.exit carries main()'s exit code to the shell.
  Deno.exit(await main(Deno.args));
}
