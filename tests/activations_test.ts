/**
 * Keras' activation strings on Dense and Conv2D against tfjs-layers 4.22
 * (cpu backend, tfjs' own gradient configs), and the gradients of
 * gradients_activations.ts against finite differences and tfjs' configs;
 * simdnet on cpu and on wasm at 1 and 2 threads.
 */

import assert from "node:assert/strict";
import {
  activationFromConfig,
  activationNames,
  checkActivation,
  splitActivation,
} from "../src/nn/activations.ts";
import { ModelFormatError } from "../src/nn/config_values.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { layerFromConfig } from "../src/nn/layer_config.ts";
import { initRuntime } from "../src/runtime/init.ts";
import {
  assertClose,
  type Case,
  onEachTarget,
  randomValues,
  registeredIsOurs,
  relErr,
  rngFor,
  runOurs,
  runTheirs,
  tf,
  tfjsGradient,
  tfl,
  withTfjsGradients,
} from "./_layer_reference.ts";

await initRuntime({ backend: "wasm", threads: 2 });

/** tfjs-layers' name for each activation it has (it lacks the others). */
const TFJS_NAME: Record<string, string> = {
  linear: "linear",
  relu: "relu",
  relu6: "relu6",
  elu: "elu",
  selu: "selu",
  gelu: "gelu",
  swish: "swish",
  sigmoid: "sigmoid",
  tanh: "tanh",
  softmax: "softmax",
  softplus: "softplus",
  softsign: "softsign",
  mish: "mish",
};

/** Double-precision formulas for the activations tfjs-layers lacks. */
const FORMULA: Record<string, (x: number) => number> = {
  exponential: Math.exp,
  leaky_relu: (x) => (x > 0 ? x : 0.2 * x),
};

Deno.test("activations: simdnet's gradient configs are the registered ones, tfjs' are swapped in for the reference", () => {
  for (
    const k of ["Elu", "Selu", "Softplus", "Erf", "Select", "FusedBatchNorm"]
  ) {
    assert.ok(registeredIsOurs(k), `${k}: simdnet's config is not in force`);
    assert.ok(tfjsGradient(k), `${k}: tfjs-layers registered no config`);
    withTfjsGradients(() =>
      assert.equal(tf.getGradient(k), tfjsGradient(k), `${k} during reference`)
    );
    assert.ok(registeredIsOurs(k), `${k}: not restored`);
  }
});

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

function convCase(seed: number): Case & { filters: number; k: number } {
  const rng = rngFor(seed);
  const b = 1 + rng.int(3), h = 3 + rng.int(5), w = 3 + rng.int(5);
  const c = 1 + rng.int(4), filters = 1 + rng.int(5), k = 1 + rng.int(3);
  return {
    x: randomValues(rng, b * h * w * c),
    xShape: [b, h, w, c],
    weights: [
      randomValues(rng, k * k * c * filters),
      randomValues(rng, filters),
    ],
    r: randomValues(rng, b * h * w * filters),
    training: false,
    filters,
    k,
  };
}

Deno.test("activations: Dense with each activation matches tfjs-layers (outputs and gradients) on cpu and wasm at 1 and 2 threads", async () => {
  let seed = 100;
  for (const [name, theirName] of Object.entries(TFJS_NAME)) {
    const c = denseCase(seed++);
    const units = c.weights[1]!.length;
    const want = await runTheirs(
      () =>
        tfl.layers.dense({
          units,
          activation: theirName as "relu",
        }),
      c,
    );
    await onEachTarget((target) => {
      const got = runOurs([new Dense({ units, activation: name })], c);
      assertClose(got, want, 1e-4, `Dense ${name} on ${target}`);
    });
  }
});

Deno.test("activations: Conv2D with each activation matches tfjs-layers (same padding, random shapes) on cpu and wasm at 1 and 2 threads", async () => {
  let seed = 200;
  for (const [name, theirName] of Object.entries(TFJS_NAME)) {
    const c = convCase(seed++);
    const want = await runTheirs(
      () =>
        tfl.layers.conv2d({
          filters: c.filters,
          kernelSize: c.k,
          padding: "same",
          activation: theirName as "relu",
        }),
      c,
    );
    await onEachTarget((target) => {
      const got = runOurs([
        new Conv2D({
          filters: c.filters,
          kernelSize: c.k,
          padding: "same",
          activation: name,
        }),
      ], c);
      assertClose(got, want, 1e-4, `Conv2D ${name} on ${target}`);
    });
  }
});

Deno.test("activations: exponential and leaky_relu (no tfjs-layers string) match Keras' formula, gradients by finite differences", async () => {
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

const OPS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  Elu: (x) => tf.elu(x),
  Selu: (x) => tf.selu(x),
  Softplus: (x) => tf.softplus(x),
  Erf: (x) => tf.erf(x),
  Select: (x) => tf.where(tf.greater(x, 0.1), tf.mul(x, 3), tf.square(x)),
  Relu6: (x) => tf.relu6(tf.mul(x, 4)),
  LeakyRelu: (x) => tf.leakyRelu(x, 0.25),
  Sigmoid: (x) => tf.sigmoid(x),
  Tanh: (x) => tf.tanh(x),
  PadV2: (x) => tf.pad(tf.reshape(x, [4, 5]), [[1, 2], [0, 3]]),
  Rsqrt: (x) => tf.rsqrt(tf.add(tf.abs(x), 0.5)),
};

Deno.test("activations: each op's gradient matches finite differences and tfjs' own config, on cpu and wasm at 1 and 2 threads", async () => {
  const rng = rngFor(77);
  // Points kept away from the kinks (0, 0.1, 1.5 = 6 / 4) where the
  // one-sided slopes differ.
  const x = randomValues(rng, 20, -2, 2).map((v) =>
    [0, 0.1, 1.5, -1.5].some((k) => Math.abs(v - k) < 0.05) ? v + 0.2 : v
  );
  // Enough weights for the largest output (PadV2's 7 x 8).
  const r = randomValues(rng, 56);
  for (const [name, op] of Object.entries(OPS)) {
    await tf.setBackend("cpu");
    const fd = finiteDiff(op, x, r, 1e-2);
    const ref = withTfjsGradients(() => tapeGrad(op, x, r));
    await onEachTarget((target) => {
      const got = tapeGrad(op, x, r);
      assert.ok(relErr(got, fd) < 2e-3, `${name} on ${target} vs differences`);
      assert.ok(relErr(got, ref) < 1e-5, `${name} on ${target} vs tfjs`);
    });
  }
});

Deno.test("activations: FusedBatchNorm's gradient for x, mean, variance, scale and offset matches tfjs' and finite differences", async () => {
  const rng = rngFor(78);
  const shape = [2, 3, 2, 4];
  const n = 48;
  const parts = {
    x: randomValues(rng, n),
    mean: randomValues(rng, 4),
    variance: randomValues(rng, 4, 0.5, 2),
    scale: randomValues(rng, 4, 0.5, 1.5),
    offset: randomValues(rng, 4),
  };
  const r = randomValues(rng, n);
  const keys = Object.keys(parts) as (keyof typeof parts)[];
  for (const key of keys) {
    const op = (t: tf.Tensor) => {
      const get = (k: keyof typeof parts) =>
        k === key ? t : tf.tensor(parts[k]);
      return tf.batchNorm(
        tf.reshape(get("x"), shape),
        get("mean") as tf.Tensor1D,
        get("variance") as tf.Tensor1D,
        get("offset") as tf.Tensor1D,
        get("scale") as tf.Tensor1D,
        1e-3,
      );
    };
    await tf.setBackend("cpu");
    const fd = finiteDiff(op, parts[key], r, 1e-2);
    const ref = withTfjsGradients(() => tapeGrad(op, parts[key], r));
    await onEachTarget((target) => {
      const got = tapeGrad(op, parts[key], r);
      assert.ok(relErr(got, fd) < 2e-3, `${key} on ${target} vs differences`);
      assert.ok(relErr(got, ref) < 1e-4, `${key} on ${target} vs tfjs`);
    });
  }
});

Deno.test("activations: silu reads as swish, fused where the backend's kernels have the epilogue (wasm: relu only), softmax skipped for logits", () => {
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
