// simdnet's WASM kernels against the tfjs `cpu` backend on random shapes.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  initRuntime,
  setKernelThreads,
  setSerialBelow,
} from "../src/runtime/init.ts";
import { createRng } from "../src/util/random.ts";
import { compareBackends, randomValues } from "./_kernel_compare.ts";

const info = await initRuntime({ backend: "wasm" });
// Small shapes split over the threads too, so they test the splits.
setSerialBelow(0);
const rng = createRng(20261130);
const CASES = 24;
// Keeps the cpu reference affordable while still reaching every extreme.
const FLOP_BUDGET = 1.5e8;

function randInt(lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

function randomTensor(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = 2 * rng.next() - 1;
  return tf.tensor(v, shape);
}

/** Runs `f` on cpu and on wasm with the same inputs; returns the relative error. */
async function compare(
  inputs: tf.Tensor[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<number> {
  const values = inputs.map((t) => ({
    v: t.dataSync().slice() as Float32Array,
    shape: t.shape,
  }));
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const xs = values.map(({ v, shape }) => tf.tensor(v, shape));
    const y = f(...xs);
    const out = { v: y.dataSync().slice() as Float32Array, shape: y.shape };
    tf.dispose([...xs, y]);
    return out;
  };
  const ref = await run("cpu");
  const got = await run("wasm");
  assert.deepEqual(got.shape, ref.shape);
  return relErr(ref.v, got.v);
}

function relErr(ref: Float32Array, got: Float32Array): number {
  let err = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ref[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  assert.ok(!Number.isNaN(err), "NaN in output");
  return err / (scale || 1);
}

interface ConvCase {
  b: number;
  h: number;
  w: number;
  c: number;
  o: number;
  k: number;
  s: 1 | 2;
  pad: "same" | "valid";
}

function convCases(): ConvCase[] {
  const out: ConvCase[] = [];
  // Fixed corners first: the largest batch, the largest and smallest sizes.
  out.push({ b: 64, h: 8, w: 8, c: 16, o: 32, k: 3, s: 1, pad: "same" });
  out.push({ b: 1, h: 33, w: 33, c: 64, o: 64, k: 3, s: 2, pad: "valid" });
  out.push({ b: 2, h: 1, w: 1, c: 3, o: 5, k: 1, s: 1, pad: "valid" });
  out.push({ b: 3, h: 1, w: 2, c: 1, o: 1, k: 3, s: 2, pad: "same" });
  while (out.length < CASES) {
    const k = [1, 2, 3, 5][rng.int(4)]!;
    const c: ConvCase = {
      b: randInt(1, 64),
      h: randInt(1, 33),
      w: randInt(1, 33),
      c: randInt(1, 64),
      o: randInt(1, 64),
      k,
      s: rng.next() < 0.5 ? 1 : 2,
      pad: rng.next() < 0.5 ? "same" : "valid",
    };
    if (c.pad === "valid" && (c.h < k || c.w < k)) continue;
    const oh = c.pad === "same"
      ? Math.ceil(c.h / c.s)
      : Math.ceil((c.h - k + 1) / c.s);
    const ow = c.pad === "same"
      ? Math.ceil(c.w / c.s)
      : Math.ceil((c.w - k + 1) / c.s);
    if (2 * c.b * oh * ow * c.o * k * k * c.c > FLOP_BUDGET) continue;
    out.push(c);
  }
  return out;
}

const label = (c: ConvCase) =>
  `${c.b}x${c.h}x${c.w}x${c.c}->${c.o} k${c.k} s${c.s} ${c.pad}`;

Deno.test(`runtime reports wasm with SIMD (${info.reason})`, () => {
  assert.equal(info.backend, "wasm");
  assert.equal(info.simd, true);
  assert.ok(info.threads >= 1);
});

Deno.test("Conv2DBackpropFilter matches cpu on random shapes", async () => {
  for (const c of convCases()) {
    const x = randomTensor([c.b, c.h, c.w, c.c]);
    const y = tf.conv2d(
      x as tf.Tensor4D,
      tf.zeros([c.k, c.k, c.c, c.o]) as tf.Tensor4D,
      c.s,
      c.pad,
    );
    const dy = randomTensor(y.shape);
    const err = await compare(
      [x, dy],
      (x, dy) =>
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: x!, dy: dy! }, {
          strides: c.s,
          pad: c.pad,
          dataFormat: "NHWC",
          filterShape: [c.k, c.k, c.c, c.o],
        }) as tf.Tensor,
    );
    assert.ok(err <= 1e-4, `${label(c)}: relative error ${err}`);
    tf.dispose([x, y, dy]);
  }
});

Deno.test("Conv2DBackpropInput matches cpu on random shapes", async () => {
  for (const c of convCases()) {
    const w = randomTensor([c.k, c.k, c.c, c.o]);
    const y = tf.conv2d(
      tf.zeros([c.b, c.h, c.w, c.c]) as tf.Tensor4D,
      w as tf.Tensor4D,
      c.s,
      c.pad,
    );
    const dy = randomTensor(y.shape);
    const err = await compare(
      [dy, w],
      (dy, w) =>
        tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dy!, filter: w! }, {
          strides: c.s,
          pad: c.pad,
          dataFormat: "NHWC",
          inputShape: [c.b, c.h, c.w, c.c],
        }) as tf.Tensor,
    );
    assert.ok(err <= 1e-4, `${label(c)}: relative error ${err}`);
    tf.dispose([w, y, dy]);
  }
});

Deno.test("MaxPool and MaxPoolGrad match cpu, ties after relu included", async () => {
  for (let i = 0; i < CASES; i++) {
    const b = randInt(1, 64),
      h = randInt(1, 33),
      w = randInt(1, 33),
      c = randInt(1, 64);
    if (b * h * w * c > 4e5) {
      i--;
      continue;
    }
    const f = randInt(1, 3), s = randInt(1, 2);
    const pad = rng.next() < 0.5 ? "same" : "valid";
    if (pad === "valid" && (h < f || w < f)) {
      i--;
      continue;
    }
    // relu leaves many exact zeros, so windows with ties are common.
    const x = tf.relu(randomTensor([b, h, w, c]));
    const y = tf.maxPool(x as tf.Tensor4D, f, s, pad);
    const dy = randomTensor(y.shape);
    const fwd = await compare(
      [x],
      (x) => tf.maxPool(x as tf.Tensor4D, f, s, pad),
    );
    assert.equal(fwd, 0, `MaxPool ${b}x${h}x${w}x${c} f${f} s${s} ${pad}`);
    const err = await compare(
      [dy, x, y],
      (dy, x, y) =>
        tf.engine().runKernel(tf.MaxPoolGrad, {
          dy: dy!,
          input: x!,
          output: y!,
        }, {
          filterSize: f,
          strides: s,
          pad,
        }) as tf.Tensor,
    );
    assert.ok(
      err <= 1e-4,
      `${b}x${h}x${w}x${c} f${f} s${s} ${pad}: relative error ${err}`,
    );
    tf.dispose([x, y, dy]);
  }
});

Deno.test("BatchMatMul matches cpu for every transpose and broadcast", async () => {
  for (let i = 0; i < CASES; i++) {
    const m = randInt(1, 300), n = randInt(1, 300), k = randInt(1, 300);
    const batch = randInt(1, 4);
    const ta = rng.next() < 0.5, tb = rng.next() < 0.5;
    const bcast = rng.int(3); // 0: none, 1: a has batch 1, 2: b has batch 1
    const a = randomTensor([bcast === 1 ? 1 : batch, ta ? k : m, ta ? m : k]);
    const b = randomTensor([bcast === 2 ? 1 : batch, tb ? n : k, tb ? k : n]);
    const err = await compare([a, b], (a, b) => tf.matMul(a!, b!, ta, tb));
    assert.ok(
      err <= 1e-4,
      `${m}x${k}x${n} batch ${batch} ta=${ta} tb=${tb}: relative error ${err}`,
    );
    tf.dispose([a, b]);
  }
  // Past every block of the GEMM: K > KC (256), N > NC (512), M > 2 * MC (96)
  // and not a multiple of the six-row panels.
  // 1 and 2 threads agree too.
  for (const [ta, tb] of [[false, false], [true, true]]) {
    const [m, k, n] = [203, 521, 601];
    const a = randomValues(rng, ta ? [k, m] : [m, k]);
    const b = randomValues(rng, tb ? [n, k] : [k, n]);
    const err = await compareBackends(
      [a, b],
      (a, b) => tf.matMul(a!, b!, ta, tb),
    );
    assert.ok(err <= 1e-4, `${m}x${k}x${n} ta=${ta} tb=${tb}: ${err}`);
  }
});

Deno.test("1 thread and all threads agree within 1e-5", async () => {
  await tf.setBackend("wasm");
  const x = randomTensor([16, 17, 15, 24]);
  const w = randomTensor([3, 3, 24, 40]);
  const a = randomTensor([70, 130]);
  const b = randomTensor([130, 90]);
  const run = () => {
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same");
    const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: y }, {
      strides: 1,
      pad: "same",
      dataFormat: "NHWC",
      filterShape: w.shape,
    }) as tf.Tensor;
    const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, {
      dy: y,
      filter: w,
    }, {
      strides: 1,
      pad: "same",
      dataFormat: "NHWC",
      inputShape: x.shape,
    }) as tf.Tensor;
    const mm = tf.matMul(a, b, false, false);
    // A strided input gradient (products, then the gather over taps).
    const y2 = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same");
    const dx2 = tf.engine().runKernel(tf.Conv2DBackpropInput, {
      dy: y2,
      filter: w,
    }, {
      strides: 2,
      pad: "same",
      dataFormat: "NHWC",
      inputShape: x.shape,
    }) as tf.Tensor;
    const out = [dw, dx, mm, dx2].map((t) =>
      t.dataSync().slice() as Float32Array
    );
    tf.dispose([y, dw, dx, mm, y2, dx2]);
    return out;
  };
  const all = setKernelThreads(Infinity);
  const many = run();
  setKernelThreads(1);
  const one = run();
  setKernelThreads(all);
  for (let i = 0; i < one.length; i++) {
    const err = relErr(one[i]!, many[i]!);
    assert.ok(err <= 1e-5, `output ${i}: 1 vs ${all} threads differ by ${err}`);
  }
  tf.dispose([x, w, a, b]);
});

Deno.test("FusedConv2D (bias, relu) matches cpu on random shapes", async () => {
  for (const c of convCases().slice(0, 12)) {
    const x = randomTensor([c.b, c.h, c.w, c.c]);
    const w = randomTensor([c.k, c.k, c.c, c.o]);
    const bias = randomTensor([c.o]);
    const relu = rng.next() < 0.5;
    const err = await compare(
      [x, w, bias],
      (x, w, bias) =>
        tf.engine().runKernel(tf.FusedConv2D, {
          x: x!,
          filter: w!,
          bias: bias!,
        }, {
          strides: [c.s, c.s],
          pad: c.pad,
          dataFormat: "NHWC",
          dilations: [1, 1],
          activation: relu ? "relu" : "linear",
        }) as tf.Tensor,
    );
    assert.ok(err <= 1e-4, `${label(c)} relu=${relu}: relative error ${err}`);
    tf.dispose([x, w, bias]);
  }
});

Deno.test("FusedConv2D with few taps (the direct path) matches cpu, and 1 and all threads agree exactly", async () => {
  // kh * kw * C <= 32 and output channels a multiple of 8 take conv_direct
  // at any batch (one image too: no packed weights to keep): the fast network's
  // 2x2 whitening stem first; then padding on every side, strides,
  // dilation, widths that leave 1-5 pixels after the groups of six (8 and
  // 32 take fours instead), 1x1 images, and the stem at batch 8 and 1.
  const cases: [number[], number[], number, "same" | "valid", number][] = [
    // [x shape], [kh, kw, C, N], stride, pad, dilation
    [[5, 32, 32, 3], [2, 2, 3, 24], 1, "valid", 1],
    [[140, 9, 11, 3], [3, 3, 3, 32], 2, "same", 1],
    [[46, 13, 7, 1], [5, 5, 1, 8], 1, "same", 1],
    [[41, 10, 10, 16], [1, 1, 16, 16], 1, "valid", 1],
    [[23, 12, 15, 3], [2, 2, 3, 16], 1, "same", 2],
    [[41, 31, 31, 2], [2, 2, 2, 8], 3, "same", 1],
    [[4100, 1, 1, 3], [3, 3, 3, 8], 1, "same", 1],
    [[8, 32, 32, 3], [2, 2, 3, 32], 1, "same", 1],
    [[70, 8, 8, 3], [2, 2, 3, 16], 1, "same", 1],
    [[1, 32, 32, 3], [2, 2, 3, 32], 1, "same", 1],
  ];
  for (const [shape, [kh, kw, c, o], s, pad, d] of cases) {
    const x = randomTensor(shape);
    const w = randomTensor([kh!, kw!, c!, o!]);
    const bias = randomTensor([o!]);
    for (const [useBias, relu] of [[true, false], [false, true]]) {
      const f = (x?: tf.Tensor, w?: tf.Tensor, b?: tf.Tensor) =>
        tf.engine().runKernel(tf.FusedConv2D, {
          x: x!,
          filter: w!,
          ...(useBias ? { bias: b! } : {}),
        }, {
          strides: [s, s],
          pad,
          dataFormat: "NHWC",
          dilations: [d, d],
          activation: relu ? "relu" : "linear",
        }) as tf.Tensor;
      const tag =
        `[${shape}] ${kh}x${kw}x${c}->${o} s${s} ${pad} d${d} bias=${useBias} relu=${relu}`;
      const err = await compare([x, w, bias], f);
      assert.ok(err <= 1e-5, `${tag}: relative error ${err}`);
      await tf.setBackend("wasm");
      const all = setKernelThreads(Infinity);
      const many = tf.tidy(() => f(x, w, bias).dataSync().slice());
      setKernelThreads(1);
      const one = tf.tidy(() => f(x, w, bias).dataSync().slice());
      setKernelThreads(all);
      assert.deepEqual(one, many, `${tag}: 1 and ${all} threads differ`);
    }
    tf.dispose([x, w, bias]);
  }
});

// Shapes that take the Winograd F(4x4, 3x3) path: 3x3, stride 1, output
// channels in whole vectors, input channels any (a partial last vector),
// odd and tiny sizes (partial 4x4 tiles, patches wider than the image).
function winogradCases(): ConvCase[] {
  const out: ConvCase[] = [
    { b: 4, h: 32, w: 32, c: 32, o: 32, k: 3, s: 1, pad: "same" },
    { b: 1, h: 1, w: 1, c: 4, o: 4, k: 3, s: 1, pad: "same" },
    { b: 3, h: 3, w: 3, c: 8, o: 12, k: 3, s: 1, pad: "valid" },
    // The seed's first layer: three channels, a partial vector.
    { b: 2, h: 32, w: 32, c: 3, o: 32, k: 3, s: 1, pad: "same" },
    // The fast network's last group: 6-row and 4-row micro-tiles together
    // (128 rows = 20 x 6 + 2 x 4), blocks of 12 tiles with a partial one.
    { b: 3, h: 7, w: 7, c: 128, o: 128, k: 3, s: 1, pad: "same" },
  ];
  while (out.length < CASES) {
    const c: ConvCase = {
      b: randInt(1, 64),
      h: randInt(1, 33),
      w: randInt(1, 33),
      c: rng.next() < 0.5 ? 4 * randInt(1, 16) : randInt(1, 64),
      o: 4 * randInt(1, 16),
      k: 3,
      s: 1,
      pad: rng.next() < 0.5 ? "same" : "valid",
    };
    if (c.pad === "valid" && (c.h < 3 || c.w < 3)) continue;
    // The cpu filter gradient is slow: a third of the budget of the others.
    if (2 * c.b * c.h * c.w * c.o * 9 * c.c > FLOP_BUDGET / 3) continue;
    out.push(c);
  }
  return out;
}

Deno.test("Winograd 3x3 convolution and both its gradients match cpu", async () => {
  for (const c of winogradCases()) {
    const x = randomTensor([c.b, c.h, c.w, c.c]);
    const w = randomTensor([3, 3, c.c, c.o]);
    const bias = randomTensor([c.o]);
    const relu = rng.next() < 0.5;
    const fwd = await compare(
      [x, w, bias],
      (x, w, bias) =>
        tf.engine().runKernel(tf.FusedConv2D, {
          x: x!,
          filter: w!,
          bias: bias!,
        }, {
          strides: [1, 1],
          pad: c.pad,
          dataFormat: "NHWC",
          dilations: [1, 1],
          activation: relu ? "relu" : "linear",
        }) as tf.Tensor,
    );
    assert.ok(fwd <= 1e-4, `forward ${label(c)} relu=${relu}: ${fwd}`);
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, c.pad);
    const dy = randomTensor(y.shape);
    const bwd = await compare(
      [dy, w],
      (dy, w) =>
        tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dy!, filter: w! }, {
          strides: 1,
          pad: c.pad,
          dataFormat: "NHWC",
          inputShape: [c.b, c.h, c.w, c.c],
        }) as tf.Tensor,
    );
    assert.ok(bwd <= 1e-4, `input gradient ${label(c)}: ${bwd}`);
    const dw = await compare(
      [x, dy],
      (x, dy) =>
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: x!, dy: dy! }, {
          strides: 1,
          pad: c.pad,
          dataFormat: "NHWC",
          filterShape: [3, 3, c.c, c.o],
        }) as tf.Tensor,
    );
    assert.ok(dw <= 1e-4, `filter gradient ${label(c)}: ${dw}`);
    tf.dispose([x, w, bias, y, dy]);
  }
});

Deno.test("transformed filters are reused only for the same filter tensor", async () => {
  await tf.setBackend("wasm");
  const x = randomTensor([1, 9, 9, 8]);
  const w1 = randomTensor([3, 3, 8, 8]);
  const w2 = randomTensor([3, 3, 8, 8]);
  const conv = (w: tf.Tensor) => {
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same");
    const v = y.dataSync().slice() as Float32Array;
    y.dispose();
    return v;
  };
  const a1 = conv(w1), b = conv(w2), a2 = conv(w1);
  assert.deepEqual(a2, a1, "same filter, same result");
  assert.ok(relErr(a1, b) > 0.01, "another filter must not hit the cache");
  // A filter rewritten in place of a disposed one (same heap memory, new
  // data id) must be transformed again.
  const values = w1.dataSync().slice() as Float32Array;
  w1.dispose();
  const w3 = tf.tensor(values.map((v) => -v), [3, 3, 8, 8]);
  const c = conv(w3);
  for (let i = 0; i < c.length; i++) {
    assert.ok(Math.abs(c[i]! + a1[i]!) <= 1e-5 * (1 + Math.abs(a1[i]!)));
  }
  tf.dispose([x, w2, w3]);
});

Deno.test("_FusedMatMul (bias, relu) and bias-gradient Sum match cpu", async () => {
  for (let i = 0; i < CASES; i++) {
    const m = randInt(1, 200), n = randInt(1, 200), k = randInt(1, 300);
    const ta = rng.next() < 0.5, tb = rng.next() < 0.5;
    const a = randomTensor([1, ta ? k : m, ta ? m : k]);
    const b = randomTensor([1, tb ? n : k, tb ? k : n]);
    const bias = randomTensor([n]);
    const err = await compare(
      [a, b, bias],
      (a, b, bias) =>
        tf.engine().runKernel(tf._FusedMatMul, { a: a!, b: b!, bias: bias! }, {
          transposeA: ta,
          transposeB: tb,
          activation: "relu",
        }) as tf.Tensor,
    );
    assert.ok(
      err <= 1e-4,
      `${m}x${k}x${n} ta=${ta} tb=${tb}: relative error ${err}`,
    );
    const y = randomTensor([
      randInt(1, 9),
      randInt(1, 9),
      randInt(1, 9),
      randInt(1, 70),
    ]);
    const keep = rng.next() < 0.5;
    const errSum = await compare([y], (y) => tf.sum(y!, [0, 1, 2], keep));
    assert.ok(errSum <= 1e-4, `sum of [${y.shape}]: relative error ${errSum}`);
    const errOther = await compare([y], (y) => tf.sum(y!, [1, 3]));
    assert.ok(
      errOther <= 1e-4,
      `sum over axes 1,3 of [${y.shape}] (tfjs fallback): ${errOther}`,
    );
    tf.dispose([a, b, bias, y]);
  }
});
