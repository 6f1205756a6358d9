/**
 * What transfer learning buys on few images (`deno task bench:transfer`):
 *
 * 1. trains the seed CNN on five CIFAR-10 classes (airplane, automobile,
 *    bird, cat, deer; data_batch_1-4) and saves it;
 * 2. writes an image folder of the other five classes (dog, frog, horse,
 *    ship, truck) with only `--per-class` (200) training PNGs per class from
 *    data_batch_1-4, and a held-out folder of `--held-out` (1000) per class
 *    from data_batch_5, used for nothing but the final accuracy;
 * 3. trains (a) the seed CNN from scratch and (b) `--from` the five-class
 *    model with its conv layers frozen (`--freeze conv2d_3`, a new head),
 *    then fine-tuned with every layer at `--fine-tune-lr`: the same epochs
 *    in all and the same seed;
 * 4. prints both held-out accuracies and the times, with the CPU model,
 *    the threads and every setting the runs used.
 *
 * The folders are read by `loadImageFolder`, the loader behind
 * `deno task train --data DIR` (decoded and resized to 32x32 as train does,
 * the held-out folder checked to have the training folder's classes, as
 * train checks `--test-data`); both runs are built by the train CLI's
 * model-building step (`buildTrainModel`) and trained by `fit` with the
 * CLI's defaults (batch size 64, learning rate 0.001, augmentation). The
 * runs are not spawned as `deno task train` processes so that the table
 * times training alone, not start-up, decoding and the report.
 *
 * usage: deno task bench:transfer [--data DIR] [--quick] [--source-epochs 5]
 *   [--epochs 10] [--fine-tune-epochs 5] [--fine-tune-lr 0.0001]
 *   [--per-class 200] [--held-out 1000] [--seed 42] [--backend B]
 *   [--threads N] [--keep]
 *
 * @module
 */

import { loadCifar10 } from "../src/data/cifar10.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import { gather } from "../src/data/dataset.ts";
import { checkSameClasses, loadImageFolder } from "../src/data/image_folder.ts";
import { formatSkipped } from "../src/data/image_folder_stats.ts";
import { encodePng } from "../src/image/png_encode.ts";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { saveModel } from "../src/nn/model_io.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { fit, type FitOptions } from "../src/train/fit.ts";
import {
  numberFlag,
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "../src/cli/flags.ts";
import { buildTrainModel, type TransferArgs } from "../src/cli/train_model.ts";
import { machineLine } from "./_machine.ts";

const SOURCE = [0, 1, 2, 3, 4];
const TARGET = [5, 6, 7, 8, 9];
/** The train CLI's defaults (`--batch-size 64`, `--lr 0.001`, `--image-size 32`). */
const BATCH_SIZE = 64;
const LEARNING_RATE = 0.001;
const IMAGE_SIZE = 32;
/**
 * Where data_batch_5 starts in the loader's concatenation of batches 1-5:
 * the last fifth (40,000 of the official 50,000).
 */
const heldOutStart = (set: ImageSet) => Math.floor(set.count * 4 / 5);

function settings(args: string[]) {
  const { values: v } = parseFlags(args, {
    data: { type: "string" },
    quick: { type: "boolean", default: false },
    "source-epochs": { type: "string" },
    epochs: { type: "string" },
    "fine-tune-epochs": { type: "string" },
    "fine-tune-lr": { type: "string" },
    "per-class": { type: "string" },
    "held-out": { type: "string" },
    seed: { type: "string" },
    keep: { type: "boolean", default: false },
    ...RUNTIME_OPTIONS,
  });
  const q = v.quick;
  const whole = (k: keyof typeof v, min: number, full: number, quick: number) =>
    wholeFlag(v[k] as string | undefined, k, min) ?? (q ? quick : full);
  return {
    data: v.data,
    quick: q,
    sourceEpochs: whole("source-epochs", 1, 5, 1),
    epochs: whole("epochs", 1, 10, 1),
    fineTuneEpochs: whole("fine-tune-epochs", 1, 5, 1),
    fineTuneLr: numberFlag(
      v["fine-tune-lr"],
      "fine-tune-lr",
      (n) => n > 0,
      "a number > 0",
    ) ?? 1e-4,
    perClass: whole("per-class", 1, 200, 20),
    heldOut: whole("held-out", 1, 1000, 20),
    sourcePerClass: q ? 40 : Infinity,
    seed: wholeFlag(v.seed, "seed", 0) ?? 42,
    keep: v.keep,
    runtime: runtimeFlags(v),
  };
}

/** The first `perClass` indices in [start, end) of each of `classes`. */
function pick(
  set: ImageSet,
  classes: number[],
  perClass: number,
  start: number,
  end: number,
): number[] {
  const taken = new Map(classes.map((c) => [c, 0]));
  const out: number[] = [];
  for (let i = start; i < Math.min(end, set.count); i++) {
    const n = taken.get(set.labels[i]!);
    if (n === undefined || n >= perClass) continue;
    taken.set(set.labels[i]!, n + 1);
    out.push(i);
  }
  return out;
}

/** `set` at `indices` with labels renumbered from 0 in `classes` order. */
function relabel(set: ImageSet, indices: number[], classes: number[]) {
  const sub = gather(set, indices);
  const labels = sub.labels.map((l) => classes.indexOf(l));
  return { ...sub, labels };
}

interface Row {
  run: string;
  epochs: string;
  accuracy: number;
  loss: number;
  seconds: number;
}

/** The image folder as read back: what both runs train and are scored on. */
interface Folder {
  train: ImageSet;
  held: ImageSet;
  /** Number of class folders (the model's outputs, as train sets them). */
  classes: number;
}

async function trainRun(
  run: string,
  transfer: TransferArgs,
  { train, held: heldOut, classes }: Folder,
  base: FitOptions & { epochs: number; seed: number },
): Promise<Row> {
  console.log(`\n== ${run}`);
  const { model, settings } = await buildTrainModel(
    { ...transfer, seed: base.seed },
    { classes, shape: train.shape },
  );
  model.summary();
  const t0 = performance.now();
  await fit(model, train, { ...base, fineTune: transfer.fineTune, settings });
  const seconds = (performance.now() - t0) / 1000;
  const result = await evaluate(model, heldOut, BATCH_SIZE);
  model.dispose();
  const ft = transfer.fineTune;
  return {
    run,
    epochs: ft ? `${base.epochs} + ${ft.epochs} fine-tune` : `${base.epochs}`,
    ...result,
    seconds,
  };
}

function table(rows: Row[]): string {
  const lines = [
    "| run | epochs | held-out accuracy | held-out loss | training time (s) |",
    "| --- | --- | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.run} | ${r.epochs} | ${r.accuracy.toFixed(4)} | ` +
      `${r.loss.toFixed(4)} | ${r.seconds.toFixed(1)} |`
    ),
  ];
  return lines.join("\n");
}

type Settings = ReturnType<typeof settings>;

/** Every setting of the runs, as flags, for the line above the table. */
function settingsLine(s: Settings): string {
  return [
    `--epochs ${s.epochs}`,
    `--fine-tune-epochs ${s.fineTuneEpochs}`,
    `--fine-tune-lr ${s.fineTuneLr}`,
    `--source-epochs ${s.sourceEpochs}`,
    `--per-class ${s.perClass}`,
    `--held-out ${s.heldOut}`,
    `--seed ${s.seed}`,
    `batch size ${BATCH_SIZE}`,
    `lr ${LEARNING_RATE}`,
    `augmentation on`,
    `image size ${IMAGE_SIZE}`,
    `freeze conv2d_3, new head`,
    ...(s.quick ? ["--quick"] : []),
  ].join(", ");
}

/** 1. The source model: five classes of data_batch_1-4, saved in `dir`. */
async function trainSource(all: ImageSet, s: Settings, dir: string) {
  const src = relabel(
    all,
    pick(all, SOURCE, s.sourcePerClass, 0, heldOutStart(all)),
    SOURCE,
  );
  console.log(`source: ${src.count} images of ${SOURCE.length} classes`);
  const source = cifarCnn({ seed: s.seed, classes: SOURCE.length });
  const t0 = performance.now();
  await fit(source, src, {
    epochs: s.sourceEpochs,
    batchSize: BATCH_SIZE,
    learningRate: LEARNING_RATE,
    augment: true,
    seed: s.seed,
    verbose: 2,
  });
  const seconds = (performance.now() - t0) / 1000;
  await saveModel(source, dir);
  source.dispose();
  return { count: src.count, seconds };
}

/**
 * Writes the images of `set` at `indices` as PNG files into
 * `dir/<class name>/<n>.png`, the layout `train --data DIR` reads.
 */
async function writeImageFolder(
  dir: string,
  set: ImageSet,
  indices: readonly number[],
  classNames: readonly string[],
): Promise<void> {
  const [height, width, channels] = set.shape;
  const size = height * width * channels;
  const counts = new Map<string, number>();
  for (const i of indices) {
    const name = classNames[set.labels[i]!]!;
    const n = counts.get(name) ?? 0;
    counts.set(name, n + 1);
    if (n === 0) await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    const png = encodePng({
      data: set.images.subarray(i * size, (i + 1) * size),
      width,
      height,
      channels: channels as 1 | 3 | 4,
    });
    await Deno.writeFile(
      `${dir}/${name}/${String(n).padStart(5, "0")}.png`,
      png,
    );
  }
}

/** Reads `dir` as `train --data DIR` does; the bench wrote every file, so a skipped one is a bug. */
async function readFolder(dir: string) {
  const data = await loadImageFolder({ dir, imageSize: IMAGE_SIZE });
  if (data.skipped.length > 0) throw new Error(formatSkipped(data.skipped));
  return data;
}

/** 2. The folder: few training PNGs of the other classes, a held-out set. */
async function makeFolder(
  all: ImageSet,
  names: readonly string[],
  s: Settings,
  dir: string,
) {
  const trainIdx = pick(all, TARGET, s.perClass, 0, heldOutStart(all));
  const heldIdx = pick(all, TARGET, s.heldOut, heldOutStart(all), all.count);
  await writeImageFolder(`${dir}/train`, all, trainIdx, names);
  await writeImageFolder(`${dir}/held_out`, all, heldIdx, names);
  const train = await readFolder(`${dir}/train`);
  const held = await readFolder(`${dir}/held_out`);
  checkSameClasses(
    train.classNames,
    held.classNames,
    `${dir}/held_out`,
    "the held-out folder",
  );
  console.log(
    `folder ${dir}: train ${train.train.count} images ` +
      `(${train.classNames.join(", ")}), held out ${held.train.count}`,
  );
  return {
    train: train.train,
    held: held.train,
    classes: train.classNames.length,
  };
}

/** 3. Scratch and transfer, the same epochs and seed for both. */
async function compare(
  s: Settings,
  sourceDir: string,
  folder: Folder,
): Promise<Row[]> {
  const base = {
    epochs: s.epochs,
    batchSize: BATCH_SIZE,
    learningRate: LEARNING_RATE,
    augment: true,
    seed: s.seed,
    verbose: 2 as const,
  };
  const none = { from: undefined, freeze: undefined, newHead: false };
  return [
    await trainRun(
      "(a) from scratch",
      { ...none, fineTune: undefined },
      folder,
      {
        ...base,
        epochs: s.epochs + s.fineTuneEpochs,
      },
    ),
    await trainRun(
      "(b) --from, conv frozen, then fine-tuned",
      {
        from: sourceDir,
        freeze: "conv2d_3",
        // Five classes to five others: the count matches, the classes do not.
        newHead: true,
        fineTune: { epochs: s.fineTuneEpochs, learningRate: s.fineTuneLr },
      },
      folder,
      base,
    ),
  ];
}

async function main(args: string[]): Promise<void> {
  const s = settings(args);
  const runtime = await initRuntime({
    backend: s.runtime.backend,
    threads: s.runtime.threads,
  });
  console.log(`backend: ${runtime.backend}, ${runtime.threads} threads`);
  // No test batch is needed: data_batch_5 is the held-out set here.
  const cifar = await loadCifar10({
    dir: s.data,
    download: false,
    onWarning: () => {},
  });
  const all = cifar.train!;
  const tmp = await Deno.makeTempDir({ prefix: "simdnet_transfer_bench_" });
  try {
    const source = await trainSource(all, s, `${tmp}/source`);
    const folder = await makeFolder(
      all,
      cifar.classNames,
      s,
      `${tmp}/folder`,
    );
    const rows = await compare(s, `${tmp}/source`, folder);
    // 4. The result, with where and how it was measured.
    console.log(
      `\nTransfer learning, ${folder.classes} classes x ${s.perClass} ` +
        `training images (read by loadImageFolder), held out ` +
        `${folder.held.count}; source model: ${source.count} images x ` +
        `${s.sourceEpochs} epochs (${source.seconds.toFixed(1)} s)${
          s.quick ? " (--quick: sizes too small to mean anything)" : ""
        }`,
    );
    console.log(`machine: ${machineLine()}`);
    console.log(
      `runtime: ${runtime.backend} (--backend ${s.runtime.backend}), ` +
        `${runtime.threads} threads (${
          s.runtime.threads === undefined
            ? "SIMDNET_THREADS or every core"
            : `--threads ${s.runtime.threads}`
        })`,
    );
    console.log(`settings: ${settingsLine(s)}\n`);
    console.log(table(rows));
  } finally {
    if (s.keep) console.log(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await main(Deno.args);
