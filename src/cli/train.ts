/**
 * `deno task train`: trains the seed notebook's CIFAR-10 CNN (or, with
 * `--model FILE`, the topology of a `model.json`) with the seed notebook's
 * settings (5 epochs, batch 64, Adam 0.001, augmentation), evaluates it and
 * writes the model, history, checkpoint and report into `--out`. `--data`
 * may also be an image folder of your own (`DIR/<class name>/*.png|jpg`).
 *
 * Exit codes: 0 ok; 2 missing or bad data, or an unusable checkpoint;
 * 3 network; 4 permission; 5 the loss became NaN or infinite; 64 usage;
 * 69 the requested backend cannot start.
 *
 * @module
 */

import { CIFAR10_CLASSES_EN, type Lang } from "../data/classes.ts";
import { saveModel } from "../nn/model_io.ts";
import { initRuntime } from "../runtime/init.ts";
import type { BackendChoice } from "../runtime/types.ts";
import { removeStaleTemps } from "../util/atomic_write.ts";
import { peakRssMb } from "../util/peak_rss.ts";
import { CheckpointError } from "../train/checkpoint.ts";
import { evaluate } from "../train/evaluate.ts";
import { describeTta, type TtaOptions } from "../train/tta.ts";
import { fit, NonFiniteLossError } from "../train/fit.ts";
import type { FitOptions } from "../train/fit_options.ts";
import { EXIT_BAD_DATA, EXIT_DIVERGED, EXIT_OK } from "./exit_codes.ts";
import {
  numberFlag,
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "./flags.ts";
import { printError, reportFailure, runCli } from "./run_cli.ts";
import { TTA_OPTIONS, TTA_USAGE, ttaFlags } from "./tta_flags.ts";
import {
  buildTrainModel,
  TRANSFER_OPTIONS,
  TRANSFER_USAGE,
  type TransferArgs,
  transferFlags,
} from "./train_model.ts";
import { loadTrainingData } from "./train_data.ts";
import { reportRun, saveHistory } from "./train_report.ts";
import { EpochSeconds } from "./train_seconds.ts";
import { UsageError } from "./usage.ts";
// optim: the optimizer, schedule, loss and callback flags.
import {
  OPTIM_OPTIONS,
  OPTIM_USAGE,
  type OptimArgs,
  optimFlags,
} from "./train_optim.ts";
import { optimFitOptions, optimReport } from "./train_schedule.ts";
import {
  fastRun,
  RECIPE_OPTIONS,
  RECIPE_USAGE,
  type RecipeArgs,
  recipeEpochs,
  recipeFlags,
} from "./train_recipe.ts";

const USAGE = `usage: deno task train [options]

Trains the seed notebook's CIFAR-10 CNN (or the model of --model FILE) and
writes model, history, checkpoint and report into the output directory.

options:
  --epochs N         epochs (default 5)
  --batch-size N     batch size (default 64)
  --lr X             the optimizer's learning rate (default 0.001)
  --no-augment       no rotation/shift/flip augmentation
  --val-split X      validate on the last X of the training data
                     (default: the test set if present, else 0.1); for an
                     image folder, X of each class (stratified, seeded by --seed)
  --limit N          use at most N images per set (quick runs)
  --seed N           seed of weights, shuffling, dropout, augmentation (default 42)
  --backend B        auto, wasm, webgpu or cpu (default auto)
  --threads N        WASM threads (default: all cores, or env SIMDNET_THREADS)
  --data DIR         a cifar-10-batches-bin directory, or an image folder
                     DIR/<class name>/*.png|jpg|jpeg (default: env CIFAR10_DIR, then the cache)
  --val-data DIR     image folder: validate on this folder (same class folders)
  --test-data DIR    image folder: evaluate and report on this folder at the end
                     (validation is then --val-data, --val-split or 10% of --data)
  --image-size N     image folder: decode to N x N pixels, the model input (default 32)
  --cache-images     image folder: keep the decoded images in the cache directory
  --archive PATH     cifar-10-binary.tar.gz to verify and extract into the cache
                     when --data, CIFAR10_DIR and the cache have no data
  --out DIR          output directory (default runs/<timestamp>)
  --resume           continue the run in --out from its checkpoint
  --lang en|ja       language of the report and messages (default en)
  --no-report        skip report.html and its pictures
  --help             show this text
${TTA_USAGE}
${TRANSFER_USAGE}${OPTIM_USAGE}${RECIPE_USAGE}`;

/** Parsed command line. */
export interface TrainArgs {
  epochs: number;
  batchSize: number;
  lr: number;
  augment: boolean;
  valSplit: number | null;
  limit: number | undefined;
  seed: number;
  backend: BackendChoice;
  threads: number | undefined;
  data: string | undefined;
  archive: string | undefined;
  out: string;
  resume: boolean;
  lang: Lang;
  report: boolean;
  /** Image-folder options (`--val-data`, `--test-data`, `--image-size`, `--cache-images`). */
  folder: FolderArgs;
  /** `--model`, `--keep-weights`, `--from`, `--freeze`, `--new-head`, `--fine-tune-*`. */
  transfer: TransferArgs;
  /** `--optimizer`, `--schedule`, `--label-smoothing`, callbacks. */
  optim: OptimArgs;
  /** `--tta`, `--tta-translate`: the final evaluation's test-time augmentation. */
  tta: Required<TtaOptions> | undefined;
  /** `--recipe`, `--width`. */
  recipe: RecipeArgs;
}

/** Flags that apply when `--data` is an image folder. */
export interface FolderArgs {
  valData: string | undefined;
  testData: string | undefined;
  imageSize: number;
  cacheImages: boolean;
}

/** Parses the command line; returns "help" for --help. */
export function parseTrainArgs(args: string[]): TrainArgs | "help" {
  const parsed = parseFlags(args, {
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    lr: { type: "string" },
    "no-augment": { type: "boolean", default: false },
    "val-split": { type: "string" },
    limit: { type: "string" },
    seed: { type: "string" },
    ...RUNTIME_OPTIONS,
    ...TTA_OPTIONS,
    data: { type: "string" },
    archive: { type: "string" },
    out: { type: "string" },
    resume: { type: "boolean", default: false },
    "no-report": { type: "boolean", default: false },
    "val-data": { type: "string" },
    "test-data": { type: "string" },
    "image-size": { type: "string" },
    "cache-images": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
    ...TRANSFER_OPTIONS,
    ...OPTIM_OPTIONS,
    ...RECIPE_OPTIONS,
  });
  const v = parsed.values;
  if (v.help) return "help";
  const runtime = runtimeFlags(v);
  if (v.resume && v.out === undefined) {
    throw new UsageError(
      "--resume needs --out DIR, the directory of the run to continue",
    );
  }
  const lr = numberFlag(
    v.lr,
    "lr",
    (n) => n > 0 && Number.isFinite(n),
    "a number > 0",
  ) ?? 0.001;
  const recipe = recipeFlags(v);
  const fast = recipe.name === "fast";
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(
    /-\d+Z$/,
    "",
  );
  return {
    epochs: fast
      ? recipeEpochs(v.epochs)
      : wholeFlag(v.epochs, "epochs", 1) ?? 5,
    batchSize: wholeFlag(v["batch-size"], "batch-size", 1) ??
      (fast ? 1024 : 64),
    lr,
    augment: !v["no-augment"],
    valSplit: numberFlag(
      v["val-split"],
      "val-split",
      (n) => n > 0 && n < 1,
      "in (0, 1)",
    ) ?? null,
    limit: wholeFlag(v.limit, "limit", 1),
    seed: wholeFlag(v.seed, "seed", 0) ?? 42,
    backend: runtime.backend,
    threads: runtime.threads,
    data: v.data,
    archive: v.archive,
    out: v.out ?? `runs/${stamp}`,
    resume: v.resume,
    lang: runtime.lang,
    report: !v["no-report"],
    folder: {
      valData: v["val-data"],
      testData: v["test-data"],
      imageSize: wholeFlag(v["image-size"], "image-size", 1) ?? 32,
      cacheImages: v["cache-images"],
    },
    transfer: transferFlags(v, lr),
    optim: optimFlags(v, lr),
    // The fast recipe evaluates with its TTA unless the flags say otherwise.
    tta: ttaFlags(v) ??
      (fast && v.tta === undefined
        ? { flip: true, translate: true }
        : undefined),
    recipe,
  };
}

const TEXT = {
  en: {
    test: "Test",
    validation: "Validation",
    accuracy: "accuracy",
    loss: "loss",
    peakMemory: "peak memory (RSS)",
  },
  ja: {
    test: "テスト",
    validation: "検証",
    accuracy: "精度",
    loss: "損失",
    peakMemory: "最大メモリ使用量 (RSS)",
  },
};

/** `fit`'s options for the seed recipe, `--optim` and transfer runs. */
function seedFitOptions(
  a: TrainArgs,
  count: number,
  classNames: readonly string[],
  settings: FitOptions["settings"],
): FitOptions {
  return {
    // optim: durations in epochs become steps of this run.
    ...optimFitOptions(a.optim, { ...a, count, classNames }),
    epochs: a.epochs,
    batchSize: a.batchSize,
    learningRate: a.lr,
    augment: a.augment,
    seed: a.seed,
    fineTune: a.transfer.fineTune,
    settings,
  };
}

async function run(a: TrainArgs): Promise<void> {
  const runtime = await initRuntime({ backend: a.backend, threads: a.threads });
  console.log(`backend: ${runtime.backend} (${runtime.reason})`);
  const { train, validation, evaluated, what, classNames: folderNames } =
    await loadTrainingData(a);
  console.log(
    `train: ${train.count} images, ${what}: ${evaluated.count} images`,
  );

  // The model: the seed CNN, --model FILE's topology (fresh or its own
  // weights), or --from a saved one (head, --freeze).
  const classes = folderNames?.length ?? 10;
  const fast = a.recipe.name === "fast"
    ? fastRun(train, { ...a, classes })
    : null;
  const built = fast ? null : await buildTrainModel(
    { ...a.transfer, seed: a.seed },
    { classes, shape: train.shape },
  );
  const model = fast?.model ?? built!.model;
  model.summary();
  await Deno.mkdir(a.out, { recursive: true });
  // Temporary files of the checkpoint, model and history a killed run left.
  await removeStaleTemps(a.out);
  const started = performance.now();
  // The model keeps the data set's names; CIFAR-10's are saved in English
  // (the Japanese ones are derived from them where shown).
  const classNames = folderNames ?? CIFAR10_CLASSES_EN;
  const timer = new EpochSeconds();
  const run = {
    onEpochEnd: timer.onEpochEnd,
    validationData: validation,
    checkpoint: `${a.out}/checkpoint.ckpt`,
    resume: a.resume,
  };
  const history = await fit(
    model,
    train,
    {
      ...(fast?.fitOptions ??
        seedFitOptions(a, train.count, classNames, built!.settings)),
      ...run,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  // Beside Keras' keys, like `seconds`; only where the OS tells it.
  const trainingPeak = peakRssMb();
  await saveModel(model, a.out, { classNames });
  await saveHistory(a.out, {
    ...history,
    seconds: timer.list(history.loss.length),
    ...(trainingPeak === null ? {} : { peak_rss_mb: trainingPeak }),
  });
  if (a.tta) console.log(`test-time augmentation: ${describeTta(a.tta)}`);
  const result = await evaluate(model, evaluated, a.batchSize, { tta: a.tta });
  const t = TEXT[a.lang];
  const label = what === "test" ? t.test : t.validation;
  console.log(`\n${label} ${t.accuracy}: ${result.accuracy.toFixed(4)}`);
  console.log(`${label} ${t.loss}: ${result.loss.toFixed(4)}`);
  const peak = peakRssMb(); // the whole run's, evaluation included
  if (peak !== null) console.log(`${t.peakMemory}: ${peak.toFixed(0)} MB`);

  if (a.report) {
    await reportRun(a, {
      model,
      history,
      train,
      evaluated,
      what,
      result,
      classNames,
      backend: runtime.backend,
      threads: runtime.threads,
      seconds,
      recipe: fast
        ? fast.report
        : { ...built!.report, ...optimReport(a.optim) },
    });
  }
  console.log(
    `wrote ${a.out}/model.json, history.json, checkpoint.ckpt${
      a.report ? ", report.html" : ""
    }`,
  );
  model.dispose();
}

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseTrainArgs,
    run: async (parsed) => {
      await run(parsed);
      return EXIT_OK;
    },
    failure: (error) => {
      if (error instanceof NonFiniteLossError) {
        printError(error.message);
        return EXIT_DIVERGED;
      }
      if (error instanceof CheckpointError) {
        printError(error.message);
        return EXIT_BAD_DATA;
      }
      return reportFailure(error, "train");
    },
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
