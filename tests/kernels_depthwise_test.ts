// simdnet's DepthwiseConv2dNative and both its gradients against the tfjs
// `cpu` backend's kernels on random shapes (kernel sizes, strides,
// dilations, paddings, channel multipliers, odd sizes), at 1 and 2 threads.
// tfjs-wasm has no depthwise gradient kernels at all, so ours are the only
// ones on `wasm`.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import {
  compareBackends,
  randInt,
  randomValues,
  startWasm2,
} from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261204);

interface Case {
  b: number;
  h: number;
  w: number;
  c: number;
  m: number;
  kh: number;
  kw: number;
  s: [number, number];
  d: [number, number];
  pad: "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
}

function randomCase(): Case {
  const kh = randInt(rng, 1, 5), kw = randInt(rng, 1, 5);
  // tfjs allows dilation or stride above 1, not both.
  const dilated = rng.int(3) === 0;
  const s: [number, number] = dilated
    ? [1, 1]
    : [randInt(rng, 1, 3), randInt(rng, 1, 3)];
  const d: [number, number] = dilated
    ? [randInt(rng, 1, 3), randInt(rng, 1, 3)]
    : [1, 1];
  const padKind = rng.int(3);
  const pad: Case["pad"] = padKind === 0
    ? "same"
    : padKind === 1
    ? "valid"
    : [[0, 0], [rng.int(3), rng.int(3)], [rng.int(3), rng.int(3)], [0, 0]];
  return {
    b: randInt(rng, 1, 5),
    h: randInt(rng, kh + (kh - 1) * (d[0] - 1), 17),
    w: randInt(rng, kw + (kw - 1) * (d[1] - 1), 17),
    c: randInt(rng, 1, 21),
    m: rng.int(3) === 0 ? randInt(rng, 2, 3) : 1,
    kh,
    kw,
    s,
    d,
    pad,
  };
}

const CASES: Case[] = [
  // Fixed: the MobileNet-like 3x3 stride 2 "same" on an odd size, an
  // airbench-sized odd map, a 1x1 image, a stride past the window (where
  // tfjs-wasm's XNNPACK forward pass is wrong and ours runs).
  {
    b: 3,
    h: 6,
    w: 13,
    c: 2,
    m: 1,
    kh: 1,
    kw: 5,
    s: [3, 1],
    d: [1, 1],
    pad: "same",
  },
  {
    b: 2,
    h: 15,
    w: 15,
    c: 32,
    m: 1,
    kh: 3,
    kw: 3,
    s: [2, 2],
    d: [1, 1],
    pad: "same",
  },
  {
    b: 3,
    h: 7,
    w: 7,
    c: 12,
    m: 2,
    kh: 3,
    kw: 3,
    s: [1, 1],
    d: [1, 1],
    pad: "valid",
  },
  {
    b: 1,
    h: 1,
    w: 1,
    c: 5,
    m: 1,
    kh: 1,
    kw: 1,
    s: [1, 1],
    d: [1, 1],
    pad: "valid",
  },
  ...Array.from({ length: 21 }, randomCase),
];

function describe(c: Case): string {
  return `${c.b}x${c.h}x${c.w}x${c.c} m${c.m} k${c.kh}x${c.kw} s${c.s} d${c.d} pad ${
    JSON.stringify(c.pad)
  }`;
}

function attrs(c: Case) {
  return { strides: c.s, pad: c.pad, dilations: c.d, dataFormat: "NHWC" };
}

Deno.test("simdnet registers all three depthwise kernels on wasm", () => {
  for (
    const name of [
      tf.DepthwiseConv2dNative,
      tf.DepthwiseConv2dNativeBackpropInput,
      tf.DepthwiseConv2dNativeBackpropFilter,
    ]
  ) {
    const k = tf.getKernel(name, "wasm");
    assert.ok(k && isSimdnetKernel(k.kernelFunc), `${name} is not simdnet's`);
  }
});

function runDepthwise(c: Case, xt: tf.Tensor, ft: tf.Tensor, dyt: tf.Tensor) {
  const a = attrs(c);
  return [
    tf.engine().runKernel(
      tf.DepthwiseConv2dNative,
      { x: xt, filter: ft },
      a as never,
    ) as tf.Tensor,
    tf.engine().runKernel(
      tf.DepthwiseConv2dNativeBackpropInput,
      { dy: dyt, filter: ft },
      { ...a, inputShape: xt.shape } as never,
    ) as tf.Tensor,
    tf.engine().runKernel(
      tf.DepthwiseConv2dNativeBackpropFilter,
      { x: xt, dy: dyt },
      { ...a, filterShape: ft.shape } as never,
    ) as tf.Tensor,
  ];
}

function dot(a: tf.Tensor, b: tf.Tensor): number {
  const u = a.dataSync(), v = b.dataSync();
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i]! * v[i]!;
  return s;
}

Deno.test("DepthwiseConv2dNative and its gradients match cpu on random shapes", async () => {
  for (const c of CASES) {
    const x = randomValues(rng, [c.b, c.h, c.w, c.c]);
    const f = randomValues(rng, [c.kh, c.kw, c.c, c.m]);
    const y = tf.tidy(() =>
      tf.engine().runKernel(tf.DepthwiseConv2dNative, {
        x: tf.tensor(x.v, x.shape),
        filter: tf.tensor(f.v, f.shape),
      }, attrs(c) as never) as tf.Tensor
    );
    const dy = randomValues(rng, y.shape);
    y.dispose();
    const dilated = c.d[0] > 1 || c.d[1] > 1;
    // tfjs' cpu gradient kernels ignore dilation (tfjs' gradient refuses
    // it): dilated cases compare the forward pass with cpu and check the
    // gradients below as its adjoints.
    const err = await compareBackends(
      [x, f, dy],
      (xt, ft, dyt) =>
        dilated
          ? runDepthwise(c, xt!, ft!, dyt!).slice(0, 1)
          : runDepthwise(c, xt!, ft!, dyt!),
      1e-5,
    );
    assert.ok(err <= 1e-5, `${describe(c)}: ${err}`);
    if (!dilated) continue;
    await tf.setBackend("wasm");
    tf.tidy(() => {
      const [xt, ft, dyt] = [x, f, dy].map((t) => tf.tensor(t.v, t.shape));
      const [yt, dx, df] = runDepthwise(c, xt!, ft!, dyt!);
      // <conv(x, f), dy> = <x, dx> = <f, df>: both gradients are adjoints.
      const s = dot(yt!, dyt!);
      const scale = Math.sqrt(dot(yt!, yt!) * dot(dyt!, dyt!)) || 1;
      assert.ok(Math.abs(dot(xt!, dx!) - s) <= 1e-5 * scale, describe(c));
      assert.ok(Math.abs(dot(ft!, df!) - s) <= 1e-5 * scale, describe(c));
    });
  }
});
