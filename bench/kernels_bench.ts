// Each training kernel: simdnet's (all threads and one), tfjs-backend-wasm's
// own where it has one, and the tfjs `cpu` backend, on the seed CNN's shapes.
//   deno task bench   (or: deno bench --allow-read --allow-env bench/kernels_bench.ts)
import * as tf from "@tensorflow/tfjs-core";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { stockWasmKernel } from "../src/kernels/register.ts";

const info = await initRuntime({ backend: "wasm" });
const all = info.threads;

interface Case {
  group: string;
  kernel: string;
  inputs: () => tf.NamedTensorMap;
  attrs: Record<string, unknown>;
}

const conv = (b: number, hw: number, c: number, o: number) => {
  const x = tf.randomNormal([b, hw, hw, c]);
  const w = tf.randomNormal([3, 3, c, o]);
  const dy = tf.randomNormal([b, hw, hw, o]);
  return { x, w, dy };
};
const c2 = conv(64, 32, 32, 32); // the seed's second conv layer
const c4 = conv(64, 16, 64, 64); // its fourth
const relu = tf.relu(tf.randomNormal([64, 32, 32, 32]));
const pooled = tf.maxPool(relu as tf.Tensor4D, 2, 2, "valid");
const pdy = tf.randomNormal(pooled.shape);
const flat = tf.randomNormal([1, 64, 4096]);
const w512 = tf.randomNormal([1, 4096, 512]);
const g512 = tf.randomNormal([1, 64, 512]);

const cases: Case[] = [
  ...[["conv2 32x32x32->32", c2], ["conv4 16x16x64->64", c4]].flatMap(
    ([name, c]) => {
      const { x, w, dy } = c as ReturnType<typeof conv>;
      return [
        {
          group: `Conv2DBackpropFilter ${name}`,
          kernel: tf.Conv2DBackpropFilter,
          inputs: () => ({ x, dy }),
          attrs: {
            strides: 1,
            pad: "same",
            dataFormat: "NHWC",
            filterShape: w.shape,
          },
        },
        {
          group: `Conv2DBackpropInput ${name}`,
          kernel: tf.Conv2DBackpropInput,
          inputs: () => ({ dy, filter: w }),
          attrs: {
            strides: 1,
            pad: "same",
            dataFormat: "NHWC",
            inputShape: x.shape,
          },
        },
        {
          group: `FusedConv2D ${name}`,
          kernel: tf.FusedConv2D,
          inputs: () => ({ x, filter: w }),
          attrs: {
            strides: 1,
            pad: "same",
            dataFormat: "NHWC",
            dilations: 1,
            activation: "relu",
          },
        },
      ];
    },
  ),
  {
    group: "MaxPoolGrad 64x32x32x32 2x2",
    kernel: tf.MaxPoolGrad,
    inputs: () => ({ dy: pdy, input: relu, output: pooled }),
    attrs: { filterSize: 2, strides: 2, pad: "valid" },
  },
  {
    group: "BatchMatMul dW = xᵀ·dy 4096x64x512",
    kernel: tf.BatchMatMul,
    inputs: () => ({ a: flat, b: g512 }),
    attrs: { transposeA: true, transposeB: false },
  },
  {
    group: "BatchMatMul dx = dy·Wᵀ 64x512x4096",
    kernel: tf.BatchMatMul,
    inputs: () => ({ a: g512, b: w512 }),
    attrs: { transposeA: false, transposeB: true },
  },
];

function run(c: Case): void {
  const inputs = c.inputs();
  tf.dispose(
    tf.engine().runKernel(
      c.kernel,
      inputs,
      c.attrs as tf.NamedAttrMap,
    ) as tf.Tensor,
  );
}

for (const c of cases) {
  Deno.bench({
    name: `simdnet, ${all} threads`,
    group: c.group,
    baseline: true,
    fn: () => {
      setKernelThreads(all);
      run(c);
    },
  });
  Deno.bench({
    name: "simdnet, 1 thread",
    group: c.group,
    fn: () => {
      setKernelThreads(1);
      run(c);
    },
  });
  const stock = stockWasmKernel(c.kernel);
  if (stock) {
    Deno.bench({
      name: "tfjs-backend-wasm stock",
      group: c.group,
      n: 3,
      warmup: 1,
      fn: () => {
        const out = stock({
          inputs: c.inputs() as unknown as tf.NamedTensorInfoMap,
          backend: tf.backend(),
          attrs: c.attrs as tf.NamedAttrMap,
        }) as tf.TensorInfo;
        tf.engine().disposeTensor(tf.engine().makeTensorFromTensorInfo(out));
      },
    });
  }
  Deno.bench({
    name: "tfjs cpu",
    group: c.group,
    n: 2,
    warmup: 1,
    fn: async () => {
      await tf.setBackend("cpu");
      const inputs = Object.fromEntries(
        Object.entries(c.inputs()).map((
          [k, t],
        ) => [k, tf.tensor(t.dataSync(), t.shape)]),
      );
      tf.dispose(
        tf.engine().runKernel(
          c.kernel,
          inputs,
          c.attrs as tf.NamedAttrMap,
        ) as tf.Tensor,
      );
      tf.dispose(Object.values(inputs));
      await tf.setBackend("wasm");
    },
  });
}
