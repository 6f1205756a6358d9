/**
 * Keras' activation strings on Dense and Conv2D against tfjs-layers 4.22
 * (the child-process harness, `_tfl_conformance.ts`: cpu backend, tfjs'
 * own gradient configs), and the gradients of gradients_activations.ts
 * against finite differences and tfjs' configs (computed in the same
 * child); simdnet on cpu and on wasm at 1 and 2 threads.
 *
 * The child imports this module for its tables, so the top level only
 * builds tables (seeded, the same in both processes): the runtime starts
 * inside the tests.
 */

import * as tf from "@tensorflow/tfjs-core";
import type * as Tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import {
  activationFromConfig,
  activationNames,
  checkActivation,
  splitActivation,
} from "../src/nn/activations.ts";
import { ModelFormatError } from "../src/nn/config_values.ts";
import { Dense } from "../src/nn/dense.ts";
import { layerFromConfig } from "../src/nn/layer_config.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { createRng } from "../src/util/random.ts";
import {
  type Case,
  onEachTarget,
  randomValues,
  relErr,
  rngFor,
  runOurs,
} from "./_layer_run.ts";
import {
  type ReferenceSpec,
  spec,
  TFJS_ONLY_GRADIENTS,
  TflReference,
} from "./_tfl_reference.ts";
import { runConformance } from "./_tfl_conformance.ts";
import { tfjsOpGradients } from "./_tfl_ops.ts";

/** tfjs-layers' name for each activation it has (it lacks the others). */
const TFJS_NAMES = [
  "linear",
  "relu",
  "relu6",
  "elu",
  "selu",
  "gelu",
  "swish",
  "sigmoid",
  "tanh",
  "softmax",
  "softplus",
  "softsign",
  "mish",
] as const;

/** Double-precision formulas for the activations tfjs-layers lacks. */
const FORMULA: Record<string, (x: number) => number> = {
  exponential: Math.exp,
  leaky_relu: (x) => (x > 0 ? x : 0.2 * x),
};

/**
 * Dense and Conv2D ('same', any kernel up to 3x3) with each activation, on
 * random shapes drawn from a fixed seed (the child draws the same).
 */
function activationSpecs(seed: number): ReferenceSpec[] {
  const rng = createRng(seed);
  const out: ReferenceSpec[] = [];
  TFJS_NAMES.forEach((activation, i) => {
    const inF = 2 + rng.int(6), units = 2 + rng.int(6);
    out.push(spec(
      `Dense ${units} ${activation} on ${inF}`,
      (L) => L.layers.dense({ units, activation }),
      [inF],
      seed + 2 * i,
    ));
    const h = 3 + rng.int(5), w = 3 + rng.int(5), c = 1 + rng.int(4);
    const filters = 1 + rng.int(5), k = 1 + rng.int(3);
    const conv = (L: typeof Tfl) =>
      L.layers.conv2d({ filters, kernelSize: k, padding: "same", activation });
    // A softmax over each pixel's channels is not the logits of one
    // cross-entropy over the flattened image (the harness' loss for a
    // softmax output is Keras' of the probabilities, simdnet's the logits'
    // before the softmax): a Dense head puts it inside the network instead.
    out.push(spec(
      `Conv2D ${filters} ${k}x${k} same ${activation} on ${h}x${w}x${c}`,
      activation === "softmax"
        ? (L) =>
          L.sequential({
            layers: [
              L.layers.inputLayer({ inputShape: [h, w, c] }),
              conv(L),
              L.layers.flatten(),
              L.layers.dense({ units: 3 }),
            ],
          })
        : conv,
      [h, w, c],
      seed + 2 * i + 1,
    ));
  });
  return out;
}

/** The conformance table of this file. */
export const ACTIVATION_SPECS: ReferenceSpec[] = activationSpecs(100);

// The tolerances and floors of layers_reference_test.ts, whose comment has
// the measurements behind them.
const OUTPUT_TOLERANCE = [1e-4, 2e-2] as const;
const GRAD_TOLERANCE = [1e-3, 2e-2] as const;

/** Ops whose gradient configs simdnet writes, one tensor in, one out. */
export const OPS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  Elu: (x) => tf.elu(x),
  Selu: (x) => tf.selu(x),
  Softplus: (x) => tf.softplus(x),
  Erf: (x) => tf.erf(x),
  // The condition is read off the values: tfjs has no gradient for
  // Greater, and the condition has none to give.
  Select: (x) =>
    tf.where(
      tf.tensor(Array.from(x.dataSync(), (v) => v > 0.1), x.shape, "bool"),
      tf.mul(x, 3),
      tf.square(x),
    ),
  Relu6: (x) => tf.relu6(tf.mul(x, 4)),
  LeakyRelu: (x) => tf.leakyRelu(x, 0.25),
  Sigmoid: (x) => tf.sigmoid(x),
  Tanh: (x) => tf.tanh(x),
  PadV2: (x) => tf.pad(tf.reshape(x, [4, 5]), [[1, 2], [0, 3]]),
  Rsqrt: (x) => tf.rsqrt(tf.add(tf.abs(x), 0.5)),
};

const OP_RNG = rngFor(77);
// Points kept away from the kinks (0, 0.1, 1.5 = 6 / 4) where the
// one-sided slopes differ.
const OP_X = randomValues(OP_RNG, 20, -2, 2).map((v) =>
  [0, 0.1, 1.5, -1.5].some((k) => Math.abs(v - k) < 0.05) ? v + 0.2 : v
);
// Enough weights for the largest output (PadV2's 7 x 8).
const OP_R = randomValues(OP_RNG, 56);

const BN_RNG = rngFor(78);
const BN_SHAPE = [2, 3, 2, 4];
const BN_N = 48;
const BN_PARTS = {
  x: randomValues(BN_RNG, BN_N),
  mean: randomValues(BN_RNG, 4),
  variance: randomValues(BN_RNG, 4, 0.5, 2),
  scale: randomValues(BN_RNG, 4, 0.5, 1.5),
  offset: randomValues(BN_RNG, 4),
};
const BN_R = randomValues(BN_RNG, BN_N);
type BnPart = keyof typeof BN_PARTS;
const BN_KEYS = Object.keys(BN_PARTS) as BnPart[];

/** FusedBatchNorm as a function of each of its five inputs in turn. */
export const BN_OPS: Record<string, (t: tf.Tensor) => tf.Tensor> = Object
  .fromEntries(BN_KEYS.map((key) => [key, (t: tf.Tensor) => {
    const get = (k: BnPart) => k === key ? t : tf.tensor(BN_PARTS[k]);
    return tf.batchNorm(
      tf.reshape(get("x"), BN_SHAPE),
      get("mean") as tf.Tensor1D,
      get("variance") as tf.Tensor1D,
      get("offset") as tf.Tensor1D,
      get("scale") as tf.Tensor1D,
      1e-3,
    );
  }]));

function denseCase(seed: number, training = false): Case {
  const rng = rngFor(seed);
  const batch = 2 + rng.int(4), inF = 2 + rng.int(6), units = 2 + rng.int(6);
  return {
    x: randomValues(rng, batch * inF, -2, 2),
    xShape: [batch, inF],
    weights: [randomValues(rng, inF * units), randomValues(rng, units)],
    r: randomValues(rng, batch * units),
    training,
  };
}

Deno.test("activations: simdnet's gradient configs are the registered ones; tfjs' own never enter the test process", async () => {
  await initRuntime({ backend: "wasm", threads: 2 });
  for (
    const k of ["Elu", "Selu", "Softplus", "Erf", "Select", "FusedBatchNorm"]
  ) {
    // tfjs-core's npm entry registers none: these are simdnet's.
    assert.ok(tf.getGradient(k), `${k}: simdnet registered no config`);
  }
  // Configs only tfjs-layers' bundle registers: absent, so it never loaded.
  for (const k of TFJS_ONLY_GRADIENTS) {
    assert.equal(tf.getGradient(k), undefined, `${k}: tfjs' config is here`);
  }
});

/**
 * Checks simdnet's registered gradient of each op in `table` against
 * finite differences and tfjs' config (`theirs`, from the child), on
 * each target.
 */
async function checkOps(
  table: Record<string, (x: tf.Tensor) => tf.Tensor>,
  input: (name: string) => Float32Array,
  r: Float32Array,
  theirs: Float32Array[],
  tfjsTol: number,
): Promise<void> {
  const names = Object.keys(table);
  for (const [i, name] of names.entries()) {
    const op = table[name]!, x = input(name);
    await tf.setBackend("cpu");
    const fd = finiteDiff(op, x, r, 1e-2);
    const ref = theirs[i]!;
    await onEachTarget((target) => {
      const got = tapeGrad(op, x, r);
      assert.ok(relErr(got, fd) < 2e-3, `${name} on ${target} vs differences`);
      assert.ok(relErr(got, ref) < tfjsTol, `${name} on ${target} vs tfjs`);
    });
  }
}

Deno.test("activations: Dense and Conv2D with each activation match tfjs-layers; each op's gradient matches finite differences and tfjs' own config; on cpu and wasm at 1 and 2 threads", async (t) => {
  await initRuntime({ backend: "wasm", threads: 2 });
  const child = TflReference.start();
  try {
    await runConformance(t, {
      module: import.meta.url,
      groups: [
        { name: "ACTIVATION_SPECS", specs: ACTIVATION_SPECS, mustLoad: true },
      ],
      batch: 3,
      output: OUTPUT_TOLERANCE,
      grad: GRAD_TOLERANCE,
      cpu: true,
      child,
    });
    const opItems = Object.keys(OPS).map((op) => ({
      table: "OPS",
      op,
      x: [...OP_X],
      r: [...OP_R],
    }));
    const bnItems = BN_KEYS.map((op) => ({
      table: "BN_OPS",
      op,
      x: [...BN_PARTS[op]],
      r: [...BN_R],
    }));
    const theirs = await tfjsOpGradients(child, import.meta.url, [
      ...opItems,
      ...bnItems,
    ]);
    await t.step(
      "each op's gradient: finite differences and tfjs",
      () =>
        checkOps(OPS, () => OP_X, OP_R, theirs.slice(0, opItems.length), 1e-5),
    );
    await t.step(
      "FusedBatchNorm's gradient for x, mean, variance, scale and offset: finite differences and tfjs",
      () =>
        checkOps(
          BN_OPS,
          (k) => BN_PARTS[k as BnPart],
          BN_R,
          theirs.slice(opItems.length),
          1e-4,
        ),
    );
  } finally {
    await child.close();
  }
});

Deno.test("activations: exponential and leaky_relu (no tfjs-layers string) match Keras' formula, gradients by finite differences", async () => {
  await initRuntime({ backend: "wasm", threads: 2 });
  for (const [name, f] of Object.entries(FORMULA)) {
    const c = denseCase(name.length + 300);
    const units = c.weights[1]!.length;
    const inF = c.xShape[1]!;
    // The pre-activation in double precision, then the formula.
    const z = new Float64Array(c.r.length);
    for (let b = 0; b < c.xShape[0]!; b++) {
      for (let u = 0; u < units; u++) {
        let s = c.weights[1]![u]!;
        for (let i = 0; i < inF; i++) {
          s += c.x[b * inF + i]! * c.weights[0]![i * units + u]!;
        }
        z[b * units + u] = s;
      }
    }
    const h = 1e-4;
    await onEachTarget((target) => {
      const got = runOurs([new Dense({ units, activation: name })], c);
      const y = Array.from(z, f);
      assert.ok(relErr(got.y, y) < 1e-5, `${name} on ${target}: output`);
      // d loss / d bias[u] = sum_b r * f'(z), by central differences.
      const db = new Float64Array(units);
      z.forEach((v, i) => {
        db[i % units]! += c.r[i]! * (f(v + h) - f(v - h)) / (2 * h);
      });
      assert.ok(relErr(got.dw[1]!, db) < 1e-4, `${name} on ${target}: grad`);
    });
  }
});

/** Central differences of sum(op(x) * r) in float64 over float32 ops. */
function finiteDiff(
  op: (x: tf.Tensor) => tf.Tensor,
  x: Float32Array,
  r: Float32Array,
  h: number,
): Float64Array {
  const loss = (v: Float32Array) =>
    tf.tidy(() => {
      const y = op(tf.tensor(v));
      return tf.sum(tf.mul(y, tf.tensor(r.subarray(0, y.size), y.shape)))
        .dataSync()[0]!;
    });
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const p = x.slice(), m = x.slice();
    p[i]! += h;
    m[i]! -= h;
    g[i] = (loss(p) - loss(m)) / (2 * h);
  }
  return g;
}

/** The registered gradient of sum(op(x) * r) at x. */
function tapeGrad(
  op: (x: tf.Tensor) => tf.Tensor,
  x: Float32Array,
  r: Float32Array,
): Float32Array {
  return tf.tidy(() =>
    tf.grad((t: tf.Tensor) => {
      const y = op(t);
      return tf.sum(tf.mul(y, tf.tensor(r.subarray(0, y.size), y.shape)));
    })(
      tf.tensor(x),
    ).dataSync().slice() as Float32Array
  );
}

Deno.test("activations: silu reads as swish, fused where the backend's kernels have the epilogue (wasm: relu only), softmax skipped for logits", async () => {
  await initRuntime({ backend: "wasm", threads: 2 });
  assert.equal(checkActivation("silu"), "swish");
  assert.deepEqual(splitActivation("relu"), { fused: "relu", after: null });
  assert.deepEqual(splitActivation("gelu"), { fused: "linear", after: "gelu" });
  // relu6, sigmoid and elu fuse off wasm (the cpu runs of the Dense and
  // Conv2D tests cover that path), not on simdnet's threaded wasm kernels.
  for (const name of ["relu6", "sigmoid", "elu"]) {
    assert.deepEqual(splitActivation(name, false, "cpu"), {
      fused: name,
      after: null,
    });
    assert.deepEqual(splitActivation(name, false, "wasm"), {
      fused: "linear",
      after: name,
    });
  }
  assert.deepEqual(splitActivation("softmax", true), {
    fused: "linear",
    after: null,
  });
  assert.equal(
    activationFromConfig({ class_name: "gelu", config: {} }, "l"),
    "gelu",
  );
  const dense = layerFromConfig("Dense", {
    name: "d",
    units: 3,
    activation: "silu",
  }) as Dense;
  assert.equal(dense.config().activation, "swish");
});

Deno.test("activations: an unknown name is one line listing the known ones (RangeError in code, ModelFormatError in a file)", () => {
  assert.throws(
    () => new Dense({ units: 2, activation: "hard_sigmoid" }),
    (e: Error) =>
      e instanceof RangeError && !e.message.includes("\n") &&
      activationNames().every((n) => e.message.includes(n)),
  );
  assert.throws(
    () =>
      layerFromConfig("Conv2D", {
        name: "c",
        filters: 2,
        kernel_size: 3,
        activation: "crelu",
      }),
    (e: Error) =>
      e instanceof ModelFormatError && /layer 'c' \(Conv2D\)/.test(e.message) &&
      e.message.includes("crelu") && e.message.includes("gelu"),
  );
});
