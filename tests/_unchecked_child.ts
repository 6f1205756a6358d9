// Run by tests/unchecked_wasm_test.ts, once plainly and once with
// UNCHECKED_V8_FLAGS: simdnet's kernels on fixed random inputs at the thread
// count in argv, and one FNV-1a hash of every output's bits on stdout.
import * as tf from "@tensorflow/tfjs-core";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";

await initRuntime({ backend: "wasm" });
setKernelThreads(Number(Deno.args[0] ?? 2));

let hash = 2166136261;
function mix(t: tf.Tensor): void {
  const f = t.dataSync() as Float32Array;
  for (const v of new Uint32Array(f.buffer, f.byteOffset, f.length)) {
    hash = Math.imul(hash ^ v, 16777619) >>> 0;
  }
}
let seed = 1;
const normal = (shape: number[]) =>
  tf.randomNormal(shape, 0, 1, "float32", seed++);

// Winograd (3x3, odd sizes too), the direct path (few taps), the GEMM paths
// (1x1, strided), their gradients; products; depthwise; pooling.
const convs: [number, number, number, number, number, number][] = [
  [64, 32, 32, 32, 3, 1],
  [8, 15, 32, 128, 3, 1],
  [4, 7, 128, 64, 3, 1],
  [16, 31, 3, 24, 2, 1],
  [8, 16, 64, 128, 1, 2],
  [8, 16, 32, 64, 3, 2],
];
for (const [b, hw, c, o, k, s] of convs) {
  const x = normal([b, hw, hw, c]) as tf.Tensor4D;
  const w = normal([k, k, c, o]) as tf.Tensor4D;
  const y = tf.conv2d(x, w, s, "same");
  const dy = normal(y.shape) as tf.Tensor4D;
  mix(y);
  mix(tf.conv2dTranspose(dy, w, x.shape, s, "same"));
  mix(
    tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
      strides: s,
      pad: "same",
      dataFormat: "NHWC",
      filterShape: w.shape,
    } as unknown as tf.NamedAttrMap) as tf.Tensor,
  );
  mix(tf.depthwiseConv2d(x, normal([3, 3, c, 1]) as tf.Tensor4D, 1, "same"));
  mix(tf.maxPool(x, 2, 2, "valid"));
  mix(tf.avgPool(x, 3, 2, "same"));
}
const a = normal([64, 4096]) as tf.Tensor2D;
mix(tf.matMul(a, normal([4096, 512]) as tf.Tensor2D));
mix(
  tf.matMul(
    normal([64, 512]) as tf.Tensor2D,
    normal([4096, 512]) as tf.Tensor2D,
    false,
    true,
  ),
);
mix(tf.matMul(a, normal([64, 520]) as tf.Tensor2D, true, false));
console.log(hash.toString(16).padStart(8, "0"));
