/**
 * The fast recipe's lookahead (src/train/lookahead.ts) against a case
 * computed by hand, and its decay schedule against the formula, on cpu and
 * wasm at 1 and 2 threads.
 */

import assert from "node:assert/strict";
import { Lookahead, lookaheadDecay } from "../src/train/lookahead.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { onEachTarget, tf } from "./_layer_run.ts";

await initRuntime({ backend: "wasm", threads: 2 });

const close = (got: ArrayLike<number>, want: number[], what: string) =>
  want.forEach((w, i) =>
    assert.ok(Math.abs(got[i]! - w) < 1e-6, `${what}: ${got[i]} vs ${w}`)
  );

Deno.test("lookahead: a two-weight run every 2 steps matches the hand computation", async () => {
  await onEachTarget(async (label) => {
    const a = tf.variable(tf.tensor1d([1, 2]));
    const b = tf.variable(tf.tensor2d([[10], [20]]));
    const la = new Lookahead([a, b], { every: 2 });
    // Stand-ins for optimizer steps: set the fast weights directly.
    a.assign(tf.tensor1d([3, 2]));
    assert.equal(la.afterStep(1, 0.5), false, "no update on step 1");
    close(a.dataSync(), [3, 2], `${label} step 1 untouched`);
    a.assign(tf.tensor1d([5, 0]));
    b.assign(tf.tensor2d([[14], [20]]));
    assert.equal(la.afterStep(2, 0.5), true);
    // slow = 0.5 * [1, 2] + 0.5 * [5, 0] = [3, 1]; b: 0.5*10 + 0.5*14 = 12.
    close(a.dataSync(), [3, 1], `${label} step 2 a`);
    close(b.dataSync(), [12, 20], `${label} step 2 b`);
    a.assign(tf.tensor1d([4, 1]));
    la.afterStep(3, 0.25);
    a.assign(tf.tensor1d([7, -3]));
    la.afterStep(4, 0.25);
    // slow = 0.25 * [3, 1] + 0.75 * [7, -3] = [6, -2]; b = 12 (unchanged).
    close(a.dataSync(), [6, -2], `${label} step 4 a`);
    close(b.dataSync(), [12, 20], `${label} step 4 b`);
    const saved = await la.state();
    close(saved[0]!, [6, -2], `${label} state`);
    a.assign(tf.tensor1d([9, 9]));
    la.finish();
    close(a.dataSync(), [6, -2], `${label} finish takes the slow weights`);
    la.restore([Float32Array.of(1, 1), Float32Array.of(0, 0)]);
    la.update(0.5);
    // slow = 0.5 * [1, 1] + 0.5 * [6, -2] = [3.5, -0.5].
    close(a.dataSync(), [3.5, -0.5], `${label} after restore`);
    close(b.dataSync(), [6, 10], `${label} b after restore`);
    assert.throws(() => la.restore([Float32Array.of(1)]), /lookahead state/);
    assert.throws(() => la.update(1.5), /decay/);
    la.dispose();
    tf.dispose([a, b]);
  });
});

Deno.test("lookahead: the decay schedule is 0.95^5 (step / total)^3", () => {
  const total = 97;
  for (const step of [0, 5, 40, 96, 97]) {
    assert.ok(
      Math.abs(lookaheadDecay(step, total) - 0.95 ** 5 * (step / total) ** 3) <
        1e-15,
    );
  }
  assert.equal(lookaheadDecay(200, 100), 0.95 ** 5, "capped at the end");
  assert.equal(lookaheadDecay(50, 100, 0.8), 0.1);
  assert.throws(() => lookaheadDecay(1, 0), /totalSteps/);
  assert.throws(() => new Lookahead([], { every: 0 }), /every/);
});
