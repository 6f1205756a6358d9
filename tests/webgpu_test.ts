import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  type GpuAdapterLike,
  type GpuLike,
  isSoftwareAdapter,
  isWebGpuActive,
  probeWebGpu,
  startWebGpu,
  stopWebGpu,
  WEBGPU_BACKEND,
  WebGpuStartError,
} from "../src/runtime/webgpu.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { createRng } from "../src/util/random.ts";

registerGradients();

const probe = await probeWebGpu();
const noAdapter = probe.available
  ? undefined
  : `no WebGPU adapter here: ${probe.reason}`;
const notSoftware = noAdapter ??
  (probe.software === true
    ? undefined
    : `adapter "${probe.description}" is not a software one`);

/** Test name carrying the skip reason, since Deno prints no ignore message. */
function named(name: string, skip: string | undefined): string {
  return skip === undefined ? name : `${name} (ignored: ${skip})`;
}

function fakeGpu(adapter: GpuAdapterLike | null | "hang"): GpuLike {
  return {
    requestAdapter: () =>
      adapter === "hang"
        ? new Promise<never>(() => {})
        : Promise.resolve(adapter),
  };
}

function fakeAdapter(
  info: Partial<GPUAdapterInfo>,
  requestDevice: () => Promise<GPUDevice>,
): GpuAdapterLike {
  return {
    features: new Set<string>(),
    // Fakes never get as far as reading limits into a real device.
    limits: {} as GPUSupportedLimits,
    info: info as GPUAdapterInfo,
    requestDevice,
  };
}

function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  tolerance = 1e-3,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? NaN;
    const e = expected[i] ?? NaN;
    assert.ok(
      Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)),
      `${label}[${i}]: ${a} vs ${e}`,
    );
  }
}

/** Checks that cpu is active and computes a matMul whose answer we know. */
async function assertCpuWorks(): Promise<void> {
  assert.equal(await tf.setBackend("cpu"), true);
  assert.equal(tf.getBackend(), "cpu");
  const product = tf.matMul(
    tf.tensor2d([1, 2, 3, 4], [2, 2]),
    tf.tensor2d([5, 6, 7, 8], [2, 2]),
  );
  assert.deepEqual(Array.from(await product.data()), [19, 22, 43, 50]);
}

function randomArray(
  seed: number,
  length: number,
  scale: number,
): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length }, () => (rng.next() * 2 - 1) * scale);
}

const X_SHAPE: [number, number, number, number] = [2, 8, 8, 3];
const W1_SHAPE: [number, number, number, number] = [3, 3, 3, 4];
const W2_SHAPE: [number, number] = [8 * 8 * 4, 5];
const LEARNING_RATE = 0.01;

interface NetResult {
  output: Float32Array;
  loss: Float32Array;
  dx: Float32Array;
  dw1: Float32Array;
  dw2: Float32Array;
  /** The same three gradients from `tf.grads` and the registered configs. */
  autoDx: Float32Array;
  autoDw1: Float32Array;
  autoDw2: Float32Array;
  lossAfterStep: Float32Array;
}

/**
 * loss = sum(relu(flatten(relu(conv2d(x, w1))) · w2)), its gradients both by
 * hand (running the backprop kernels directly) and through `tf.grads`, and
 * the loss after one SGD step on w1 and w2, all on the active backend.
 */
async function convNet(
  x: Float32Array,
  w1: Float32Array,
  w2: Float32Array,
): Promise<NetResult> {
  const conv = { strides: 1, pad: "same" as const };
  const loss = (xs: tf.Tensor4D, f1: tf.Tensor4D, f2: tf.Tensor2D) => {
    const y1 = tf.conv2d(xs, f1, conv.strides, conv.pad);
    const flat = tf.reshape(tf.relu(y1), [X_SHAPE[0], -1]);
    const y2 = tf.matMul(flat, f2);
    return { y1, flat, y2, loss: tf.sum(tf.relu(y2)) };
  };
  const tensors = tf.tidy(() => {
    const xs = tf.tensor4d(x, X_SHAPE);
    const f1 = tf.tensor4d(w1, W1_SHAPE);
    const f2 = tf.tensor2d(w2, W2_SHAPE);
    const { y1, flat, y2, loss: l } = loss(xs, f1, f2);
    const dy2 = tf.step(y2);
    const dw2 = tf.matMul(flat, dy2, true, false);
    const dflat = tf.matMul(dy2, f2, false, true);
    const dy1 = tf.mul(tf.reshape(dflat, y1.shape), tf.step(y1));
    const attrs = { strides: conv.strides, pad: conv.pad, dataFormat: "NHWC" };
    const dw1 = tf.engine().runKernel(
      "Conv2DBackpropFilter",
      { x: xs, dy: dy1 },
      { ...attrs, filterShape: W1_SHAPE },
    ) as tf.Tensor4D;
    const dx = tf.engine().runKernel(
      "Conv2DBackpropInput",
      { dy: dy1, filter: f1 },
      { ...attrs, inputShape: X_SHAPE },
    ) as tf.Tensor4D;
    const stepped = loss(
      xs,
      tf.sub(f1, tf.mul(dw1, LEARNING_RATE)),
      tf.sub(f2, tf.mul(dw2, LEARNING_RATE)),
    );
    const [autoDx, autoDw1, autoDw2] = tf.grads(
      (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        loss(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor2D).loss,
    )([xs, f1, f2]);
    return {
      output: y2,
      loss: l,
      dx,
      dw1,
      dw2,
      autoDx,
      autoDw1,
      autoDw2,
      lossAfterStep: stepped.loss,
    };
  });
  const read = async (t: tf.Tensor | undefined) => {
    assert.ok(t !== undefined, "tf.grads returned too few gradients");
    return await t.data<"float32">();
  };
  try {
    return {
      output: await read(tensors.output),
      loss: await read(tensors.loss),
      dx: await read(tensors.dx),
      dw1: await read(tensors.dw1),
      dw2: await read(tensors.dw2),
      autoDx: await read(tensors.autoDx),
      autoDw1: await read(tensors.autoDw1),
      autoDw2: await read(tensors.autoDw2),
      lossAfterStep: await read(tensors.lossAfterStep),
    };
  } finally {
    tf.dispose(tensors);
  }
}

Deno.test("isSoftwareAdapter spots CPU rasterizers by flag or by name", () => {
  assert.equal(isSoftwareAdapter({ isFallbackAdapter: true }), true);
  assert.equal(
    isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }),
    true,
  );
  assert.equal(isSoftwareAdapter({ device: "Lavapipe" }), true);
  assert.equal(isSoftwareAdapter({ architecture: "swiftshader" }), true);
  assert.equal(
    isSoftwareAdapter({
      vendor: "nvidia",
      description: "NVIDIA GeForce RTX 3060",
      isFallbackAdapter: false,
    }),
    false,
  );
  assert.equal(isSoftwareAdapter({}), false);
});

Deno.test("probeWebGpu reports a reason instead of throwing", async () => {
  const absent = await probeWebGpu({ gpu: null });
  assert.equal(absent.available, false);
  assert.match(absent.reason ?? "", /navigator\.gpu/);

  const none = await probeWebGpu({ gpu: fakeGpu(null) });
  assert.equal(none.available, false);
  assert.match(none.reason ?? "", /requestAdapter\(\) returned null/);

  const broken = await probeWebGpu({
    gpu: { requestAdapter: () => Promise.reject(new Error("driver exploded")) },
  });
  assert.equal(broken.available, false);
  assert.match(broken.reason ?? "", /driver exploded/);

  const hung = await probeWebGpu({ gpu: fakeGpu("hang"), timeoutMs: 20 });
  assert.equal(hung.available, false);
  assert.match(hung.reason ?? "", /did not finish/);

  const swift = await probeWebGpu({
    gpu: fakeGpu(
      fakeAdapter(
        { description: "SwiftShader Device", vendor: "google" },
        () => Promise.reject(new Error("unused")),
      ),
    ),
  });
  assert.deepEqual(swift, {
    available: true,
    description: "SwiftShader Device",
    software: true,
  });
});

Deno.test("a WebGPU start that fails early leaves the previous backend", async () => {
  await assertCpuWorks();
  const cases: [GpuLike | null, string, RegExp][] = [
    [null, "no-api", /navigator\.gpu is missing/],
    [fakeGpu(null), "no-adapter", /returned null/],
    [
      fakeGpu(
        fakeAdapter(
          { description: "Fake GPU" },
          () => Promise.reject(new Error("out of device memory")),
        ),
      ),
      "device",
      /Fake GPU.*out of device memory/,
    ],
  ];
  for (const [gpu, stage, message] of cases) {
    await assert.rejects(
      startWebGpu({ allowSoftware: true, gpu }),
      (error: unknown) => {
        assert.ok(error instanceof WebGpuStartError);
        assert.equal(error.stage, stage);
        assert.match(error.message, message);
        return true;
      },
    );
    assert.equal(tf.getBackend(), "cpu");
    assert.equal(tf.engine().backendNames().includes(WEBGPU_BACKEND), false);
  }
  await assertCpuWorks();
});

Deno.test(
  named("probeWebGpu reports the llvmpipe adapter as software", notSoftware),
  { ignore: notSoftware !== undefined },
  async () => {
    const again = await probeWebGpu();
    assert.equal(again.available, true);
    assert.equal(again.software, true);
    assert.match(again.description ?? "", /llvmpipe|lavapipe|swiftshader/i);
  },
);

Deno.test(
  named("a software adapter is refused unless allowed", notSoftware),
  { ignore: notSoftware !== undefined },
  async () => {
    await assertCpuWorks();
    await assert.rejects(
      startWebGpu({ allowSoftware: false }),
      (error: unknown) => {
        assert.ok(error instanceof WebGpuStartError);
        assert.equal(error.stage, "software-refused");
        assert.ok(error.message.includes(probe.description ?? "?"));
        assert.match(error.message, /software rasterizer.*allowSoftware/);
        return true;
      },
    );
    assert.equal(tf.engine().backendNames().includes(WEBGPU_BACKEND), false);
    await assertCpuWorks();
  },
);

Deno.test(
  named(
    "a simulated late failure leaves tfjs usable, webgpu included",
    noAdapter,
  ),
  { ignore: noAdapter !== undefined },
  async () => {
    await assertCpuWorks();
    await assert.rejects(
      startWebGpu({ allowSoftware: true, simulateFailure: true }),
      (error: unknown) =>
        error instanceof WebGpuStartError && error.stage === "simulated",
    );
    // Back on cpu, with no half-registered webgpu left for tf.ready to retry.
    assert.equal(tf.getBackend(), "cpu");
    assert.equal(tf.engine().backendNames().includes(WEBGPU_BACKEND), false);
    assert.equal(isWebGpuActive(), false);
    await tf.ready();
    await assertCpuWorks();
    try {
      await startWebGpu({ allowSoftware: true });
      assert.equal(tf.getBackend(), WEBGPU_BACKEND);
      assert.equal(isWebGpuActive(), true);
    } finally {
      stopWebGpu();
    }
    assert.equal(isWebGpuActive(), false);
    await assertCpuWorks();
  },
);

Deno.test(
  named("conv2d + matMul forward and gradients on webgpu match cpu", noAdapter),
  { ignore: noAdapter !== undefined },
  async () => {
    const x = randomArray(1, X_SHAPE.reduce((a, b) => a * b), 1);
    const w1 = randomArray(2, W1_SHAPE.reduce((a, b) => a * b), 0.5);
    const w2 = randomArray(3, W2_SHAPE[0] * W2_SHAPE[1], 0.2);

    await assertCpuWorks();
    const want = await convNet(x, w1, w2);
    // The gradient step must have lowered the loss, or the hand-written
    // backprop above is wrong and matching it would prove nothing.
    assert.ok((want.lossAfterStep[0] ?? NaN) < (want.loss[0] ?? NaN));
    for (const grad of [want.dx, want.dw1, want.dw2]) {
      assert.ok(
        grad.some((v) => v !== 0),
        "an all-zero gradient proves nothing",
      );
    }

    const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
    let got: NetResult;
    try {
      const { info } = await startWebGpu({ allowSoftware: true });
      assert.equal(info.available, true);
      assert.equal(tf.getBackend(), WEBGPU_BACKEND);
      // Small tensors would otherwise be computed by tfjs's CPU fallback.
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      got = await convNet(x, w1, w2);
      assert.equal(tf.getBackend(), WEBGPU_BACKEND);
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", forward);
      stopWebGpu();
    }
    for (const key of Object.keys(want) as (keyof NetResult)[]) {
      assertClose(got[key], want[key], key);
    }
    await assertCpuWorks();
  },
);
