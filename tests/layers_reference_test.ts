/**
 * Conformance of simdnet's layers and models with `@tensorflow/tfjs-layers`
 * 4.22 on the tfjs `cpu` backend (see `_tfl_reference.ts`): for every spec,
 * the model tfjs-layers builds and saves loads in simdnet and gives the same
 * inference outputs and the same gradients of the categorical cross-entropy
 * w.r.t. every trainable weight and the input, on simdnet's wasm backend at
 * 1 and 2 threads and on webgpu when an adapter exists; and simdnet's saved
 * copy loads back in tfjs-layers with the same class names, configs, weight
 * order and outputs.
 *
 * ADDING A SPEC: one line in {@linkcode SPECS} or {@linkcode LAYER_SPECS}
 * (Sequential: a layer or a `tfl.sequential`) or
 * {@linkcode FUNCTIONAL_SPECS} (`tfl.model`):
 *
 *     spec("name", (L) => L.layers.batchNormalization({}), [6, 6, 3], 17),
 *
 * The builder gets tfjs-layers as `L`; it runs in the child process, which
 * imports this module to find it, so this module must build the same table
 * in both processes and do nothing else at its top level (no runtime start,
 * no probe, no `tfl` import: `L` is the child's). A bare layer is put after
 * an input of the given shape; a whole model ignores the shape. The seed
 * draws the weights (`_tfl_child.ts`: He-uniform scale for kernels, small
 * values for biases, values in [0.5, 1.5] for gammas and variances) and,
 * apart, a batch of {@linkcode BATCH} inputs in [0, 1) and one-hot labels.
 * An output that is not `[batch, units]` is flattened and taken as logits
 * (so a layer needs no head); a softmax output is scored with Keras'
 * cross-entropy of the probabilities. Every spec needs at least two output
 * values, or the loss and all gradients are 0. Dropout runs with rate 0
 * for the gradients (two generators cannot draw the same mask; the last
 * test checks training-mode Dropout against its formula).
 * {@linkcode RANDOM_SPECS} adds layers on random shapes and options. A
 * line simdnet cannot load fails with simdnet's message.
 * A spec whose gradients tfjs cannot compute passes a fifth argument, the
 * reason, and is compared on outputs and the round trip only. The run
 * itself (child, steps, round trip) is `_tfl_conformance.ts`.
 *
 * TOLERANCES. Each value must satisfy |simdnet - tfjs| <= rtol x
 * max(|tfjs|, floor x peak), peak being the tensor's largest magnitude: a
 * value near zero is a sum that cancels and carries the rounding error of
 * its terms, not of its result. Outputs: rtol {@linkcode OUTPUT_RTOL} (the
 * issue's 1e-4), floor {@linkcode OUTPUT_FLOOR}, i.e. an absolute floor of
 * 2e-6 x peak. Gradients: rtol {@linkcode GRAD_RTOL}, floor
 * {@linkcode GRAD_FLOOR} (2e-5 x peak); they are longer float32 sums (over
 * the batch and every position) of products that went through the whole
 * backward pass. Measured on this table (wasm 1 and 2 threads, lavapipe
 * webgpu; 2026-12-02): the largest |simdnet - tfjs| / peak is 1.4e-6 for
 * outputs (the seed CNN; a single 3x3 Conv2D reaches 1.0e-6, Winograd's
 * transforms being less exact than tfjs' direct loops) and 4.1e-6 for
 * gradients (the seed CNN's first kernel: 3 x 1024 positions of terms
 * from four layers up); with the floors the worst ratios are 3.8e-5 for
 * outputs and 1.4e-4 for gradients. With a floor of 1e-3 x peak a bias-free
 * Conv2D output of 2.0e-4 (peak 2.1, error 2.4e-7) failed at 1.1e-4. The
 * round trip (tfjs-layers on simdnet's file against tfjs-layers on its own)
 * must be exact: same weights, same math.
 */

import * as tf from "@tensorflow/tfjs-core";
import type * as Tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { createRng } from "../src/util/random.ts";
import { type ReferenceSpec, spec } from "./_tfl_reference.ts";
import { runConformance } from "./_tfl_conformance.ts";

/** Rows in each input batch. */
export const BATCH = 3;
/** Relative tolerance of inference outputs (issue #13: 1e-4). */
export const OUTPUT_RTOL = 1e-4;
/** Relative tolerance of gradients; see the module comment. */
export const GRAD_RTOL = 1e-3;
/** Absolute floor of outputs, as a fraction of the largest magnitude. */
export const OUTPUT_FLOOR = 2e-2;
/** Absolute floor of gradients, as a fraction of the largest magnitude. */
export const GRAD_FLOOR = 2e-2;

/** Sequential models and single layers simdnet loads today. */
// One spec per line, so that adding a layer is one line: not reformatted.
// deno-fmt-ignore
export const SPECS: ReferenceSpec[] = [
  spec("Conv2D same 3x3 relu", (L) => L.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }), [7, 7, 3], 1),
  spec("Conv2D valid 3x3 linear", (L) => L.layers.conv2d({ filters: 5, kernelSize: 3, padding: "valid" }), [8, 6, 2], 2),
  spec("Conv2D valid 1x1", (L) => L.layers.conv2d({ filters: 3, kernelSize: 1 }), [5, 5, 4], 3),
  spec("Conv2D same 5x5 relu", (L) => L.layers.conv2d({ filters: 6, kernelSize: 5, padding: "same", activation: "relu" }), [9, 9, 3], 4),
  spec("Conv2D same 2x2 even kernel", (L) => L.layers.conv2d({ filters: 3, kernelSize: 2, padding: "same" }), [6, 7, 2], 5),
  spec("Conv2D valid 3x1 relu", (L) => L.layers.conv2d({ filters: 4, kernelSize: [3, 1], activation: "relu" }), [6, 5, 3], 6),
  spec("Conv2D without bias", (L) => L.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false }), [6, 6, 2], 17),
  spec("Dense relu", (L) => L.layers.dense({ units: 7, activation: "relu" }), [12], 7),
  spec("Dense softmax", (L) => L.layers.dense({ units: 5, activation: "softmax" }), [9], 8),
  spec("Dense linear", (L) => L.layers.dense({ units: 4 }), [6], 9),
  spec("MaxPooling2D 2x2", (L) => L.layers.maxPooling2d({ poolSize: 2 }), [8, 8, 3], 10),
  spec("MaxPooling2D odd input", (L) => L.layers.maxPooling2d({ poolSize: 2 }), [7, 9, 2], 11),
  spec("Flatten", (L) => L.layers.flatten(), [4, 3, 2], 12),
  spec("Dropout", (L) => L.layers.dropout({ rate: 0.3 }), [10], 13),
  spec("conv-pool-dense stack", (L) => L.sequential({ layers: [L.layers.conv2d({ inputShape: [10, 10, 3], filters: 4, kernelSize: 3, padding: "same", activation: "relu" }), L.layers.maxPooling2d({ poolSize: 2 }), L.layers.flatten(), L.layers.dense({ units: 6, activation: "softmax" })] }), [10, 10, 3], 14),
  spec("conv-conv-pool-dropout-dense-logits stack", (L) => L.sequential({ layers: [L.layers.conv2d({ inputShape: [9, 9, 2], filters: 5, kernelSize: 3, activation: "relu" }), L.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }), L.layers.maxPooling2d({ poolSize: 2 }), L.layers.dropout({ rate: 0.25 }), L.layers.flatten(), L.layers.dense({ units: 8, activation: "relu" }), L.layers.dense({ units: 3 })] }), [9, 9, 2], 15),
  spec("the seed CNN", (L) => { const conv = (filters: number) => L.layers.conv2d({ filters, kernelSize: 3, padding: "same", activation: "relu" }); return L.sequential({ layers: [L.layers.inputLayer({ inputShape: [32, 32, 3] }), conv(32), conv(32), L.layers.maxPooling2d({ poolSize: 2 }), L.layers.dropout({ rate: 0.25 }), conv(64), conv(64), L.layers.maxPooling2d({ poolSize: 2 }), L.layers.dropout({ rate: 0.25 }), L.layers.flatten(), L.layers.dense({ units: 512, activation: "relu" }), L.layers.dropout({ rate: 0.5 }), L.layers.dense({ units: 10, activation: "softmax" })] }); }, [32, 32, 3], 16),
];

/**
 * Layers on random shapes and options, drawn from a fixed seed so that the
 * child, which imports this module, draws the same ones.
 */
export function randomSpecs(seed: number, count: number): ReferenceSpec[] {
  const rng = createRng(seed);
  const between = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const out: ReferenceSpec[] = [];
  // At least two outputs: a cross-entropy over one class is 0 everywhere.
  for (let i = 0; i < count; i++) {
    const h = between(2, 12), w = between(2, 12), c = between(2, 5);
    const s = seed * 100 + i;
    const kind = i % 3;
    if (kind === 0) {
      const padding = pick(["same", "valid"] as const);
      const k: [number, number] = [
        between(1, Math.min(5, h)),
        between(1, Math.min(5, w)),
      ];
      const config = {
        filters: between(2, 6),
        kernelSize: k,
        padding,
        activation: pick(["relu", "linear"] as const),
        useBias: rng.next() < 0.8,
      };
      out.push(
        spec(
          `random Conv2D ${JSON.stringify(config)} on ${h}x${w}x${c}`,
          (L) => L.layers.conv2d(config),
          [h, w, c],
          s,
        ),
      );
    } else if (kind === 1) {
      const config = {
        units: between(2, 12),
        activation: pick(["relu", "linear", "softmax"] as const),
      };
      const n = between(1, 40);
      out.push(
        spec(
          `random Dense ${JSON.stringify(config)} on ${n}`,
          (L) => L.layers.dense(config),
          [n],
          s,
        ),
      );
    } else {
      const poolSize: [number, number] = [
        between(1, Math.min(3, h)),
        between(1, Math.min(3, w)),
      ];
      out.push(
        spec(
          `random MaxPooling2D ${poolSize} on ${h}x${w}x${c}`,
          (L) => L.layers.maxPooling2d({ poolSize }),
          [h, w, c],
          s,
        ),
      );
    }
  }
  return out;
}

/** The random part of the table: nine layers. */
export const RANDOM_SPECS: ReferenceSpec[] = randomSpecs(20261202, 9);

/**
 * The layers and options of issue #13 (the models beyond the seed CNN).
 * Like every group here, each must load and agree. Left out, for want of a
 * reference in tfjs-layers: a frozen BatchNormalization (`trainable:
 * false`), which Keras 2+ runs in inference mode and tfjs-layers 4.22 does
 * not; `center: false, scale: false`, whose training pass tfjs-layers 4.22
 * cannot run (it reads the missing gamma); and `Normalization`, which
 * tfjs-layers lacks. tests/batch_norm_test.ts and layers_misc_test.ts check
 * those against Keras' formulas and finite differences.
 */
// One spec per line, so that adding a layer is one line: not reformatted.
// deno-fmt-ignore
export const LAYER_SPECS: ReferenceSpec[] = [
  spec("BatchNormalization on images", (L) => L.layers.batchNormalization({}), [5, 5, 3], 51),
  spec("BatchNormalization momentum 0.9 epsilon 1e-2 on features", (L) => L.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-2 }), [7], 52),
  ...(["relu6", "elu", "selu", "gelu", "swish", "sigmoid", "tanh", "softmax", "softplus", "linear"] as const).map((activation, i) =>
    spec(`Activation ${activation}`, (L) => L.layers.activation({ activation }), [11], 60 + i)),
  spec("Dense elu", (L) => L.layers.dense({ units: 5, activation: "elu" }), [8], 71),
  spec("Conv2D swish", (L) => L.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", activation: "swish" }), [6, 6, 2], 72),
  spec("ReLU", (L) => L.layers.reLU({}), [3, 3, 4], 73),
  spec("ReLU max_value 6", (L) => L.layers.reLU({ maxValue: 6 }), [10], 74),
  spec("LeakyReLU alpha 0.2", (L) => L.layers.leakyReLU({ alpha: 0.2 }), [3, 3, 4], 75),
  spec("Conv2D strides 2 same", (L) => L.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "same" }), [9, 8, 3], 76),
  spec("Conv2D strides 2 valid", (L) => L.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2 }), [9, 8, 3], 77),
  spec("DepthwiseConv2D same, multiplier 2", (L) => L.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: "same" }), [7, 7, 3], 79),
  spec("DepthwiseConv2D strides 2 valid relu", (L) => L.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, activation: "relu" }), [9, 9, 4], 80),
  spec("SeparableConv2D", (L) => L.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: "same" }), [7, 7, 3], 81),
  spec("ZeroPadding2D asymmetric", (L) => L.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), [4, 5, 2], 82),
  spec("MaxPooling2D 3x3 strides 2 same", (L) => L.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }), [9, 8, 3], 83),
  spec("AveragePooling2D 2x2", (L) => L.layers.averagePooling2d({ poolSize: 2 }), [8, 6, 3], 84),
  spec("AveragePooling2D 3x3 strides 1 same", (L) => L.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same" }), [6, 7, 2], 85, "tfjs 4.22's AvgPoolGrad divides a border window of a 'same' pool by the full window, its forward pass by the cells inside; pooling_test.ts checks simdnet's gradient against the formula"),
  spec("GlobalAveragePooling2D", (L) => L.layers.globalAveragePooling2d({}), [5, 6, 4], 86),
  spec("GlobalMaxPooling2D", (L) => L.layers.globalMaxPooling2d({}), [5, 6, 4], 87),
  spec("Rescaling", (L) => L.layers.rescaling({ scale: 2, offset: -1 }), [4, 4, 3], 88),
  spec("Dense with L2 kernel and L1 bias regularizers", (L) => L.layers.dense({ units: 4, kernelRegularizer: L.regularizers.l2({ l2: 0.05 }), biasRegularizer: L.regularizers.l1({ l1: 0.02 }) }), [6], 89),
  spec("Conv2D with L1L2 kernel regularizer", (L) => L.layers.conv2d({ filters: 3, kernelSize: 3, kernelRegularizer: L.regularizers.l1l2({ l1: 0.01, l2: 0.02 }) }), [6, 6, 2], 90),
  spec("conv-BN-relu-GAP head", (L) => L.sequential({ layers: [L.layers.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, padding: "same", useBias: false }), L.layers.batchNormalization({}), L.layers.activation({ activation: "relu" }), L.layers.globalAveragePooling2d({}), L.layers.dense({ units: 4, activation: "softmax" })] }), [8, 8, 3], 91),
];

/** Functional models (`tfl.model`, class_name "Functional"/"Model"). */
// deno-fmt-ignore
export const FUNCTIONAL_SPECS: ReferenceSpec[] = [
  spec("residual Add block", (L) => { const x = L.input({ shape: [8, 8, 4] }); const h = L.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }).apply(x) as Tfl.SymbolicTensor; const r = L.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }).apply(h) as Tfl.SymbolicTensor; const s = L.layers.add().apply([x, r]) as Tfl.SymbolicTensor; return L.model({ inputs: x, outputs: L.layers.dense({ units: 5, activation: "softmax" }).apply(L.layers.flatten().apply(s)) as Tfl.SymbolicTensor }); }, [8, 8, 4], 31),
  spec("two-branch Concatenate", (L) => { const x = L.input({ shape: [6, 6, 3] }); const a = L.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", activation: "relu" }).apply(x) as Tfl.SymbolicTensor; const b = L.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(x) as Tfl.SymbolicTensor; const c = L.layers.concatenate().apply([a, b]) as Tfl.SymbolicTensor; return L.model({ inputs: x, outputs: L.layers.dense({ units: 4 }).apply(L.layers.flatten().apply(c)) as Tfl.SymbolicTensor }); }, [6, 6, 3], 32),
  spec("gated Multiply", (L) => { const x = L.input({ shape: [10] }); const a = L.layers.dense({ units: 6, activation: "relu" }).apply(x) as Tfl.SymbolicTensor; const b = L.layers.dense({ units: 6 }).apply(x) as Tfl.SymbolicTensor; const m = L.layers.multiply().apply([a, b]) as Tfl.SymbolicTensor; return L.model({ inputs: x, outputs: L.layers.dense({ units: 3, activation: "softmax" }).apply(m) as Tfl.SymbolicTensor }); }, [10], 33),
  spec("residual block with BatchNormalization and a global pooling head", (L) => { const x = L.input({ shape: [8, 8, 4] }); const conv = (t: Tfl.SymbolicTensor) => L.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", useBias: false }).apply(t) as Tfl.SymbolicTensor; const bn = (t: Tfl.SymbolicTensor) => L.layers.batchNormalization({}).apply(t) as Tfl.SymbolicTensor; const relu = (t: Tfl.SymbolicTensor) => L.layers.activation({ activation: "relu" }).apply(t) as Tfl.SymbolicTensor; const h = bn(conv(relu(bn(conv(x))))); const s = relu(L.layers.add().apply([x, h]) as Tfl.SymbolicTensor); return L.model({ inputs: x, outputs: L.layers.dense({ units: 5, activation: "softmax" }).apply(L.layers.globalAveragePooling2d({}).apply(s)) as Tfl.SymbolicTensor }); }, [8, 8, 4], 34),
];

Deno.test("layers and models agree with tfjs-layers (outputs, gradients, round trip)", async (t) => {
  await initRuntime({ backend: "wasm", threads: 2 });
  const seen = await runConformance(t, {
    module: import.meta.url,
    groups: [
      { name: "SPECS", specs: SPECS, mustLoad: true },
      { name: "RANDOM_SPECS", specs: RANDOM_SPECS, mustLoad: true },
      { name: "LAYER_SPECS", specs: LAYER_SPECS, mustLoad: true },
      { name: "FUNCTIONAL_SPECS", specs: FUNCTIONAL_SPECS, mustLoad: true },
    ],
    batch: BATCH,
    output: [OUTPUT_RTOL, OUTPUT_FLOOR],
    grad: [GRAD_RTOL, GRAD_FLOOR],
  });
  console.log(
    `worst errors: outputs ${seen.output.toExponential(2)}, ` +
      `gradients ${seen.grad.toExponential(2)}`,
  );
});

// tfjs-layers draws its own dropout masks, so training-mode Dropout is
// checked against its formula instead: y = x * m and dL/dx = dL/dy * m with
// m in {0, 1 / (1 - rate)}, and the mask the same at 1 and 2 threads.
Deno.test("Dropout in training mode: output and gradient are the mask's, at 1 and 2 threads", async () => {
  await initRuntime({ backend: "wasm", threads: 2 });
  const rate = 0.3;
  const scale = Math.fround(1 / (1 - rate));
  const rng = createRng(41);
  const n = 4096;
  const xs = Float32Array.from({ length: n }, () => rng.uniform(0.1, 1));
  const up = Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const masks: Float32Array[] = [];
  for (const threads of [1, 2]) {
    assert.equal(setKernelThreads(threads), threads);
    const layer = new Dropout(rate, { name: "dropout" });
    const ctx = { training: true, nextSeed: () => 7 };
    const x = tf.tensor2d(xs, [4, n / 4]);
    const dy = tf.tensor2d(up, [4, n / 4]);
    const y = await layer.apply(x, ctx).data();
    const dx = await tf.grad((v: tf.Tensor) => layer.apply(v, ctx))(x, dy)
      .data();
    const m = Float32Array.from(y, (v, i) => v / xs[i]!);
    for (let i = 0; i < n; i++) {
      const keep = Math.abs(m[i]! - scale) < 1e-6;
      assert.ok(keep || m[i] === 0, `y[${i}] = ${y[i]} for x = ${xs[i]}`);
      assert.ok(Math.abs(dx[i]! - (keep ? scale : 0) * up[i]!) < 1e-6);
    }
    const dropped = m.filter((v) => v === 0).length / n;
    // 4096 draws: the standard deviation of the fraction is 0.007.
    assert.ok(Math.abs(dropped - rate) < 0.03, `dropped ${dropped}`);
    masks.push(m);
    tf.dispose([x, dy]);
  }
  assert.deepEqual(masks[0], masks[1]);
});
