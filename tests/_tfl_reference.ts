/**
 * The independent reference for simdnet's layers and models:
 * `@tensorflow/tfjs-layers` 4.22 on the tfjs `cpu` backend, computed in a
 * child Deno process (`_tfl_child.ts`) so that tfjs-layers' gradient configs,
 * which its bundle registers as it loads, never replace simdnet's in the test
 * process, and the reference is tfjs' own math end to end.
 *
 * {@linkcode TflReference} runs the child (one per test file, many jobs);
 * {@linkcode readReference} reads what it wrote for a model folder;
 * {@linkcode runSimdnet} loads the same `model.json` + weights in simdnet
 * and computes outputs (inference mode) and the gradients of the
 * categorical cross-entropy plus any regularization penalty (training
 * mode) w.r.t. every trainable weight and the input;
 * {@linkcode saveWithSimdnet} writes simdnet's copy for the round trip.
 * Any folder holding a `model.json` and its weights as one `weights.bin`
 * can be a child item (e.g. a converter's file), not only a spec.
 * `_tfl_conformance.ts` runs a table through all of it;
 * `layers_reference_test.ts` holds the table and the tolerances, with the
 * measurements behind them.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type * as Tfl from "@tensorflow/tfjs-layers";
import type { ApplyContext } from "../src/nn/layer.ts";
import { modelFromArtifacts, modelToArtifacts } from "../src/nn/model_io.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";

/**
 * One line of a conformance table: a name, a tfjs-layers builder (a layer,
 * which the harness puts after an input of shape `input`, or a whole model),
 * the input shape without the batch axis, and the seed of the weights and
 * the input batch. The builder runs in the child with the child's `tfl`.
 */
export interface ReferenceSpec {
  name: string;
  build: (tfl: typeof Tfl) => Tfl.layers.Layer | Tfl.LayersModel;
  input: number[];
  seed: number;
  /**
   * Why tfjs cannot give this spec's gradients (only outputs and the round
   * trip are compared then), or undefined.
   */
  outputsOnly?: string;
  /**
   * Training-mode passes to run before reading the weights back (one is
   * the gradients' own): the state they move, BatchNormalization's moving
   * statistics, is then compared too. Undefined or 0: not compared.
   */
  steps?: number;
  /**
   * Take the gradients in inference mode w.r.t. every weight, the
   * non-trainable ones (moving statistics) included, instead of in
   * training mode w.r.t. the trainable ones.
   */
  inferenceGradients?: boolean;
  /** The inputs' range, [0, 1) unless given (e.g. to reach a ReLU's cap). */
  inputRange?: [number, number];
  /** See `ChildItem.onesGammaForUnscaledBatchNorm`. */
  onesGammaForUnscaledBatchNorm?: boolean;
}

/** A spec line; see {@linkcode ReferenceSpec}. */
export function spec(
  name: string,
  build: ReferenceSpec["build"],
  input: number[],
  seed: number,
  outputsOnly?: string,
): ReferenceSpec {
  return { name, build, input, seed, outputsOnly };
}

/**
 * Kernels whose gradients tfjs-layers' bundle registers and simdnet never
 * will (3-D convolution, local response normalization, dilation): present
 * in the child, they show that tfjs' own configs are in force there; absent
 * in the test process, that tfjs-layers' never got into it.
 */
export const TFJS_ONLY_GRADIENTS = ["Conv3D", "LRN", "Dilation2D"] as const;

/** One model for the child: built from a spec, or read from `dir`. */
export interface ChildItem {
  dir: string;
  /** Name of the spec to build and save into `dir` first. */
  build?: string;
  seed: number;
  batch: number;
  /** Folder whose `x.bin`/`y.bin` to reuse instead of drawing a batch. */
  inputFrom?: string;
  /** False to skip the gradients (outputs and description only). */
  gradients?: boolean;
  /**
   * Training-mode passes to run (the gradients' one included), after
   * which every weight is written to `after.bin`; see `ReferenceSpec`.
   */
  steps?: number;
  /** See `ReferenceSpec.inferenceGradients`. */
  inferenceGradients?: boolean;
  /** See `ReferenceSpec.inputRange`. */
  inputRange?: [number, number];
  /** Save what tfjs-layers loaded into `dir/resaved` (its own writing). */
  resave?: boolean;
  /**
   * Take the gradients of `sum(output * r)`, `r` read from `dir/r.bin`
   * (float32, the flattened output's size), instead of the cross-entropy.
   */
  lossWeights?: boolean;
  /**
   * Give every loaded BatchNormalization with `scale: false` a constant
   * gamma of ones, for the training-mode gradients: tfjs-layers 4.22 runs
   * such a layer in inference but its training path reads `gamma`
   * unconditionally and throws. Ones is the same math, and the layer still
   * has no gamma weight (none is trained, saved or counted). Opt-in, so
   * that every other item sees tfjs-layers exactly as it ships.
   */
  onesGammaForUnscaledBatchNorm?: boolean;
}

/**
 * The gradient of `sum(op(x) * r)` at `x` by tfjs' own config: `op` is
 * `module[table][op]` (a function of one tensor), `r` is cut to the
 * output's size; the child writes the float32 gradient to `file`.
 */
export interface OpItem {
  file: string;
  table: string;
  op: string;
  x: number[];
  r: number[];
}

/** A job: the module and exports holding the specs, and the items. */
export interface ChildJob {
  module: string;
  specs: string[];
  items: ChildItem[];
  /** Op gradients to compute (see {@linkcode OpItem}). */
  ops?: OpItem[];
}

/** What the child wrote to `ref.json` about a model. */
export interface RefInfo {
  inputShape: number[];
  outputShape: number[];
  /** The cross-entropy (plus penalties); NaN without gradients. */
  loss: number;
  /** Whether `grads.bin` holds the gradients (see `ChildItem.gradients`). */
  gradients: boolean;
  softmax: boolean;
  /** Whether tfjs-layers loaded it as a Sequential (InputLayer left out). */
  sequential: boolean;
  classNames: string[];
  layerNames: string[];
  configs: Record<string, unknown>[];
  /** For each layer, the names of the layers feeding it. */
  inbound: string[][];
  /** All weights in tfjs-layers' order (the manifest's). */
  weightNames: string[];
  /** The trainable weights, in the order of `grads.bin`. */
  trainable: { name: string; shape: number[] }[];
  countParams: number;
  /** Every weight's shape, in `weightNames`' order. */
  weightShapes?: number[][];
  /** The sum of the regularization penalties (0 without regularizers). */
  penalty?: number;
  /** The training passes behind `after.bin` (0: none written). */
  steps?: number;
  /**
   * The weights `grads.bin` holds, when not `trainable` (inference-mode
   * gradients w.r.t. every weight).
   */
  gradWeights?: { name: string; shape: number[] }[];
  /** tfjs-layers' `summary()` lines. */
  summary?: string[];
}

/**
 * A copy of a model.json with every Dropout's rate set to 0: the random
 * masks of two generators can never agree, so gradients are compared with
 * dropout off on both sides (the mask is tested in `nn_test.ts`).
 */
export function withoutDropout<T>(json: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object") return v;
    const o = Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, walk(x)]),
    );
    if (o.class_name === "Dropout" && typeof o.config === "object") {
      o.config = { ...o.config, rate: 0 };
    }
    return o;
  };
  return walk(json) as T;
}

// A job of the whole table takes ~45 s on two busy cores; ten times that
// means the child hangs.
const JOB_TIMEOUT_MS = 600_000;

/** The tfjs-layers child process: one per test file, many jobs. */
export class TflReference {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout
      .pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /** Starts the child (it loads tfjs-layers once, ~1 s). */
  static start(): TflReference {
    const root = new URL("..", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        new URL("./_tfl_child.ts", import.meta.url).pathname,
      ],
      cwd: root,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new TflReference(child);
  }

  #pending = "";

  async #line(): Promise<string> {
    while (!this.#pending.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the tfjs-layers child exited; see its stderr");
      this.#pending += value;
    }
    const nl = this.#pending.indexOf("\n");
    const line = this.#pending.slice(0, nl);
    this.#pending = this.#pending.slice(nl + 1);
    return line;
  }

  /**
   * Runs a job; resolves when every item's folder holds the reference (or
   * an `error.txt` saying why not).
   */
  async run(job: ChildJob, timeoutMs = JOB_TIMEOUT_MS): Promise<void> {
    await this.#writer.write(
      new TextEncoder().encode(JSON.stringify(job) + "\n"),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#child.kill();
        reject(new Error(`the tfjs-layers child took over ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const line = await Promise.race([this.#line(), timeout]);
      const answer = JSON.parse(line) as { ok: boolean; error?: string };
      if (!answer.ok) throw new Error(`tfjs-layers child: ${answer.error}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the child's input and waits for it to exit. */
  async close(): Promise<void> {
    // A child that died already has closed its end: nothing to flush.
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel();
    const status = await this.#child.status;
    if (!status.success) {
      throw new Error(`the tfjs-layers child exited with ${status.code}`);
    }
  }
}

/** The child's results for one model folder. */
export interface Reference {
  dir: string;
  info: RefInfo;
  json: Record<string, unknown>;
  weights: Uint8Array;
  x: Float32Array;
  y: Float32Array;
  out: Float32Array;
  /**
   * Trainable weights' gradients by name, then the input's as `input`;
   * empty for an item run with `gradients: false`.
   */
  grads: Map<string, Float32Array>;
  /**
   * Every weight after `info.steps` training passes, in `weightNames`'
   * order; empty when the item ran no steps.
   */
  after: Float32Array[];
}

/** Splits `all` into consecutive pieces of the shapes' sizes. */
function split(all: Float32Array, shapes: number[][]): Float32Array[] {
  let at = 0;
  return shapes.map((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    at += n;
    return all.subarray(at - n, at);
  });
}

function floats(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer);
}

/** Reads a folder the child wrote; throws the child's error if it failed. */
export async function readReference(dir: string): Promise<Reference> {
  const failed = await Deno.readTextFile(`${dir}/error.txt`).catch(() => null);
  if (failed !== null) {
    throw new Error(`tfjs-layers reference failed: ${failed}`);
  }
  const info = JSON.parse(
    await Deno.readTextFile(`${dir}/ref.json`),
  ) as RefInfo;
  const all = floats(await Deno.readFile(`${dir}/grads.bin`));
  const grads = new Map<string, Float32Array>();
  let at = 0;
  const sizes = [
    ...(info.gradWeights ?? info.trainable).map((w) =>
      [w.name, w.shape] as const
    ),
    ["input", info.inputShape] as const,
  ];
  for (const [name, shape] of all.length === 0 ? [] : sizes) {
    const n = shape.reduce((a, b) => a * b, 1);
    grads.set(name, all.subarray(at, at + n));
    at += n;
  }
  return {
    dir,
    info,
    json: JSON.parse(await Deno.readTextFile(`${dir}/model.json`)),
    weights: await Deno.readFile(`${dir}/weights.bin`),
    x: floats(await Deno.readFile(`${dir}/x.bin`)),
    y: floats(await Deno.readFile(`${dir}/y.bin`)),
    out: floats(await Deno.readFile(`${dir}/out.bin`)),
    grads,
    after: info.steps
      ? split(
        floats(await Deno.readFile(`${dir}/after.bin`)),
        info.weightShapes!,
      )
      : [],
  };
}

/** How far `got` is from `want`: the worst error over `rtol`'s allowance. */
export interface Closeness {
  /** max |got - want| / max(|want|, floor); `floor` is the absolute floor. */
  worst: number;
  at: number;
  got: number;
  want: number;
}

/**
 * The largest error of `got` against `want`, relative to `|want|` but never
 * to less than `floorFraction` of `want`'s largest magnitude: near-zero
 * entries are sums that cancel, whose float32 rounding error scales with the
 * terms, not with the (tiny) result.
 */
export function closeness(
  got: Float32Array,
  want: Float32Array,
  floorFraction: number,
): Closeness {
  if (got.length !== want.length) {
    throw new Error(
      `${got.length} values where the reference has ${want.length}`,
    );
  }
  let peak = 0;
  for (const v of want) peak = Math.max(peak, Math.abs(v));
  const floor = Math.max(peak * floorFraction, 1e-30);
  const c: Closeness = { worst: 0, at: -1, got: NaN, want: NaN };
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!) /
      Math.max(Math.abs(want[i]!), floor);
    if (!(e <= c.worst)) {
      Object.assign(c, { worst: e, at: i, got: got[i], want: want[i] });
    }
    if (Number.isNaN(e)) break;
  }
  return c;
}

/** What simdnet computed for a reference's model, input and labels. */
export interface SimdnetResult {
  out: Float32Array;
  grads: Map<string, Float32Array>;
  loss: number;
  trainableNames: string[];
  /** All weights' names in simdnet's order. */
  weightNames: string[];
  countParams: number;
  /** The sum of the layers' regularization penalties. */
  penalty: number;
  /** Every weight after `steps` training passes (empty for none). */
  after: Float32Array[];
}

/** What the harness needs of a simdnet model. */
interface Model {
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor;
  readonly layers: readonly { regularizationLoss?(): tf.Scalar | null }[];
}

// Read with data(), not dataSync(): webgpu cannot read synchronously.
async function penaltyOf(model: Model): Promise<number> {
  const penalties = model.layers.flatMap((l) => l.regularizationLoss?.() ?? []);
  if (penalties.length === 0) return 0;
  const sum = tf.addN(penalties);
  const value = (await sum.data())[0]!;
  tf.dispose([sum, ...penalties]);
  return value;
}

// The loss the trainer uses (src/train/fit_epoch.ts): the model's logits
// (its final softmax skipped), flattened for layers with image outputs,
// plus the layers' regularization penalties as Keras adds them.
function lossOf(
  model: Model,
  x: tf.Tensor,
  y: tf.Tensor2D,
  training = true,
): tf.Scalar {
  const h = model.apply(x, {
    training,
    logits: true,
    nextSeed: () => 1,
  });
  const loss = softmaxCrossEntropy(tf.reshape(h, [h.shape[0]!, -1]), y);
  const penalties = model.layers.flatMap((l) => l.regularizationLoss?.() ?? []);
  return tf.addN([loss, ...penalties]) as tf.Scalar;
}

/**
 * Loads the reference's files in simdnet on the active backend and
 * computes the outputs (inference) and gradients (training, Dropout off);
 * when the reference ran training steps, runs as many and reads back
 * every weight.
 */
export async function runSimdnet(ref: Reference): Promise<SimdnetResult> {
  const { info } = ref;
  const model = modelFromArtifacts(ref.json, ref.weights);
  const trainModel = modelFromArtifacts(withoutDropout(ref.json), ref.weights);
  const units = ref.y.length / info.inputShape[0]!;
  try {
    const x = tf.tensor(ref.x, info.inputShape);
    const y = tf.tensor2d(ref.y, [info.inputShape[0]!, units]);
    const out = model.apply(x, { training: false });
    const inference = ref.info.gradWeights !== undefined;
    const weights = trainModel.trainableWeights;
    const gradModel = inference ? model : trainModel;
    const wrt = inference ? model.weights : weights;
    const xVar = tf.variable(x, true);
    // tf.variableGrads skips variables marked non-trainable.
    const flags = wrt.map((w) => w.variable.trainable);
    wrt.forEach((w) => (w.variable.trainable = true));
    const { value, grads } = tf.variableGrads(
      () => lossOf(gradModel, xVar, y, !inference),
      [...wrt.map((w) => w.variable), xVar],
    );
    wrt.forEach((w, i) => (w.variable.trainable = flags[i]!));
    const result: SimdnetResult = {
      out: await out.data() as Float32Array,
      grads: new Map(),
      loss: (await value.data())[0]!,
      trainableNames: weights.map((w) => w.name),
      weightNames: model.weights.map((w) => w.name),
      countParams: model.countParams(),
      penalty: await penaltyOf(trainModel),
      after: [],
    };
    // The gradients' pass was the first training step.
    for (let s = 1; s < (info.steps ?? 0); s++) {
      tf.dispose(trainModel.apply(x, { training: true, nextSeed: () => 1 }));
    }
    if (info.steps) {
      for (const w of trainModel.weights) {
        result.after.push(await w.variable.data() as Float32Array);
      }
    }
    for (const w of wrt) {
      result.grads.set(
        w.name,
        await grads[w.variable.name]!.data() as Float32Array,
      );
    }
    result.grads.set("input", await grads[xVar.name]!.data() as Float32Array);
    tf.dispose([x, y, out, xVar, value, ...Object.values(grads)]);
    return result;
  } finally {
    model.dispose();
    trainModel.dispose();
  }
}

/**
 * Saves the reference's model as simdnet writes it into `dir`, for the
 * child to load back with tfjs-layers (the round trip simdnet -> tfjs).
 */
export async function saveWithSimdnet(
  ref: Reference,
  dir: string,
): Promise<void> {
  const model = modelFromArtifacts(ref.json, ref.weights);
  try {
    const { json, weights } = await modelToArtifacts(model);
    json.weightsManifest[0]!.paths = ["weights.bin"];
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(`${dir}/weights.bin`, weights);
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
  } finally {
    model.dispose();
  }
}

// Keys a config may leave out when it means tfjs-layers' default.
const CONFIG_DEFAULTS: Record<string, unknown> = {
  dataFormat: "channelsLast",
};

/**
 * The keys where two tfjs-layers configs of the same layer (as
 * `getConfig()` returns them) differ, ignoring:
 * - `*Initializer`: simdnet writes Keras' defaults (glorot_uniform, zeros)
 *   whatever the file said; a loaded model's weights come from the file,
 *   so only re-initialising the loaded topology would tell them apart;
 * - a key one side leaves out and the other sets to tfjs' default;
 * - `batchInputShape` and `dtype` when `inputMoved`: the first layer of a
 *   Sequential that tfjs-layers built with a separate InputLayer.
 */
export function configDiff(
  got: Record<string, unknown>,
  want: Record<string, unknown>,
  inputMoved: boolean,
): string[] {
  const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
  const diff: string[] = [];
  for (const key of keys) {
    if (key.endsWith("Initializer")) continue;
    if (inputMoved && (key === "batchInputShape" || key === "dtype")) continue;
    const a = key in got ? got[key] : CONFIG_DEFAULTS[key];
    const b = key in want ? want[key] : CONFIG_DEFAULTS[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      diff.push(
        `${key}: ${JSON.stringify(a)} where tfjs-layers has ${
          JSON.stringify(b)
        }`,
      );
    }
  }
  return diff;
}
