/**
 * Keras' activation strings: one table from each name to how simdnet
 * applies it, and which ones the fused convolution and matmul kernels run
 * in their epilogue.
 *
 * Where Keras versions and tfjs-layers 4.22 disagree, simdnet follows Keras:
 *
 * - `gelu` is Keras' default `approximate=False` form, `x * Φ(x)` with the
 *   exact `erf` (tfjs-layers' `gelu` computes the same; its `gelu_new` is the
 *   tanh approximation, which Keras has no string for).
 * - `silu` (Keras 3's name) and `swish` (Keras 2's and tfjs-layers') are one
 *   function, `x * sigmoid(x)`; simdnet writes `swish`, which all three read.
 * - `leaky_relu` is Keras' activation function, slope 0.2 (the `LeakyReLU`
 *   layer's default is 0.3); tfjs-layers has no such string.
 * - `hard_sigmoid` is left out on purpose: Keras 2 and tfjs-layers compute
 *   `clip(0.2 x + 0.5, 0, 1)`, Keras 3 `relu6(x + 3) / 6`, so a file naming
 *   it does not say which one it means.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { GELU } from "../kernels/custom_kernels.ts";
import { activationName, describe, ModelFormatError } from "./config_values.ts";
import type { FusedActivation } from "./fused.ts";

/** How one activation runs. */
interface ActivationEntry {
  /** The activation as tfjs ops, on the last axis for `softmax`. */
  apply: (x: tf.Tensor) => tf.Tensor;
  /**
   * The epilogue of the fused conv/matmul kernel that computes it on every
   * backend, or null when it runs as a separate op after a linear fused
   * kernel.
   */
  fused: FusedActivation | null;
  /** The epilogue that fuses it on backends other than `wasm`. */
  fusedOffWasm?: FusedActivation;
}

// Which epilogues to fuse. tfjs' stock FusedConv2D and _FusedMatMul
// kernels (cpu, webgpu, tfjs wasm/XNNPACK) take linear, relu, relu6,
// sigmoid, elu, leakyrelu and prelu, and gradients_nn.ts differentiates
// all but prelu from the fused output. simdnet's threaded wasm kernels
// (src/kernels/conv2d.ts, matmul.ts), which replace the stock ones on
// `wasm`, fuse only linear and relu and hand anything else to the
// single-threaded stock kernel; so on wasm relu6, sigmoid and elu run as a
// separate element-wise op after our threaded linear kernel, which keeps
// the convolution on the thread pool, and elsewhere they are fused. When
// the wasm kernels learn more epilogues, move them to `fused`.
const SQRT_HALF = Math.SQRT1_2;
const TABLE: Readonly<Record<string, ActivationEntry>> = Object.freeze({
  linear: { apply: (x) => x, fused: "linear" },
  relu: { apply: (x) => tf.relu(x), fused: "relu" },
  relu6: { apply: (x) => tf.relu6(x), fused: null, fusedOffWasm: "relu6" },
  elu: { apply: (x) => tf.elu(x), fused: null, fusedOffWasm: "elu" },
  selu: { apply: (x) => tf.selu(x), fused: null },
  gelu: {
    // One pass forward and back where simdnet's kernel runs (wasm), the
    // same float32 results forward; the composite elsewhere.
    apply: (x) =>
      tf.getKernel(GELU, tf.getBackend()) && x.dtype === "float32"
        ? tf.engine().runKernel(GELU, { x }) as tf.Tensor
        : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT_HALF)))),
    fused: null,
  },
  swish: { apply: (x) => tf.mul(x, tf.sigmoid(x)), fused: null },
  sigmoid: {
    apply: (x) => tf.sigmoid(x),
    fused: null,
    fusedOffWasm: "sigmoid",
  },
  tanh: { apply: (x) => tf.tanh(x), fused: null },
  softmax: { apply: (x) => tf.softmax(x), fused: null },
  softplus: { apply: (x) => tf.softplus(x), fused: null },
  softsign: {
    apply: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
    fused: null,
  },
  mish: { apply: (x) => tf.mul(x, tf.tanh(tf.softplus(x))), fused: null },
  exponential: { apply: (x) => tf.exp(x), fused: null },
  leaky_relu: { apply: (x) => tf.leakyRelu(x, 0.2), fused: null },
});

/** Other spellings Keras writes for the same function. */
const ALIASES: Readonly<Record<string, string>> = Object.freeze({
  silu: "swish",
});

/** A Keras activation name simdnet runs (after aliases are resolved). */
export type ActivationName = string;

/** The activation names simdnet reads, aliases included. */
export function activationNames(): string[] {
  return [...Object.keys(TABLE), ...Object.keys(ALIASES)];
}

/**
 * The canonical name of a Keras activation (`silu` becomes `swish`), or a
 * RangeError listing the known ones.
 */
export function checkActivation(name: string): ActivationName {
  const canonical = Object.hasOwn(ALIASES, name) ? ALIASES[name]! : name;
  if (!Object.hasOwn(TABLE, canonical)) {
    throw new RangeError(checkMessage(name));
  }
  return canonical;
}

/**
 * Reads an activation from a layer config (a string, the object form
 * `{class_name: "relu"}`, or absent for `linear`); a ModelFormatError
 * naming the layer and the known activations otherwise.
 */
export function activationFromConfig(
  value: unknown,
  where: string,
): ActivationName {
  const name = activationName(value);
  if (typeof name === "string") {
    try {
      return checkActivation(name);
    } catch {
      // Reported below with the layer's name.
    }
  }
  throw new ModelFormatError(
    `${where} has activation ${describe(value)}, which simdnet cannot run; ` +
      `use one of ${activationNames().join(", ")}`,
  );
}

/** Applies activation `name` (canonical, see {@linkcode checkActivation}). */
export function applyActivation(name: ActivationName, x: tf.Tensor): tf.Tensor {
  return entry(name).apply(x);
}

/**
 * Splits activation `name` into what the fused kernel computes and what
 * runs after it: `{fused: "relu", after: null}` for relu,
 * `{fused: "linear", after: "gelu"}` for gelu, on `backend` (default the
 * active one: see the table's note on wasm). With `logits`, a final
 * `softmax` is skipped (`after: null`), as the loss takes logits.
 */
export function splitActivation(
  name: ActivationName,
  logits = false,
  backend: string = tf.getBackend(),
): { fused: FusedActivation; after: ActivationName | null } {
  const e = entry(name);
  if (e.fused !== null) return { fused: e.fused, after: null };
  if (e.fusedOffWasm && backend !== "wasm") {
    return { fused: e.fusedOffWasm, after: null };
  }
  if (name === "softmax" && logits) return { fused: "linear", after: null };
  return { fused: "linear", after: name };
}

/**
 * Runs a fused product (`run`, given the activation its kernel takes) and
 * then whatever part of `name` the kernel could not take: the one way the
 * convolution and dense layers apply their activation.
 */
export function withActivation(
  name: ActivationName,
  logits: boolean | undefined,
  run: (fused: FusedActivation) => tf.Tensor,
): tf.Tensor {
  const { fused, after } = splitActivation(name, logits);
  const y = run(fused);
  return after === null ? y : applyActivation(after, y);
}

function entry(name: ActivationName): ActivationEntry {
  const e = Object.hasOwn(TABLE, name) ? TABLE[name] : undefined;
  if (e === undefined) throw new RangeError(checkMessage(name));
  return e;
}

function checkMessage(name: string): string {
  return `unknown activation ${describe(name)}; use one of ` +
    activationNames().join(", ");
}
