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
 * 4. prints both held-out accuracies and the times, with the CPU model.
 *
 * Both runs are built by the train CLI's model-building step
 * (`buildTrainModel`) and trained by `fit` with the CLI's options. The
 * folder is read by a local PNG reader (bench/_image_folder.ts) until
 * `loadImageFolder` lands; then (a) and (b) should run through
 * `deno task train --data DIR` itself.
 *
 * usage: deno task bench:transfer [--data DIR] [--quick] [--source-epochs 5]
 *   [--epochs 10] [--fine-tune-epochs 5] [--fine-tune-lr 0.0001]
 *   [--per-class 200] [--held-out 1000] [--seed 42] [--backend B]
 *   [--threads N] [--keep]
 *
 * @module
 */

import { loadCifar10 } from "../src/data/cifar10.ts";
import { CIFAR10_SHAPE, type ImageSet } from "../src/data/image_set.ts";
import { gather } from "../src/data/dataset.ts";
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
import { readImageFolder, writeImageFolder } from "./_image_folder.ts";
import { machineLine } from "./_machine.ts";

const SOURCE = [0, 1, 2, 3, 4];
const TARGET = [5, 6, 7, 8, 9];
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

async function trainRun(
  run: string,
  transfer: TransferArgs,
  train: ImageSet,
  heldOut: ImageSet,
  base: FitOptions & { epochs: number; seed: number },
): Promise<Row> {
  console.log(`\n== ${run}`);
  const { model, settings } = await buildTrainModel(
    { ...transfer, seed: base.seed },
    { classes: TARGET.length, shape: train.shape },
  );
  model.summary();
  const t0 = performance.now();
  await fit(model, train, { ...base, fineTune: transfer.fineTune, settings });
  const seconds = (performance.now() - t0) / 1000;
  const result = await evaluate(model, heldOut, 256);
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
    augment: true,
    seed: s.seed,
    verbose: 2,
  });
  const seconds = (performance.now() - t0) / 1000;
  await saveModel(source, dir);
  source.dispose();
  return { count: src.count, seconds };
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
  const train = await readImageFolder(`${dir}/train`, CIFAR10_SHAPE);
  const held = await readImageFolder(`${dir}/held_out`, CIFAR10_SHAPE);
  console.log(
    `folder ${dir}: train ${train.set.count} images ` +
      `(${train.classNames.join(", ")}), held out ${held.set.count}`,
  );
  return { train: train.set, held: held.set };
}

/** 3. Scratch and transfer, the same epochs and seed for both. */
async function compare(
  s: Settings,
  sourceDir: string,
  train: ImageSet,
  held: ImageSet,
): Promise<Row[]> {
  const base = {
    epochs: s.epochs,
    augment: true,
    seed: s.seed,
    verbose: 2 as const,
  };
  const none = { from: undefined, freeze: undefined, newHead: false };
  return [
    await trainRun(
      "(a) from scratch",
      { ...none, fineTune: undefined },
      train,
      held,
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
      train,
      held,
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
    const { train, held } = await makeFolder(
      all,
      cifar.classNames,
      s,
      `${tmp}/folder`,
    );
    const rows = await compare(s, `${tmp}/source`, train, held);
    // 4. The result.
    console.log(
      `\nTransfer learning, ${TARGET.length} classes x ${s.perClass} ` +
        `training images, held out ${held.count}; source model: ` +
        `${source.count} images x ${s.sourceEpochs} epochs ` +
        `(${source.seconds.toFixed(1)} s); ${machineLine()}, ` +
        `${runtime.backend} ${runtime.threads} threads${
          s.quick ? " (--quick: sizes too small to mean anything)" : ""
        }\n`,
    );
    console.log(table(rows));
  } finally {
    if (s.keep) console.log(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await main(Deno.args);
