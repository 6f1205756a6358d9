/**
 * The optimizers against independent references: Keras' update formulas
 * computed here in float64 (with a learning rate that changes every step,
 * as a schedule makes it), tfjs-core's own optimizers on the `cpu` backend
 * where one exists (constant rate), hand-computed cases, and simdnet's
 * `wasm` backend at 1 and 2 threads.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import type { NamedWeight } from "../src/nn/layer.ts";
import {
  initRuntime,
  setKernelThreads,
  setSerialBelow,
} from "../src/runtime/init.ts";
import { Adam, AdamW } from "../src/train/adam.ts";
import type { Optimizer } from "../src/train/optimizer.ts";
import {
  makeOptimizer,
  type OptimizerConfig,
} from "../src/train/optimizers.ts";
import { RMSprop } from "../src/train/rmsprop.ts";
import { SGD } from "../src/train/sgd.ts";
import { createRng } from "../src/util/random.ts";

await initRuntime({ backend: "wasm" });
// Small shapes split over the threads too, so they test the splits.
setSerialBelow(0);
const rng = createRng(20261202);
const STEPS = 5;

/** A case: random weight shapes, gradients and per-step rates. */
interface Case {
  shapes: number[][];
  w0: Float64Array[];
  grads: Float64Array[][];
  lrs: number[];
}

function randomCase(constantLr: number | null): Case {
  const shapes = Array.from(
    { length: 1 + rng.int(3) },
    () => Array.from({ length: 1 + rng.int(3) }, () => 1 + rng.int(5)),
  );
  const random = (n: number) =>
    Float64Array.from({ length: n }, () => Math.fround(rng.uniform(-1, 1)));
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return {
    shapes,
    w0: shapes.map((s) => random(size(s))),
    grads: Array.from(
      { length: STEPS },
      () => shapes.map((s) => random(size(s))),
    ),
    lrs: Array.from(
      { length: STEPS },
      () => constantLr ?? Math.fround(0.01 + 0.1 * rng.next()),
    ),
  };
}

function weightsOf(c: Case, prefix: string): NamedWeight[] {
  return c.w0.map((w, i) => ({
    name: `${prefix}${i}/kernel`,
    variable: tf.variable(tf.tensor(Float32Array.from(w), c.shapes[i]!)),
  }));
}

/** Runs simdnet's optimizer of `config` over the case on the current backend. */
async function runOurs(
  c: Case,
  config: OptimizerConfig,
): Promise<Float32Array[]> {
  const weights = weightsOf(c, "layer");
  const opt = makeOptimizer(weights, config);
  for (let s = 0; s < STEPS; s++) {
    opt.learningRate = c.lrs[s]!;
    const g = c.grads[s]!.map((v, i) =>
      tf.tensor(Float32Array.from(v), c.shapes[i]!)
    );
    opt.applyGradients(g);
    tf.dispose(g);
  }
  const out = await Promise.all(
    weights.map(async (w) => (await w.variable.data()) as Float32Array),
  );
  opt.dispose();
  tf.dispose(weights.map((w) => w.variable));
  return out;
}

/** Runs a tfjs-core optimizer over the case on the cpu backend. */
async function runTfjs(c: Case, opt: tf.Optimizer): Promise<Float32Array[]> {
  const weights = weightsOf(c, "tfjs");
  for (let s = 0; s < STEPS; s++) {
    const g: tf.NamedTensorMap = {};
    c.grads[s]!.forEach((v, i) => {
      g[weights[i]!.variable.name] = tf.tensor(
        Float32Array.from(v),
        c.shapes[i]!,
      );
    });
    opt.applyGradients(g);
    tf.dispose(Object.values(g));
  }
  const out = await Promise.all(
    weights.map(async (w) => (await w.variable.data()) as Float32Array),
  );
  opt.dispose();
  tf.dispose(weights.map((w) => w.variable));
  return out;
}

/**
 * Keras' update of one element, in float64: `update(w, g, lr, slots, t)`
 * returns the new weight and mutates `slots`.
 */
type Formula = (
  w: number,
  g: number,
  lr: number,
  slots: number[],
  t: number,
) => number;

function runFormula(
  c: Case,
  formula: Formula,
  wd = 0,
  mult = (_: number) => 1,
): Float64Array[] {
  return c.w0.map((w0, i) => {
    const out = new Float64Array(w0.length);
    for (let k = 0; k < w0.length; k++) {
      let w = w0[k]!;
      const slots = [0, 0, 0];
      for (let s = 0; s < STEPS; s++) {
        const lr = c.lrs[s]! * mult(i);
        w -= w * wd * lr; // Keras 3: decoupled decay before the update.
        w = formula(w, c.grads[s]![i]![k]!, lr, slots, s + 1);
      }
      out[k] = w;
    }
    return out;
  });
}

const sgd = (mu: number, nesterov: boolean): Formula => (w, g, lr, m) => {
  if (mu === 0) return w - lr * g;
  m[0] = mu * m[0]! - lr * g;
  return nesterov ? w + mu * m[0]! - lr * g : w + m[0]!;
};
const rmsprop =
  (rho: number, mu: number, eps: number, centered: boolean): Formula =>
  (w, g, lr, s) => {
    s[0] = rho * s[0]! + (1 - rho) * g * g;
    let d = s[0]!;
    if (centered) {
      s[2] = rho * s[2]! + (1 - rho) * g;
      d -= s[2]! * s[2]!;
    }
    const inc = lr * g / Math.sqrt(d + eps);
    if (mu > 0) {
      s[1] = mu * s[1]! + inc;
      return w - s[1]!;
    }
    return w - inc;
  };
const adam =
  (b1: number, b2: number, eps: number): Formula => (w, g, lr, s, t) => {
    s[0] = b1 * s[0]! + (1 - b1) * g;
    s[1] = b2 * s[1]! + (1 - b2) * g * g;
    const alpha = lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
    return w - alpha * s[0]! / (Math.sqrt(s[1]!) + eps);
  };

function assertClose(
  got: Float32Array[],
  want: ArrayLike<number>[],
  tol: number,
  what: string,
) {
  let err = 0, scale = 1e-3;
  got.forEach((g, i) => {
    for (let k = 0; k < g.length; k++) {
      err = Math.max(err, Math.abs(g[k]! - want[i]![k]!));
      scale = Math.max(scale, Math.abs(want[i]![k]!));
    }
  });
  assert.ok(err / scale <= tol, `${what}: relative error ${err / scale}`);
}

/** Each optimizer config with its Keras formula (and decay, group multiplier). */
const KERAS: Array<[string, OptimizerConfig, Formula, number]> = [
  ["SGD", { kind: "sgd" }, sgd(0, false), 0],
  ["SGD momentum", { kind: "sgd", momentum: 0.9 }, sgd(0.9, false), 0],
  [
    "SGD Nesterov",
    { kind: "sgd", momentum: 0.85, nesterov: true },
    sgd(0.85, true),
    0,
  ],
  [
    "SGD Nesterov, weight decay",
    { kind: "sgd", momentum: 0.9, nesterov: true, weightDecay: 5e-3 },
    sgd(0.9, true),
    5e-3,
  ],
  ["RMSprop", { kind: "rmsprop" }, rmsprop(0.9, 0, 1e-7, false), 0],
  [
    "RMSprop centered, momentum",
    { kind: "rmsprop", rho: 0.8, momentum: 0.5, centered: true, epsilon: 1e-6 },
    rmsprop(0.8, 0.5, 1e-6, true),
    0,
  ],
  [
    "RMSprop centered 2",
    { kind: "rmsprop", rho: 0.9, momentum: 0.6, centered: true, epsilon: 1e-7 },
    rmsprop(0.9, 0.6, 1e-7, true),
    0,
  ],
  ["Adam", { kind: "adam" }, adam(0.9, 0.999, 1e-7), 0],
  [
    "Adam betas",
    { kind: "adam", beta1: 0.8, beta2: 0.99, epsilon: 1e-5 },
    adam(0.8, 0.99, 1e-5),
    0,
  ],
  ["AdamW", { kind: "adamw" }, adam(0.9, 0.999, 1e-7), 0.004],
  [
    "AdamW decay 0.05",
    { kind: "adamw", weightDecay: 0.05 },
    adam(0.9, 0.999, 1e-7),
    0.05,
  ],
];

Deno.test("optimizers: each update matches its Keras formula over steps at changing rates, on cpu and wasm at 1 and 2 threads", async () => {
  for (const [what, config, formula, wd] of KERAS) {
    for (let trial = 0; trial < 3; trial++) {
      const c = randomCase(null);
      const want = runFormula(c, formula, wd);
      await tf.setBackend("cpu");
      assertClose(await runOurs(c, config), want, 2e-5, `${what} cpu`);
      await tf.setBackend("wasm");
      setKernelThreads(1);
      const one = await runOurs(c, config);
      setKernelThreads(2);
      const two = await runOurs(c, config);
      assertClose(one, want, 2e-5, `${what} wasm`);
      assert.deepEqual(two, one, `${what}: wasm at 2 threads differs from 1`);
    }
  }
  await tf.setBackend("cpu");
});

Deno.test("optimizers: match tfjs-core's own optimizers at a constant rate", async () => {
  await tf.setBackend("cpu");
  const cases: Array<[string, OptimizerConfig, () => tf.Optimizer, number]> = [
    ["sgd", { kind: "sgd" }, () => tf.train.sgd(0.05), 1e-6],
    [
      "momentum",
      { kind: "sgd", momentum: 0.9 },
      () => tf.train.momentum(0.05, 0.9),
      1e-5,
    ],
    [
      "nesterov",
      { kind: "sgd", momentum: 0.9, nesterov: true },
      () => tf.train.momentum(0.05, 0.9, true),
      1e-5,
    ],
    // tfjs' float32 RMSprop strays further from the float64 formula
    // (measured: up to 4e-5 plain, 1.6e-4 centered) than simdnet's (1e-7,
    // checked at 2e-5 above), hence the looser bound here.
    [
      "rmsprop",
      { kind: "rmsprop", rho: 0.9, epsilon: 1e-7 },
      () => tf.train.rmsprop(0.05, 0.9, 0, 1e-7, false),
      5e-4,
    ],
    [
      "rmsprop centered",
      {
        kind: "rmsprop",
        rho: 0.9,
        momentum: 0.6,
        centered: true,
        epsilon: 1e-7,
      },
      () => tf.train.rmsprop(0.05, 0.9, 0.6, 1e-7, true),
      5e-4,
    ],
    // tfjs adds epsilon to the bias-corrected sqrt(v), Keras before the
    // correction (1e-7 there moved small steps by 2e-4): compared at an
    // epsilon too small to matter in either.
    [
      "adam",
      { kind: "adam", epsilon: 1e-12 },
      () => tf.train.adam(0.05, 0.9, 0.999, 1e-12),
      1e-5,
    ],
  ];
  for (const [what, config, make, tol] of cases) {
    for (let trial = 0; trial < 3; trial++) {
      const c = randomCase(0.05);
      const ours = await runOurs(c, { ...config, learningRate: 0.05 });
      const theirs = await runTfjs(c, make());
      assertClose(ours, theirs, tol, what);
    }
  }
});

/** One weight [1], gradients `gs` at rates `lrs`; returns the weight after each step. */
function scalarRun(
  make: (w: NamedWeight[]) => Optimizer,
  gs: number[],
  lrs: number[],
): number[] {
  const w = [{ name: "dense/kernel", variable: tf.variable(tf.tensor1d([1])) }];
  const opt = make(w);
  const out = gs.map((g, i) => {
    opt.learningRate = lrs[i]!;
    tf.tidy(() => opt.applyGradients([tf.tensor1d([g])]));
    return w[0]!.variable.dataSync()[0]!;
  });
  opt.dispose();
  w[0]!.variable.dispose();
  return out;
}

Deno.test("optimizers: hand-computed cases", async () => {
  await tf.setBackend("cpu");
  const near = (got: number[], want: number[]) =>
    got.forEach((g, i) =>
      assert.ok(Math.abs(g - want[i]!) < 2e-6, `${got} vs ${want}`)
    );
  // Keras' Nesterov: m = 0.9*0 - 0.1 = -0.1, w = 1 - 0.09 - 0.1 = 0.81;
  // then at lr 0.05: m = -0.09 - 0.05 = -0.14, w = 0.81 - 0.126 - 0.05.
  // (PyTorch's form would give 0.6745 at the second step.)
  near(
    scalarRun((w) => new SGD(w, { momentum: 0.9, nesterov: true }), [1, 1], [
      0.1,
      0.05,
    ]),
    [0.81, 0.634],
  );
  // RMSprop: v = 0.1 * 4 = 0.4; w = 1 - 0.01 * 2 / sqrt(0.4 + 1e-7).
  near(scalarRun((w) => new RMSprop(w), [2], [0.01]), [
    1 - 0.02 / Math.sqrt(0.4000001),
  ]);
  // AdamW: decay 1 - 0.004 * 0.1 = 0.9996, then Adam's first step
  // alpha * m / (sqrt(v) + eps) = 0.1 * 0.05 / (0.0158113883 + 1e-7) * 0.316227766.
  near(scalarRun((w) => new AdamW(w), [0.5], [0.1]), [0.9996 - 0.0999993675]);
  // Plain SGD with decay 0.1 at lr 0.5: w = 1 - 0.05 = 0.95, then - 0.5 * 1.
  near(scalarRun((w) => new SGD(w, { weightDecay: 0.1 }), [1], [0.5]), [0.45]);
});

Deno.test("optimizers: parameter groups scale the rate and set the decay of matching weights", async () => {
  await tf.setBackend("cpu");
  const c = randomCase(null);
  const config: OptimizerConfig = {
    kind: "sgd",
    momentum: 0.9,
    nesterov: true,
    weightDecay: 0.01,
    paramGroups: [{
      match: "^layer0/",
      learningRateMultiplier: 64,
      weightDecay: 0,
    }],
  };
  const got = await runOurs(c, config);
  // Group weights: rate x64, no decay; the others: the optimizer's.
  const inGroup = runFormula(c, sgd(0.9, true), 0, () => 64);
  const rest = runFormula(c, sgd(0.9, true), 0.01);
  assertClose([got[0]!], [inGroup[0]!], 2e-5, "group");
  if (got.length > 1) assertClose(got.slice(1), rest.slice(1), 2e-5, "others");
  assert.throws(
    () => makeOptimizer([], { kind: "sgd", paramGroups: [{ match: "(" }] }),
    /parameter group match '\(' is not a regular expression/,
  );
});

Deno.test("optimizers: state round-trips and continues exactly; another kind's state is refused", async () => {
  await tf.setBackend("cpu");
  for (
    const config of [
      { kind: "sgd", momentum: 0.9, nesterov: true },
      { kind: "rmsprop", momentum: 0.5, centered: true },
      { kind: "adamw" },
    ] as OptimizerConfig[]
  ) {
    const c = randomCase(null);
    const a = weightsOf(c, "a");
    const b = weightsOf(c, "a");
    const optA = makeOptimizer(a, config);
    const step = (opt: Optimizer, s: number) => {
      opt.learningRate = c.lrs[s]!;
      tf.tidy(() =>
        opt.applyGradients(
          c.grads[s]!.map((v, i) =>
            tf.tensor(Float32Array.from(v), c.shapes[i]!)
          ),
        )
      );
    };
    step(optA, 0);
    step(optA, 1);
    const state = await optA.getState();
    assert.equal(state.kind, config.kind);
    assert.equal(state.iterations, 2);
    for (const [i, w] of a.entries()) b[i]!.variable.assign(w.variable);
    const optB = makeOptimizer(b, config);
    optB.setState(state);
    for (let s = 2; s < STEPS; s++) {
      step(optA, s);
      step(optB, s);
    }
    for (const [i, w] of a.entries()) {
      assert.deepEqual(await b[i]!.variable.data(), await w.variable.data());
    }
    const other = new Adam(b);
    assert.throws(
      () => other.setState(state),
      /optimizer state is .*'s, not adam's/,
    );
    [optA, optB, other].forEach((o) => o.dispose());
    tf.dispose([...a, ...b].map((w) => w.variable));
  }
  assert.throws(
    () => new SGD([], { momentum: 1 }),
    /SGD momentum 1 is out of range; it must be in \[0, 1\)/,
  );
  assert.throws(() => new RMSprop([], { rho: -1 }), /RMSprop rho -1/);
  assert.throws(
    () => new AdamW([], { weightDecay: -1 }),
    /AdamW weightDecay -1/,
  );
});

Deno.test("optimizers: Keras-style configs", () => {
  assert.deepEqual(new SGD([], { momentum: 0.9, nesterov: true }).getConfig(), {
    name: "sgd",
    learning_rate: 0.01,
    weight_decay: 0,
    momentum: 0.9,
    nesterov: true,
  });
  const w = new AdamW([]).getConfig();
  assert.equal(w.weight_decay, 0.004);
  assert.equal(w.learning_rate, 0.001);
  assert.equal(new RMSprop([]).getConfig().rho, 0.9);
});
