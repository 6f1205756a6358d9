// One training step of the seed CNN on every backend against the tfjs `cpu`
// backend: the loss and the gradient of every parameter.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initRuntime } from "../src/runtime/init.ts";
import { probeWebGpu, stopWebGpu } from "../src/runtime/webgpu.ts";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";
import { fit } from "../src/train/fit.ts";
import type { GpuLike } from "../src/runtime/webgpu.ts";

const BATCH = 4;

function batch(): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(BATCH * 32 * 32 * 3);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 256) / 255;
  const y = new Float32Array(BATCH * 10);
  for (let b = 0; b < BATCH; b++) y[b * 10 + (b * 3) % 10] = 1;
  return { x, y };
}

/** Loss and gradients of one training step (dropout on, fixed seeds) on the current backend. */
async function step(): Promise<
  { loss: number; grads: Map<string, Float32Array> }
> {
  const model = cifarCnn({ seed: 7 });
  const { x, y } = batch();
  let seed = 100;
  const vars = model.trainableVariables;
  const out = tf.tidy(() => {
    const xt = tf.tensor4d(x, [BATCH, 32, 32, 3]);
    const yt = tf.tensor2d(y, [BATCH, 10]);
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.apply(xt, {
        training: true,
        logits: true,
        nextSeed: () => seed++,
      });
      return softmaxCrossEntropy(logits, yt);
    }, vars);
    return { value, grads };
  });
  const loss = (await out.value.data())[0]!;
  // tfjs makes variable names unique per process, so key by layer order.
  const grads = new Map<string, Float32Array>();
  for (let i = 0; i < vars.length; i++) {
    const name = model.weights[i]?.name ?? `weight ${i}`;
    grads.set(name, (await out.grads[vars[i]!.name]!.data()) as Float32Array);
  }
  tf.dispose([out.value, ...Object.values(out.grads)]);
  model.dispose?.();
  return { loss, grads };
}

function compare(
  ref: Awaited<ReturnType<typeof step>>,
  got: Awaited<ReturnType<typeof step>>,
  tol: number,
): void {
  assert.ok(
    Math.abs(ref.loss - got.loss) <= tol * Math.max(1, Math.abs(ref.loss)),
    `loss ${got.loss} vs ${ref.loss}`,
  );
  assert.equal(
    got.grads.size,
    12,
    "a gradient for each of the 12 weight tensors",
  );
  for (const [name, r] of ref.grads) {
    const g = got.grads.get(name);
    assert.ok(g, `no gradient for ${name}`);
    let err = 0, scale = 0;
    for (let i = 0; i < r.length; i++) {
      err = Math.max(err, Math.abs(r[i]! - g[i]!));
      scale = Math.max(scale, Math.abs(r[i]!));
    }
    assert.ok(scale > 0, `${name}: the reference gradient is all zeros`);
    assert.ok(err / scale <= tol, `${name}: relative error ${err / scale}`);
  }
}

const cpuStep = async () => {
  await initRuntime({ backend: "cpu" });
  return await step();
};

Deno.test("seed CNN: loss and every parameter's gradient on wasm match cpu within 1e-4", async () => {
  const ref = await cpuStep();
  await initRuntime({ backend: "wasm" });
  compare(ref, await step(), 1e-4);
});

const gpu = await probeWebGpu();
Deno.test({
  name:
    `seed CNN: one training step on forced webgpu matches cpu within 1e-3 (${
      gpu.available ? gpu.description : `skipped: ${gpu.reason}`
    })`,
  ignore: !gpu.available,
  fn: async () => {
    const ref = await cpuStep();
    const info = await initRuntime({ backend: "webgpu" });
    assert.equal(info.backend, "webgpu");
    try {
      compare(ref, await step(), 1e-3);
    } finally {
      stopWebGpu();
    }
  },
});

Deno.test("auto: a WebGPU start that fails falls back to wasm, and training still works", async () => {
  // An adapter that looks like hardware but whose device request fails.
  const failing: GpuLike = {
    requestAdapter: () =>
      Promise.resolve({
        features: new Set<string>(),
        limits: {} as GPUSupportedLimits,
        info: {
          vendor: "test",
          architecture: "",
          device: "",
          description: "Test GPU",
          isFallbackAdapter: false,
        } as unknown as GPUAdapterInfo,
        requestDevice: () =>
          Promise.reject(new Error("device lost during creation")),
      }),
  };
  const info = await initRuntime({ backend: "auto", gpu: failing });
  assert.equal(info.backend, "wasm");
  assert.match(info.reason, /WebGPU failed to start/);
  const count = 16;
  const images = new Uint8Array(count * 32 * 32 * 3).map((_, i) =>
    (i * 31) % 256
  );
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  const data = { images, labels, count, shape: [32, 32, 3] as const };
  const history = await fit(cifarCnn({ seed: 3 }), data, {
    epochs: 1,
    batchSize: 8,
    augment: false,
    verbose: 0,
  });
  assert.equal(history.loss.length, 1);
  assert.ok(Number.isFinite(history.loss[0]!));
});

Deno.test("auto with no WebGPU adapter picks wasm and says why", async () => {
  const none: GpuLike = { requestAdapter: () => Promise.resolve(null) };
  const info = await initRuntime({ backend: "auto", gpu: none });
  assert.equal(info.backend, "wasm");
  assert.equal(info.webgpu.available, false);
  assert.match(info.reason, /no WebGPU adapter/);
  const noApi = await initRuntime({ backend: "auto", gpu: null });
  assert.equal(noApi.backend, "wasm");
});
