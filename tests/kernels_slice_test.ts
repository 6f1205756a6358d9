// simdnet's Slice (copies within the heap) against the tfjs `cpu` backend on
// random shapes, begins and sizes, for every dtype it takes, bit for bit.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import { randInt, startWasm2 } from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261203);

async function sliceOn(
  backend: string,
  values: number[],
  shape: number[],
  dtype: "float32" | "int32" | "bool",
  begin: number[],
  size: number[],
) {
  await tf.setBackend(backend);
  const x = tf.tensor(values, shape, dtype);
  const y = tf.slice(x, begin, size);
  const out = { shape: y.shape, values: Array.from(await y.data()) };
  tf.dispose([x, y]);
  return out;
}

Deno.test("wasm's Slice is simdnet's", () => {
  const k = tf.getKernel(tf.Slice, "wasm");
  assert.ok(k && isSimdnetKernel(k.kernelFunc));
});

Deno.test("Slice matches cpu exactly on random shapes, begins and sizes", async () => {
  const dtypes = ["float32", "int32", "bool"] as const;
  for (let i = 0; i < 60; i++) {
    const rank = randInt(rng, 1, 5);
    const shape = Array.from({ length: rank }, () => randInt(rng, 1, 7));
    const begin = shape.map((d) => randInt(rng, 0, d - 1));
    // -1 (to the end), 0 (empty), or a length that fits.
    const size = shape.map((d, a) => {
      const r = rng.int(6);
      return r === 0
        ? -1
        : r === 1 && i % 10 === 0
        ? 0
        : randInt(rng, 1, d - begin[a]!);
    });
    if (i % 7 === 0) begin.fill(0), size.fill(-1); // the whole tensor
    const dtype = dtypes[i % 3]!;
    const n = shape.reduce((p, v) => p * v, 1);
    const values = Array.from(
      { length: n },
      () =>
        dtype === "float32"
          ? 2 * rng.next() - 1
          : rng.int(dtype === "bool" ? 2 : 1000),
    );
    const want = await sliceOn("cpu", values, shape, dtype, begin, size);
    const got = await sliceOn("wasm", values, shape, dtype, begin, size);
    assert.deepEqual(
      got,
      want,
      `[${shape}] begin [${begin}] size [${size}] ${dtype}`,
    );
  }
});

Deno.test("Slice rejects a slice past the end, as tfjs does", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([4, 5]);
  assert.throws(() => tf.slice(x, [2, 0], [3, 5]), /slice/i);
  x.dispose();
});
