/**
 * The model-building step of `deno task train`: the seed CNN from scratch;
 * with `--model FILE`, the topology of a `model.json` with fresh weights
 * from `--seed` (or the file's own weights with `--keep-weights`), checked
 * against the data; or, with `--from`, a saved model (read by the hardened
 * loader) whose head is replaced when the data has another number of
 * classes (or with `--new-head`) and whose first layers `--freeze` keeps
 * fixed; and the flags (`--model`, `--keep-weights`, `--from`, `--freeze`,
 * `--new-head`, `--fine-tune-epochs`, `--fine-tune-lr`) that drive it.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { ImageShape } from "../data/image_set.ts";
import { cifarCnn } from "../nn/cifar_cnn.ts";
import { loadTopology } from "../nn/model_from_topology.ts";
import { loadModel, ModelFormatError } from "../nn/model_io.ts";
import { logitsProblem, modelOutput } from "../nn/model_output.ts";
import type { Model } from "../nn/model.ts";
import { Rng } from "../util/random.ts";
import { freezeLayers, replaceHead } from "../nn/transfer.ts";
import type { FineTuneOptions } from "../train/phases.ts";
import type { FitSettings } from "../train/resume.ts";
import { numberFlag, wholeFlag } from "./flags.ts";
import { UsageError } from "./usage.ts";

/** The `parseArgs` options of the transfer flags. */
export const TRANSFER_OPTIONS = {
  model: { type: "string" },
  "keep-weights": { type: "boolean", default: false },
  from: { type: "string" },
  freeze: { type: "string" },
  "new-head": { type: "boolean", default: false },
  "fine-tune-epochs": { type: "string" },
  "fine-tune-lr": { type: "string" },
} as const;

/** The transfer flags' lines of the train usage text. */
export const TRANSFER_USAGE = `
other models (default: the seed notebook's CNN):
  --model FILE       train the topology of a model.json (TF.js Layers format,
                     a file or its directory) with fresh weights from --seed;
                     its input must be the data's image shape and its output
                     one unit per class, ending in softmax or linear (logits)
  --keep-weights     with --model: start from the file's own weights instead
                     (like --from, but a class count that differs is an
                     error instead of a new head: add --new-head)

transfer learning:
  --from DIR         start from a saved model (its model.json and weights);
                     the same as --model DIR --keep-weights, except that the
                     head is replaced when the class count differs
  --freeze N|NAME    keep the first N layers, or the layers up to NAME, fixed
  --new-head         a fresh output layer (Dense, fresh weights from --seed)
                     even when the class count matches; with --from the
                     head is replaced anyway when it differs
  --fine-tune-epochs E
                     then unfreeze every layer and train E more epochs with
                     a fresh --optimizer (epochs numbered on, one history)
  --fine-tune-lr X   constant learning rate of those epochs (default: --lr / 10)
`;

/** The transfer flags, checked. */
export interface TransferArgs {
  /** `--model`: a `model.json` path, its directory or a URL. */
  model?: string | undefined;
  /** `--keep-weights`: train `--model` from its own weights. */
  keepWeights?: boolean;
  /** `--from`: a model directory, `model.json` path or URL. */
  from: string | undefined;
  /** `--freeze`: a layer count or a layer name. */
  freeze: number | string | undefined;
  newHead: boolean;
  /** Second phase, or undefined without `--fine-tune-epochs`. */
  fineTune: FineTuneOptions | undefined;
}

/**
 * Checks the transfer flags parsed with {@linkcode TRANSFER_OPTIONS};
 * `lr` is the first phase's rate (the fine-tuning default is a tenth).
 */
export function transferFlags(
  v: {
    model?: string;
    "keep-weights"?: boolean;
    from?: string;
    freeze?: string;
    "new-head"?: boolean;
    "fine-tune-epochs"?: string;
    "fine-tune-lr"?: string;
  },
  lr: number,
): TransferArgs {
  const needsFrom = ["freeze", "new-head", "fine-tune-epochs"].find((k) =>
    v[k as keyof typeof v] !== undefined && v[k as keyof typeof v] !== false
  );
  if (v.model !== undefined && v.from !== undefined) {
    throw new UsageError(
      "--model and --from both choose the model; use --model FILE " +
        "--keep-weights to train a file's weights, or --from DIR alone",
    );
  }
  if (v["keep-weights"] && v.model === undefined) {
    throw new UsageError(
      "--keep-weights needs --model FILE, the model.json whose weights to keep",
    );
  }
  if (needsFrom && v.from === undefined && v.model === undefined) {
    throw new UsageError(
      `--${needsFrom} needs --from DIR or --model FILE, the model to start from`,
    );
  }
  const epochs = wholeFlag(v["fine-tune-epochs"], "fine-tune-epochs", 1);
  const rate = numberFlag(
    v["fine-tune-lr"],
    "fine-tune-lr",
    (n) => n > 0 && Number.isFinite(n),
    "a number > 0",
  );
  if (rate !== undefined && epochs === undefined) {
    throw new UsageError(
      "--fine-tune-lr needs --fine-tune-epochs E, the epochs to fine-tune",
    );
  }
  const freeze = v.freeze === undefined
    ? undefined
    : /^\d+$/.test(v.freeze)
    ? Number(v.freeze)
    : v.freeze;
  return {
    model: v.model,
    keepWeights: v["keep-weights"] ?? false,
    from: v.from,
    freeze,
    newHead: v["new-head"] ?? false,
    fineTune: epochs === undefined
      ? undefined
      : { epochs, learningRate: rate ?? lr / 10 },
  };
}

/** What the training data asks of the model. */
export interface DataSpec {
  /** Number of classes of the training data. */
  classes: number;
  /** `[height, width, channels]` of its images. */
  shape: ImageShape;
}

/** The model to train and what `fit` and the report should record about it. */
export interface BuiltModel {
  model: Model;
  /** Extra checkpoint settings: the `--from` model's fingerprint, so a resume from another is refused. */
  settings: FitSettings;
  /** Lines for the report's settings table. */
  report: Record<string, string | number | boolean>;
}

/** `sha256:<hex>` of the model's weights, in Keras order. */
async function weightsFingerprint(model: Model): Promise<string> {
  const hash = new Uint8Array(32 * model.weights.length);
  const values = await model.getWeights();
  for (const [i, w] of values.entries()) {
    const bytes = new Uint8Array(
      w.values.buffer,
      w.values.byteOffset,
      w.values.byteLength,
    );
    hash.set(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice())),
      32 * i,
    );
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", hash));
  return `sha256:${
    Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * Builds the model `train` fits: the seed CNN for `data.classes` classes
 * from `seed`, or the `--from` model with its head replaced when the class
 * count differs (or `--new-head`; fresh weights from `seed`, with a notice
 * through `print`) and its first layers frozen by `--freeze`.
 */
export async function buildTrainModel(
  a: TransferArgs & { seed: number },
  data: DataSpec,
  print: (line: string) => void = console.log,
): Promise<BuiltModel> {
  if (a.model !== undefined) return await buildFileModel(a, data, print);
  if (a.from === undefined) {
    const model = cifarCnn({
      seed: a.seed,
      classes: data.classes,
      inputShape: [...data.shape],
    });
    return { model, settings: {}, report: {} };
  }
  const model = await loadModel(a.from);
  try {
    if (model.inputShape.join() !== data.shape.join()) {
      throw new ModelFormatError(
        `the model at ${a.from} takes [${model.inputShape}] images but the ` +
          `training data holds [${data.shape}]; start from a model trained ` +
          `on images of that shape`,
      );
    }
    // The weights, not the path: the same model moved elsewhere resumes,
    // another model at the same path does not.
    const settings: FitSettings = {
      fromModel: await weightsFingerprint(model),
    };
    const report: BuiltModel["report"] = { "started from": a.from };
    const [units] = model.outputShape;
    if (a.newHead || units !== data.classes) {
      const head = replaceHead(model, data.classes, { seed: a.seed });
      print(
        `notice: replaced the head ${head.old} (${head.oldUnits} classes) ` +
          `with ${head.name} (${head.units} classes), fresh weights from ` +
          `seed ${a.seed}`,
      );
      report["new head"] = `${head.name} (${head.units} classes)`;
    }
    if (a.freeze !== undefined) {
      report["frozen layers"] = freeze(model, a.freeze).join(", ") || "none";
    }
    return { model, settings, report };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function freeze(model: Model, spec: number | string): string[] {
  try {
    return freezeLayers(model, spec);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new UsageError(`--freeze: ${error.message}`);
    }
    throw error;
  }
}

/**
 * The checks `--model` makes before training, each one line with its fix:
 * the input is the data's image shape, the output one unit per class (or
 * `--new-head`), and the last layer gives softmax or logits.
 */
async function checkFileModel(
  model: Model,
  a: TransferArgs & { seed: number },
  data: DataSpec,
  print: (line: string) => void,
): Promise<BuiltModel["report"]> {
  const file = a.model!;
  if (model.inputShape.join() !== data.shape.join()) {
    throw new ModelFormatError(
      `the model in ${file} takes [${model.inputShape}] inputs but the ` +
        `training images are [${data.shape}]; change the InputLayer's ` +
        `batch_input_shape to [null, ${data.shape.join(", ")}] or train on ` +
        `images of that shape (--image-size for an image folder)`,
    );
  }
  const out = modelOutput(model);
  if (out.kind === "other") {
    throw new ModelFormatError(
      `layer '${out.layer}' (${out.className}) ends ${file} with activation ` +
        `'${out.activation}'; a classifier ends in softmax or linear ` +
        `(logits), so set that activation to softmax or linear`,
    );
  }
  const report: BuiltModel["report"] = {
    model: file,
    weights: a.keepWeights ? "the file's" : `fresh (seed ${a.seed})`,
  };
  const [units] = model.outputShape;
  if (a.newHead) {
    const head = newHead(model, data.classes, a.seed);
    print(
      `notice: replaced the head ${head.old} (${head.oldUnits} classes) ` +
        `with ${head.name} (${head.units} classes), fresh weights from ` +
        `seed ${a.seed}`,
    );
    report["new head"] = `${head.name} (${head.units} classes)`;
  } else if (model.outputShape.length !== 1 || units !== data.classes) {
    throw new ModelFormatError(
      `layer '${out.layer}' (${out.className}) of ${file} outputs ` +
        `[${model.outputShape}] but the data has ${data.classes} classes; ` +
        `add --new-head for a fresh Dense head of ${data.classes} units ` +
        `(replaceHead in the API), or set its units to ${data.classes}`,
    );
  }
  // A layer that ignores `ctx.logits` would train on probabilities taken
  // for logits; two forward passes of two random images catch it.
  const x = tf.tidy(() => {
    const rng = new Rng(a.seed);
    const n = 2 * data.shape.reduce((p, d) => p * d, 1);
    return tf.tensor(
      Float32Array.from({ length: n }, () => rng.next()),
      [2, ...data.shape],
    );
  });
  const problem = await logitsProblem(model, x);
  x.dispose();
  if (problem !== null) throw new ModelFormatError(`${file}: ${problem}`);
  return report;
}

function newHead(model: Model, classes: number, seed: number) {
  try {
    return replaceHead(model, classes, { seed });
  } catch (error) {
    throw new ModelFormatError((error as Error).message);
  }
}

/**
 * `--model FILE`: its topology with fresh weights from the seed, or its own
 * weights with `--keep-weights`, checked by {@linkcode checkFileModel}.
 */
async function buildFileModel(
  a: TransferArgs & { seed: number },
  data: DataSpec,
  print: (line: string) => void,
): Promise<BuiltModel> {
  const model = a.keepWeights
    ? await loadModel(a.model!)
    : await loadTopology(a.model!, { seed: a.seed });
  try {
    const report = await checkFileModel(model, a, data, print);
    if (a.freeze !== undefined) {
      report["frozen layers"] = freeze(model, a.freeze).join(", ") || "none";
    }
    // The model's starting weights: a resume with another file, another
    // seed or another head is refused.
    const settings: FitSettings = { model: await weightsFingerprint(model) };
    return { model, settings, report };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
