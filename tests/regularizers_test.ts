/**
 * L1, L2 and L1L2 weight regularizers: read from every form tfjs-layers,
 * Keras 2 and Keras 3 write, written as tfjs-layers writes them, and the
 * loss of Conv2D, Dense, DepthwiseConv2D and SeparableConv2D equal to
 * tfjs-layers' own regularization losses (same model.json and weights),
 * with the gradient of Keras' formula, on wasm at 1 and 2 threads.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { DepthwiseConv2D } from "../src/nn/depthwise_conv2d.ts";
import { Flatten } from "../src/nn/flatten.ts";
import type { Layer } from "../src/nn/layer.ts";
import { ModelFormatError, modelFromArtifacts } from "../src/nn/model_io.ts";
import {
  readRegularizer,
  type Regularizer,
  regularizerConfig,
} from "../src/nn/regularizers.ts";
import { SeparableConv2D } from "../src/nn/separable_conv2d.ts";
import { setKernelThreads } from "../src/runtime/init.ts";
import { createRng, type Rng } from "../src/util/random.ts";
import {
  assertMatches,
  type Case,
  initWasm,
  makeCase,
  relErr,
  tflReference,
} from "./_convpool_reference.ts";
import { assertRoundTrip } from "./_convpool_roundtrip.ts";

await initWasm();

const WHAT = "layer 'c' (Conv2D) kernel_regularizer";

Deno.test("regularizers: every writer's form is read", () => {
  const forms: [unknown, Regularizer | null][] = [
    [null, null],
    [undefined, null],
    // tfjs-layers (and Keras 2's L1L2)
    [{ class_name: "L1L2", config: { l1: 0, l2: 0.01 } }, { l1: 0, l2: 0.01 }],
    [{ class_name: "L1L2", config: { l1: 0.5, l2: 0.25 } }, {
      l1: 0.5,
      l2: 0.25,
    }],
    // Keras 2
    [{ class_name: "L2", config: { l2: 0.003 } }, { l1: 0, l2: 0.003 }],
    [{ class_name: "L1", config: { l1: 0.002 } }, { l1: 0.002, l2: 0 }],
    // Keras 3
    [
      {
        module: "keras.regularizers",
        class_name: "L2",
        config: { l2: 0.01 },
        registered_name: null,
      },
      { l1: 0, l2: 0.01 },
    ],
    [
      {
        module: "keras.regularizers",
        class_name: "L1L2",
        config: { l1: 0.001, l2: 0.002 },
        registered_name: null,
      },
      { l1: 0.001, l2: 0.002 },
    ],
    // Keras' defaults for missing keys and identifier strings
    [{ class_name: "L2", config: {} }, { l1: 0, l2: 0.01 }],
    [{ class_name: "L1L2", config: {} }, { l1: 0, l2: 0 }],
    ["l2", { l1: 0, l2: 0.01 }],
    ["l1", { l1: 0.01, l2: 0 }],
  ];
  for (const [form, want] of forms) {
    assert.deepEqual(readRegularizer(form, WHAT), want, JSON.stringify(form));
  }
  assert.deepEqual(regularizerConfig({ l1: 0, l2: 0.01 }), {
    class_name: "L1L2",
    config: { l1: 0, l2: 0.01 },
  });
  assert.equal(regularizerConfig(null), null);
});

Deno.test("regularizers: unknown kinds and bad factors fail in one line naming the setting", () => {
  for (
    const [form, message] of [
      [
        { class_name: "OrthogonalRegularizer", config: { factor: 0.01 } },
        /^layer 'c' \(Conv2D\) kernel_regularizer is .*OrthogonalRegularizer.*; simdnet reads L1, L2 and L1L2 regularizers \(or null\)$/,
      ],
      [
        { class_name: "L2", config: { l2: -1 } },
        /^layer 'c' \(Conv2D\) kernel_regularizer l2 must be a finite number >= 0, got -1$/,
      ],
      [
        { class_name: "L1L2", config: { l1: "0.1" } },
        /kernel_regularizer l1 must be a finite number >= 0, got "0.1"/,
      ],
      ["l3", /kernel_regularizer is "l3"/],
      [{ class_name: "L2", config: [1] }, /config must be an object/],
    ] as const
  ) {
    assert.throws(() => readRegularizer(form, WHAT), (e: Error) => {
      assert.ok(e instanceof ModelFormatError);
      assert.match(e.message, message);
      return true;
    });
  }
});

function randomRegularizer(rng: Rng): Regularizer | null {
  const kind = rng.int(4);
  const f = () => Math.round(rng.next() * 1000) / 10000 + 0.0001;
  return [null, { l1: f(), l2: 0 }, { l1: 0, l2: f() }, {
    l1: f(),
    l2: f(),
  }][kind]!;
}

async function regularizedCases(): Promise<Case[]> {
  const rng = createRng(11);
  const cases: Case[] = [];
  for (let i = 0; i < 8; i++) {
    const r = () => randomRegularizer(rng) ?? { l1: 0.01, l2: 0.02 };
    const layers: [string, Layer[]][] = [
      ["Conv2D", [
        new Conv2D({
          filters: 3,
          kernelSize: 3,
          strides: 2,
          padding: "same",
          kernelRegularizer: r(),
          biasRegularizer: randomRegularizer(rng),
        }),
      ]],
      ["Dense", [
        new Flatten(),
        new Dense({
          units: 4,
          kernelRegularizer: r(),
          biasRegularizer: randomRegularizer(rng),
        }),
      ]],
      ["DepthwiseConv2D", [
        new DepthwiseConv2D({
          kernelSize: 2,
          depthMultiplier: 2,
          depthwiseRegularizer: r(),
          biasRegularizer: randomRegularizer(rng),
        }),
      ]],
      ["SeparableConv2D", [
        new SeparableConv2D({
          filters: 3,
          kernelSize: 3,
          padding: "same",
          depthwiseRegularizer: r(),
          pointwiseRegularizer: randomRegularizer(rng),
          biasRegularizer: randomRegularizer(rng),
        }),
      ]],
    ];
    const [kind, list] = layers[i % 4]!;
    cases.push(await makeCase(`${kind} #${i}`, list, [5, 6, 2], 2, 1100 + i));
  }
  return cases;
}

Deno.test("regularizers: the loss equals tfjs-layers' regularization losses, and model.json round trips", async () => {
  const cases = await regularizedCases();
  const refs = await tflReference(cases);
  cases.forEach((c, i) => {
    const ref = refs[i]!;
    const want: number | null = ref.regLoss;
    assert.ok(want !== null, `${c.label}: tfjs-layers found no loss`);
    for (const got of assertMatches(c, ref)) {
      const loss: number | null = got.regLoss;
      assert.ok(loss !== null);
      const err: number = Math.abs(loss - want) / Math.abs(want);
      assert.ok(err < 1e-5, `${c.label}: ${loss} vs ${want}`);
    }
    assertRoundTrip(c, ref);
  });
});

Deno.test("regularizers: the loss's gradient is l1 * sign(w) + 2 * l2 * w", async () => {
  for (const c of await regularizedCases()) {
    for (const threads of [1, 2]) {
      setKernelThreads(threads);
      const model = modelFromArtifacts(c.json, c.weights);
      const loss = () => {
        const terms = model.layers
          .map((l) => l.regularizationLoss?.() ?? null)
          .filter((t): t is tf.Scalar => t !== null);
        return tf.addN(terms) as tf.Scalar;
      };
      const { value, grads } = tf.variableGrads(loss);
      for (const layer of model.layers) {
        const config = layer.config();
        layer.weights.forEach((w) => {
          const key = w.name.endsWith("/bias")
            ? "bias_regularizer"
            : w.name.endsWith("/depthwise_kernel")
            ? "depthwise_regularizer"
            : w.name.endsWith("/pointwise_kernel")
            ? "pointwise_regularizer"
            : "kernel_regularizer";
          const r = readRegularizer(config[key], key) ?? { l1: 0, l2: 0 };
          const values = w.variable.dataSync();
          const want = values.map((v) => r.l1 * Math.sign(v) + 2 * r.l2 * v);
          const got = grads[w.variable.name];
          if (r.l1 === 0 && r.l2 === 0) {
            assert.ok(!got || got.dataSync().every((v) => v === 0));
            return;
          }
          assert.ok(got, `${c.label}: no gradient for ${w.name}`);
          const err = relErr(got.dataSync(), want);
          assert.ok(err < 1e-5, `${c.label} ${w.name}: ${err}`);
        });
      }
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
    }
  }
});

Deno.test("regularizers: an activity regularizer is refused in one line", async () => {
  const [c] = await regularizedCases();
  const json = structuredClone(c!.json);
  const layers = (json.modelTopology.config as {
    layers: { config: Record<string, unknown> }[];
  }).layers;
  layers[0]!.config.activity_regularizer = {
    class_name: "L1L2",
    config: { l1: 0.01, l2: 0 },
  };
  assert.throws(
    () => modelFromArtifacts(json, c!.weights),
    /^ModelFormatError: .*layer 'conv2d' \(Conv2D\) has activity_regularizer \{.*\}, which simdnet cannot train; set it to null$/,
  );
});

Deno.test("regularizers: a Keras 3 layer config loads and is written back as tfjs-layers writes it", async () => {
  const c = await makeCase(
    "depthwise",
    [new DepthwiseConv2D({ kernelSize: 3 })],
    [5, 5, 2],
    1,
    5,
  );
  const json = structuredClone(c.json);
  const config = (json.modelTopology.config as {
    layers: { config: Record<string, unknown> }[];
  }).layers[0]!.config;
  Object.assign(config, {
    groups: 1,
    depthwise_regularizer: {
      module: "keras.regularizers",
      class_name: "L2",
      config: { l2: 0.004 },
      registered_name: null,
    },
    bias_regularizer: {
      module: "keras.regularizers",
      class_name: "L1",
      config: { l1: 0.002 },
      registered_name: null,
    },
  });
  const model = modelFromArtifacts(json, c.weights);
  const layer = model.layers[0] as DepthwiseConv2D;
  assert.deepEqual(layer.depthwiseRegularizer, { l1: 0, l2: 0.004 });
  assert.deepEqual(layer.biasRegularizer, { l1: 0.002, l2: 0 });
  const written = layer.config();
  assert.deepEqual(written.depthwise_regularizer, {
    class_name: "L1L2",
    config: { l1: 0, l2: 0.004 },
  });
  assert.deepEqual(written.bias_regularizer, {
    class_name: "L1L2",
    config: { l1: 0.002, l2: 0 },
  });
  // The loss is Keras' formula on the loaded weights.
  const [kernel, bias] = layer.weights;
  const k = Array.from(kernel!.variable.dataSync());
  const b = Array.from(bias!.variable.dataSync());
  const want = 0.004 * k.reduce((s, v) => s + v * v, 0) +
    0.002 * b.reduce((s, v) => s + Math.abs(v), 0);
  const loss = layer.regularizationLoss()!;
  assert.ok(Math.abs(loss.dataSync()[0]! - want) <= 1e-6 * Math.abs(want));
  loss.dispose();
  model.dispose();
});
