/**
 * Shared helpers of the functional-model tests: residual networks built
 * with tfjs-layers on random shapes, their artifacts through an
 * IOHandler, and swapping between tfjs' and simdnet's gradient configs.
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { ModelJson } from "../src/nn/model_json.ts";
import type { Rng } from "../src/util/random.ts";

/** Sizes of a random residual network. */
export interface ResNetShape {
  size: number;
  channels: number;
  filters: number;
  classes: number;
}

/** Draws the sizes of a small residual network from `rng`. */
export function randomShape(rng: Rng): ResNetShape {
  return {
    size: 6 + rng.int(5),
    channels: 1 + rng.int(3),
    filters: 3 + rng.int(4),
    classes: 2 + rng.int(4),
  };
}

type Sym = tfl.SymbolicTensor;

function conv(
  filters: number,
  kernelSize: number,
  activation: "relu" | "linear",
) {
  return tfl.layers.conv2d({
    filters,
    kernelSize,
    padding: "same",
    activation,
    biasInitializer: "randomNormal",
  });
}

/**
 * A residual network in tfjs-layers: a stem, three residual blocks
 * (conv-relu, conv, Add with the block input; a max-pooling after the
 * second), a 1x1 branch joined by Concatenate, a gate by Multiply, then
 * Flatten and a softmax Dense.
 */
export function tflResNet(s: ResNetShape): tfl.LayersModel {
  const input = tfl.input({ shape: [s.size, s.size, s.channels] });
  let x = conv(s.filters, 3, "relu").apply(input) as Sym;
  for (let b = 0; b < 3; b++) {
    const h = conv(s.filters, 3, "relu").apply(x) as Sym;
    const y = conv(s.filters, 3, "linear").apply(h) as Sym;
    x = tfl.layers.add().apply([x, y]) as Sym;
    if (b === 1) x = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x) as Sym;
  }
  const branch = conv(s.filters, 1, "relu").apply(x) as Sym;
  x = tfl.layers.concatenate().apply([x, branch]) as Sym;
  const gate = conv(2 * s.filters, 1, "linear").apply(x) as Sym;
  x = tfl.layers.multiply().apply([x, gate]) as Sym;
  x = tfl.layers.flatten().apply(x) as Sym;
  const out = tfl.layers.dense({
    units: s.classes,
    activation: "softmax",
    biasInitializer: "randomNormal",
  }).apply(x) as Sym;
  return tfl.model({ inputs: input, outputs: out });
}

/** What tfjs-layers saves: `model.json` as an object and the weight bytes. */
export interface Saved {
  json: ModelJson;
  weights: Uint8Array;
  names: string[];
}

/** Saves a tfjs-layers model through an IOHandler, as simdnet reads it. */
export async function saveTfl(model: tfl.LayersModel): Promise<Saved> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const a = artifacts!;
  const specs = a.weightSpecs!;
  const json = {
    format: "layers-model",
    generatedBy: a.generatedBy ?? "tfjs-layers",
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: specs }],
  } as unknown as ModelJson;
  const weights = new Uint8Array(
    tf.io.CompositeArrayBuffer.join(a.weightData!),
  );
  return { json, weights, names: specs.map((w) => w.name) };
}

/** Loads artifacts into tfjs-layers through an IOHandler. */
export async function loadTfl(
  json: ModelJson,
  weights: Uint8Array,
): Promise<tfl.LayersModel> {
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  return await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json
      .modelTopology as unknown as tf.io.ModelJSON["modelTopology"],
    weightSpecs: specs,
    weightData: weights.slice().buffer,
  }));
}

/** The gradient configs registered now, for every kernel name tfjs-core exports. */
export function gradientSnapshot(): Map<string, tf.GradConfig> {
  const names = new Set(
    (Object.values(tf) as unknown[]).filter((v): v is string =>
      typeof v === "string"
    ),
  );
  const out = new Map<string, tf.GradConfig>();
  for (const name of names) {
    const g = tf.getGradient(name);
    if (g) out.set(name, g);
  }
  return out;
}

/** Registers the configs of a snapshot, overriding what is there. */
export function useGradients(configs: Map<string, tf.GradConfig>): void {
  for (const g of configs.values()) tf.registerGradient(g);
}

/** Largest absolute difference relative to the largest reference value. */
export function relErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ref[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  if (ref.length !== got.length || Number.isNaN(err)) return Infinity;
  return err / (scale || 1);
}

/** Random inputs and regression targets for a loss. */
export function randomBatch(
  rng: Rng,
  n: number,
  s: ResNetShape,
): { x: Float32Array; t: Float32Array } {
  const x = new Float32Array(n * s.size * s.size * s.channels).map(() =>
    rng.next()
  );
  const t = new Float32Array(n * s.classes).map(() => rng.next());
  return { x, t };
}
