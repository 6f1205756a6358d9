/**
 * The reference side of `_tfl_reference.ts`, run as a child Deno process:
 * `@tensorflow/tfjs-layers` 4.22 on the tfjs `cpu` backend, with tfjs' own
 * gradient configs (registered by the tfjs-layers bundle as it loads).
 * simdnet's `registerGradients()` never runs here, and tfjs-layers' configs
 * never reach the test process, which is why this is a separate process.
 *
 * Protocol: one JSON job per line on stdin, one JSON answer per line on
 * stdout (`{ ok: true }` or `{ ok: false, error }`); bulk data goes through
 * files in each item's folder. A job lists items; for each item the child
 *
 * 1. builds the spec's tfjs-layers model (when `build` is given), draws its
 *    weights from the item's seed and saves `model.json` + `weights.bin`
 *    into `dir`; otherwise loads the `model.json` already there (e.g. one
 *    simdnet saved);
 * 2. draws the input batch and one-hot labels from the seed (or reads
 *    `x.bin`/`y.bin` from `inputFrom`), writes them to `dir`;
 * 3. writes `out.bin` (inference-mode outputs), `grads.bin` (gradients of
 *    the categorical cross-entropy w.r.t. every trainable weight, in
 *    trainable order, then w.r.t. the input; training mode, Dropout rates
 *    set to 0) and `ref.json` (shapes, weight names, class names, configs,
 *    the regularization penalty);
 * 4. with `steps`, runs that many training passes in all and writes every
 *    weight to `after.bin` (the moving statistics they moved);
 * 5. with `resave`, saves the model it loaded into `dir/resaved` (how
 *    tfjs-layers writes back a file it read).
 *
 * With `onesGammaForUnscaledBatchNorm`, BatchNormalization layers with
 * `scale: false` get a constant gamma of ones (tfjs-layers 4.22's training
 * path reads `gamma` unconditionally); see `ChildItem`.
 *
 * With `lossWeights`, the gradients are of `sum(output * r)` (`r.bin`)
 * alone, instead of the cross-entropy plus the regularization penalties
 * (`penalty` in `ref.json` still has those).
 *
 * A job's `ops` are op gradients by tfjs' own configs (`OpItem`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { createRng, type Rng } from "../src/util/random.ts";
import {
  type ChildItem,
  type ChildJob,
  type OpItem,
  type ReferenceSpec,
  type RefInfo,
  TFJS_ONLY_GRADIENTS,
  withoutDropout,
} from "./_tfl_reference.ts";

type Json = Record<string, unknown>;

/** Saves `model` to memory the way `tf.io` writers see it. */
async function artifactsOf(
  model: tfl.LayersModel,
): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    saved = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  return saved!;
}

// Weights drawn at the scale of a He-uniform initialiser for kernels (so a
// deep stack neither vanishes nor overflows), small non-zero values for
// biases and betas, and positive values around 1 for scales and variances
// (BatchNormalization's gamma and moving variance must stay positive).
function drawWeights(model: tfl.LayersModel, rng: Rng): void {
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const name = w.originalName;
    const positive = /(gamma|moving_variance|variance)$/.test(name);
    const fanIn = shape.length >= 2
      ? shape.slice(0, -1).reduce((a, b) => a * b, 1)
      : 0;
    const limit = fanIn > 0 ? Math.sqrt(6 / fanIn) : 0.2;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      v[i] = positive ? rng.uniform(0.5, 1.5) : rng.uniform(-limit, limit);
    }
    w.write(tf.tensor(v, shape));
  }
}

function asModel(
  built: tfl.LayersModel | tfl.layers.Layer,
  spec: ReferenceSpec,
): tfl.LayersModel {
  if (built instanceof tfl.LayersModel) return built;
  const model = tfl.sequential();
  model.add(tfl.layers.inputLayer({ inputShape: spec.input }));
  model.add(built);
  return model;
}

/** Writes `model.json` + `weights.bin` of `model` into `dir`. */
async function saveTo(model: tfl.LayersModel, dir: string): Promise<void> {
  const a = await artifactsOf(model);
  await Deno.writeFile(
    `${dir}/weights.bin`,
    new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData!)),
  );
  await Deno.writeTextFile(
    `${dir}/model.json`,
    JSON.stringify({
      format: a.format,
      generatedBy: a.generatedBy,
      convertedBy: a.convertedBy ?? null,
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs }],
    }),
  );
}

async function buildAndSave(
  item: ChildItem,
  specs: readonly ReferenceSpec[],
): Promise<void> {
  const spec = specs.find((s) => s.name === item.build);
  if (!spec) throw new Error(`no spec named '${item.build}'`);
  const model = asModel(spec.build(tfl), spec);
  drawWeights(model, createRng(spec.seed));
  await saveTo(model, item.dir);
  model.dispose();
}

async function loadFrom(
  json: Json,
  weights: Uint8Array,
): Promise<tfl.LayersModel> {
  const manifest =
    (json.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[])
      .flatMap((g) => g.weights);
  return await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology as Json,
    weightSpecs: manifest,
    weightData: weights.slice().buffer,
  }));
}

// Keras' loss for a softmax output is the cross-entropy of the clipped
// probabilities; for any other output, the output (flattened) is logits.
function endsInSoftmax(model: tfl.LayersModel): boolean {
  const last = model.outputs[0]!.sourceLayer;
  const config = last.getConfig();
  return config.activation === "softmax" || last.getClassName() === "Softmax";
}

function flat(t: tf.Tensor): tf.Tensor2D {
  return tf.reshape(t, [t.shape[0]!, -1]);
}

async function bytesOf(ts: readonly tf.Tensor[]): Promise<Uint8Array> {
  const parts = await Promise.all(
    ts.map((t) => t.data() as Promise<Float32Array>),
  );
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(all.buffer);
}

async function inputsFor(
  item: ChildItem,
  model: tfl.LayersModel,
  seed: number,
): Promise<[tf.Tensor, tf.Tensor2D]> {
  const inShape = [
    item.batch,
    ...(model.inputs[0]!.shape.slice(1) as number[]),
  ];
  const outUnits = (model.outputs[0]!.shape.slice(1) as number[]).reduce(
    (a, b) => a * b,
    1,
  );
  if (item.inputFrom) {
    const x = new Float32Array(
      (await Deno.readFile(`${item.inputFrom}/x.bin`)).buffer,
    );
    const y = new Float32Array(
      (await Deno.readFile(`${item.inputFrom}/y.bin`)).buffer,
    );
    return [tf.tensor(x, inShape), tf.tensor2d(y, [item.batch, outUnits])];
  }
  // The input stream is seeded apart from the weights' (seed + 1).
  const rng = createRng(seed + 1);
  const n = inShape.reduce((a, b) => a * b, 1);
  const [lo, hi] = item.inputRange ?? [0, 1];
  const x = Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
  const y = new Float32Array(item.batch * outUnits);
  for (let b = 0; b < item.batch; b++) y[b * outUnits + rng.int(outUnits)] = 1;
  return [tf.tensor(x, inShape), tf.tensor2d(y, [item.batch, outUnits])];
}

/**
 * The loss and its gradients w.r.t. the trainable weights (in order) and
 * the input, in training mode, by tfjs' own gradient configs.
 */
function gradients(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor2D,
  inference = false,
  r?: tf.Tensor2D,
): { loss: tf.Scalar; grads: tf.Tensor[] } {
  const weights = inference ? model.weights : model.trainableWeights;
  const vars = weights.map((w) => w.read() as tf.Variable);
  const xVar = tf.variable(x, true);
  const softmax = endsInSoftmax(model);
  // tf.variableGrads skips variables marked non-trainable (tfjs-layers'
  // moving statistics): marked trainable for the inference-mode gradients.
  const flags = vars.map((v) => v.trainable);
  vars.forEach((v) => (v.trainable = true));
  const { value, grads } = tf.variableGrads(() => {
    const h = flat(model.apply(xVar, { training: !inference }) as tf.Tensor);
    const loss = r
      ? tf.sum(tf.mul(h, r))
      : softmax
      ? tf.mean(tfl.metrics.categoricalCrossentropy(y, h))
      : tf.losses.softmaxCrossEntropy(y, h);
    // Keras adds the kernel/bias regularizers' penalties to the loss; a
    // loss of `r` is the output's alone (`penalty` reports them).
    if (r) return loss as tf.Scalar;
    return tf.addN([loss, ...model.calculateLosses()]) as tf.Scalar;
  }, [...vars, xVar]);
  vars.forEach((v, i) => (v.trainable = flags[i]!));
  const ordered = [...vars, xVar].map((v) => grads[v.name]!);
  xVar.dispose();
  return { loss: value, grads: ordered };
}

/** tfjs-layers' `summary()` lines (default widths). */
function summaryOf(model: tfl.LayersModel): string[] {
  const lines: string[] = [];
  model.summary(undefined, undefined, (line: string) => lines.push(line));
  return lines;
}

// A Sequential's InputLayer only carries the input shape, which Keras and
// simdnet write as the first layer's batch_input_shape instead.
function describeModel(model: tfl.LayersModel, trainModel: tfl.LayersModel) {
  const sequential = model instanceof tfl.Sequential;
  const layers = sequential
    ? model.layers.filter((l) => l.getClassName() !== "InputLayer")
    : model.layers;
  return {
    softmax: endsInSoftmax(model),
    sequential,
    classNames: layers.map((l) => l.getClassName()),
    layerNames: layers.map((l) => l.name),
    configs: layers.map((l) => l.getConfig() as Json),
    inbound: layers.map((l) =>
      l.inboundNodes.flatMap((n) => n.inboundLayers.map((i) => i.name))
    ),
    weightNames: model.weights.map((w) => w.originalName),
    trainable: trainModel.trainableWeights.map((w) => ({
      name: w.originalName,
      shape: w.shape as number[],
    })),
    countParams: model.countParams(),
    summary: summaryOf(model),
  };
}

/**
 * With `item.lossWeights`, the weights `r` (`r.bin`, the flattened
 * output's shape) of the loss `sum(output * r)` that replaces the
 * cross-entropy.
 */
async function lossWeights(
  item: ChildItem,
  y: tf.Tensor2D,
): Promise<tf.Tensor2D | undefined> {
  if (!item.lossWeights) return undefined;
  const r = new Float32Array((await Deno.readFile(`${item.dir}/r.bin`)).buffer);
  return tf.tensor2d(r, [y.shape[0], r.length / y.shape[0]]);
}

/** The sum of the model's regularization penalties, as Keras adds them. */
function penaltyOf(model: tfl.LayersModel): number {
  return tf.tidy(() => {
    const losses = model.calculateLosses();
    return losses.length === 0 ? 0 : tf.addN(losses).dataSync()[0]!;
  });
}

/**
 * The training passes of `item.steps` (the gradients' pass counts as the
 * first when it ran), then every weight to `after.bin`.
 */
async function trainSteps(
  model: tfl.LayersModel,
  x: tf.Tensor,
  steps: number,
  item: ChildItem,
  gradientPasses: number,
): Promise<void> {
  for (let s = gradientPasses > 0 ? 1 : 0; s < steps; s++) {
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
  }
  await Deno.writeFile(
    `${item.dir}/after.bin`,
    await bytesOf(model.weights.map((w) => w.read())),
  );
}

/** The gradient of sum(op(x) * r) at x, by tfjs' registered configs. */
async function opGradient(
  op: (x: tf.Tensor) => tf.Tensor,
  item: OpItem,
): Promise<void> {
  const g = tf.tidy(() =>
    tf.grad((t: tf.Tensor) => {
      const y = op(t);
      const r = tf.tensor(item.r.slice(0, y.size), y.shape);
      return tf.sum(tf.mul(y, r));
    })(tf.tensor(item.x))
  );
  await Deno.writeFile(item.file, await bytesOf([g]));
  g.dispose();
}

/**
 * `ChildItem.onesGammaForUnscaledBatchNorm`: every BatchNormalization of
 * `model` with `scale: false` reads a constant gamma of ones (the same
 * math), which tfjs-layers 4.22's training path needs; throws when the
 * model has no such layer, so that the option never goes stale unnoticed.
 */
function onesGammaForUnscaledBatchNorm(model: tfl.LayersModel): void {
  const unscaled = model.layers.filter((l) =>
    l.getClassName() === "BatchNormalization" && l.getConfig().scale === false
  );
  if (unscaled.length === 0) {
    throw new Error(
      "onesGammaForUnscaledBatchNorm: no BatchNormalization with scale: false; drop the option",
    );
  }
  for (const layer of unscaled) {
    const dim = (layer.outputShape as number[]).at(-1)!;
    Object.assign(layer, { gamma: { read: () => tf.ones([dim]) } });
  }
}

async function reference(
  item: ChildItem,
  specs: readonly ReferenceSpec[],
): Promise<void> {
  if (item.build !== undefined) await buildAndSave(item, specs);
  const json = JSON.parse(
    await Deno.readTextFile(`${item.dir}/model.json`),
  ) as Json;
  const weights = await Deno.readFile(`${item.dir}/weights.bin`);
  const model = await loadFrom(json, weights);
  const trainModel = await loadFrom(withoutDropout(json), weights);
  if (item.onesGammaForUnscaledBatchNorm) {
    onesGammaForUnscaledBatchNorm(model);
    onesGammaForUnscaledBatchNorm(trainModel);
  }
  const [x, y] = await inputsFor(item, model, item.seed);
  const out = model.predict(x) as tf.Tensor;
  const { loss, grads } = item.gradients === false
    ? { loss: tf.scalar(NaN), grads: [] }
    : item.inferenceGradients
    ? gradients(model, x, y, true)
    : gradients(trainModel, x, y, false, await lossWeights(item, y));
  await Deno.writeFile(`${item.dir}/x.bin`, await bytesOf([x]));
  await Deno.writeFile(`${item.dir}/y.bin`, await bytesOf([y]));
  await Deno.writeFile(`${item.dir}/out.bin`, await bytesOf([out]));
  await Deno.writeFile(`${item.dir}/grads.bin`, await bytesOf(grads));
  if (item.resave) {
    await Deno.mkdir(`${item.dir}/resaved`, { recursive: true });
    await saveTo(model, `${item.dir}/resaved`);
  }
  const steps = item.steps ?? 0;
  if (steps > 0) await trainSteps(trainModel, x, steps, item, grads.length);
  const info: RefInfo = {
    inputShape: x.shape,
    outputShape: out.shape,
    loss: (await loss.data())[0]!,
    gradients: item.gradients !== false,
    ...describeModel(model, trainModel),
    weightShapes: model.weights.map((w) => w.shape as number[]),
    penalty: penaltyOf(trainModel),
    steps,
    gradWeights: item.inferenceGradients
      ? model.weights.map((w) => ({
        name: w.originalName,
        shape: w.shape as number[],
      }))
      : undefined,
  };
  await Deno.writeTextFile(`${item.dir}/ref.json`, JSON.stringify(info));
  tf.dispose([x, y, out, loss, ...grads]);
  model.dispose();
  trainModel.dispose();
}

async function run(job: ChildJob): Promise<void> {
  const module = await import(job.module) as Record<string, unknown>;
  const specs = job.specs.flatMap((name) =>
    (module[name] ?? []) as ReferenceSpec[]
  );
  for (const item of job.items) {
    try {
      await reference(item, specs);
    } catch (error) {
      // One broken spec must not hide the others' results.
      await Deno.writeTextFile(
        `${item.dir}/error.txt`,
        (error as Error).stack ?? String(error),
      );
    }
  }
  for (const item of job.ops ?? []) {
    try {
      const table = module[item.table] as
        | Record<string, (x: tf.Tensor) => tf.Tensor>
        | undefined;
      const op = table?.[item.op];
      if (!op) throw new Error(`no op '${item.op}' in '${item.table}'`);
      await opGradient(op, item);
    } catch (error) {
      await Deno.writeTextFile(
        `${item.file}.error.txt`,
        (error as Error).stack ?? String(error),
      );
    }
  }
}

async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
}

if (import.meta.main) {
  tf.enableProdMode(); // no per-op debug checks, no "running in Node" banner
  await tf.setBackend("cpu");
  // tfjs-core's npm entry registers no gradients and simdnet none of
  // these: they are here only if tfjs-layers' bundle put tfjs' own in force.
  const missing = TFJS_ONLY_GRADIENTS.filter((k) => !tf.getGradient(k));
  if (missing.length > 0) {
    throw new Error(
      `no tfjs gradient for ${missing}: the reference would not be tfjs' math`,
    );
  }
  const out = Deno.stdout.writable.getWriter();
  const say = (o: unknown) =>
    out.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    try {
      await run(JSON.parse(line) as ChildJob);
      await say({ ok: true });
    } catch (error) {
      await say({ ok: false, error: (error as Error).stack ?? String(error) });
    }
  }
}
