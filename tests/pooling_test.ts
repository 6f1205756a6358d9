/**
 * MaxPooling2D and AveragePooling2D (any pool size, strides and padding),
 * GlobalAveragePooling2D and GlobalMaxPooling2D against tfjs-layers 4.22
 * on the cpu backend: outputs and input gradients on simdnet's wasm
 * backend at 1 and 2 threads, on random shapes, and model.json both ways.
 * The average-pool gradient is checked against its formula, since tfjs'
 * is wrong with `same` padding.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { AveragePooling2D } from "../src/nn/average_pooling2d.ts";
import {
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
} from "../src/nn/global_pooling2d.ts";
import type { Layer } from "../src/nn/layer.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { modelFromArtifacts } from "../src/nn/model_io.ts";
import { createRng, type Rng } from "../src/util/random.ts";
import {
  assertMatches,
  avgPoolGradFormula,
  type Case,
  initWasm,
  makeCase,
  type Pool,
  randInt,
  relErr,
  tflReference,
} from "./_convpool_reference.ts";
import { assertRoundTrip } from "./_convpool_roundtrip.ts";

await initWasm();

function randomPool(rng: Rng): Pool {
  const poolSize: [number, number] = [randInt(rng, 1, 4), randInt(rng, 1, 4)];
  return {
    poolSize,
    strides: [randInt(rng, 1, 3), randInt(rng, 1, 3)],
    padding: rng.next() < 0.5 ? "same" : "valid",
    inputShape: [
      randInt(rng, poolSize[0], 10),
      randInt(rng, poolSize[1], 10),
      randInt(rng, 1, 4),
    ],
    batch: randInt(rng, 1, 3),
  };
}

const label = (kind: string, p: Pool) =>
  `${kind} ${p.batch}x${p.inputShape.join("x")} pool ${p.poolSize} ` +
  `strides ${p.strides} ${p.padding}`;

async function poolCases(
  seed: number,
  count: number,
  make: (p: Pool) => Layer,
  kind: string,
): Promise<{ cases: Case[]; pools: Pool[] }> {
  const rng = createRng(seed);
  const cases: Case[] = [];
  const pools: Pool[] = [];
  for (let i = 0; i < count; i++) {
    const p = randomPool(rng);
    pools.push(p);
    cases.push(
      await makeCase(
        label(kind, p),
        [make(p)],
        p.inputShape,
        p.batch,
        seed * 100 + i,
      ),
    );
  }
  return { cases, pools };
}

Deno.test("pooling: MaxPooling2D with any pool size, strides and padding matches tfjs-layers", async () => {
  const { cases } = await poolCases(
    1,
    14,
    (p) => new MaxPooling2D(p),
    "MaxPooling2D",
  );
  const refs = await tflReference(cases);
  cases.forEach((c, i) => {
    assertMatches(c, refs[i]!);
    assertRoundTrip(c, refs[i]!);
  });
});

Deno.test("pooling: AveragePooling2D matches tfjs-layers' output and the gradient formula", async () => {
  const { cases, pools } = await poolCases(
    2,
    14,
    (p) => new AveragePooling2D(p),
    "AveragePooling2D",
  );
  const refs = await tflReference(cases);
  let tfjsWrong = 0;
  cases.forEach((c, i) => {
    const formula = avgPoolGradFormula(pools[i]!, c.r);
    assertMatches(c, refs[i]!, formula);
    assertRoundTrip(c, refs[i]!);
    if (relErr(refs[i]!.grads[0]!, formula) > 1e-3) {
      tfjsWrong++;
      assert.equal(pools[i]!.padding, "same", `${c.label}: tfjs' gradient`);
    }
  });
  // tfjs 4.22's AvgPoolGrad divides a border window by its full size; if
  // this stops holding, tfjs fixed it and the rescaling in
  // runtime/gradients_conv.ts can go.
  assert.ok(
    tfjsWrong > 0,
    "tfjs' same-padded average-pool gradient is right now",
  );
});

Deno.test("pooling: global average and max pooling match tfjs-layers", async () => {
  const rng = createRng(3);
  const cases: Case[] = [];
  for (let i = 0; i < 8; i++) {
    const shape = [randInt(rng, 1, 9), randInt(rng, 1, 9), randInt(rng, 1, 6)];
    const batch = randInt(rng, 1, 3);
    const layer = i % 2 === 0
      ? new GlobalAveragePooling2D()
      : new GlobalMaxPooling2D();
    cases.push(
      await makeCase(
        `${layer.className} ${batch}x${shape.join("x")}`,
        [layer],
        shape,
        batch,
        300 + i,
      ),
    );
  }
  const refs = await tflReference(cases);
  cases.forEach((c, i) => {
    assertMatches(c, refs[i]!);
    assertRoundTrip(c, refs[i]!);
  });
});

Deno.test("pooling: keepdims keeps [1, 1, channels] and is read from and written to model.json", async () => {
  for (const Global of [GlobalAveragePooling2D, GlobalMaxPooling2D]) {
    const flat = await makeCase("flat", [new Global()], [5, 4, 3], 2, 7);
    const kept = await makeCase(
      "kept",
      [new Global({ keepdims: true })],
      [5, 4, 3],
      2,
      7,
    );
    const layers = (kept.json.modelTopology.config as {
      layers: { config: Record<string, unknown> }[];
    }).layers;
    assert.equal(layers[0]!.config.keepdims, true);
    const a = modelFromArtifacts(flat.json, flat.weights);
    const b = modelFromArtifacts(kept.json, kept.weights);
    assert.deepEqual(a.outputShape, [3]);
    assert.deepEqual(b.outputShape, [1, 1, 3]);
    const x = tf.tensor(
      flat.x,
      flat.xShape,
    );
    const ya = a.apply(x), yb = b.apply(x);
    assert.deepEqual(yb.shape, [2, 1, 1, 3]);
    assert.deepEqual(await yb.data(), await ya.data());
    // Keras' definition: the mean (or max) of each channel.
    const want = new Float32Array(6);
    for (let bi = 0; bi < 2; bi++) {
      for (let ch = 0; ch < 3; ch++) {
        const cells = Array.from(
          { length: 20 },
          (_, k) => flat.x[(bi * 20 + k) * 3 + ch]!,
        );
        want[bi * 3 + ch] = Global === GlobalAveragePooling2D
          ? cells.reduce((s, v) => s + v, 0) / 20
          : Math.max(...cells);
      }
    }
    assert.ok(relErr(await ya.data(), want) < 1e-5);
    for (const t of [x, ya, yb]) t.dispose();
    a.dispose();
    b.dispose();
  }
});

Deno.test("pooling: plan() refuses a window larger than a 'valid' input in one line", () => {
  assert.throws(
    () =>
      new AveragePooling2D({ poolSize: [3, 2], name: "avg" }).plan([2, 5, 1]),
    /^Error: avg: AveragePooling2D: a 3x2 'valid' window cannot run on a 2x5 input; use padding 'same' or a larger input$/,
  );
  assert.deepEqual(
    new MaxPooling2D({ poolSize: 3, strides: 2, padding: "same" }).plan([
      7,
      8,
      2,
    ]).output,
    [4, 4, 2],
  );
});
