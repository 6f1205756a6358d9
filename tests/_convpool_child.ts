/**
 * The independent reference of the convolution, pooling and regularizer
 * tests, run as a child process: `@tensorflow/tfjs-layers` 4.22 on the
 * tfjs `cpu` backend, with only tfjs' own gradient configs registered (the
 * ones tfjs-layers' bundle brings; simdnet's are never loaded here). Reads
 * cases as JSON on stdin and writes, for each, the model's output, the
 * gradients of `sum(output * r)` with respect to the input and every
 * trainable weight, the regularization losses and the topology tfjs-layers
 * writes back.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import type { ChildCase, ChildResult } from "./_convpool_reference.ts";

await tf.setBackend("cpu");

async function runCase(c: ChildCase): Promise<ChildResult> {
  const weightData = new Float32Array(c.weights).buffer;
  const model = await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: c.topology as tf.io.ModelJSON["modelTopology"],
    weightSpecs: c.specs as tf.io.WeightsManifestEntry[],
    weightData,
  }));
  const x = tf.variable(tf.tensor(c.x, c.xShape));
  const r = tf.tensor(c.r);
  const y = model.apply(x) as tf.Tensor;
  const vars = [
    x,
    ...model.trainableWeights.map((w) => w.read() as tf.Variable),
  ];
  const { grads } = tf.variableGrads(
    () =>
      tf.sum(
        tf.mul(tf.reshape(model.apply(x) as tf.Tensor, [-1]), r),
      ) as tf.Scalar,
    vars,
  );
  const gradList = vars.map((v) => grads[v.name]!);
  const losses = model.layers.flatMap((l) => l.calculateLosses());
  const regLoss = losses.length === 0 ? null : tf.addN(losses).dataSync()[0]!;
  const out: ChildResult = {
    y: Array.from(y.dataSync()),
    yShape: y.shape,
    grads: gradList.map((g) => Array.from(g.dataSync())),
    regLoss,
    params: model.countParams(),
    topology: model.toJSON(null, false) as Record<string, unknown>,
  };
  tf.dispose([x, r, y, ...gradList, ...losses]);
  model.dispose();
  return out;
}

const cases: ChildCase[] = JSON.parse(
  await new Response(Deno.stdin.readable).text(),
);
const results: ChildResult[] = [];
for (const c of cases) results.push(await runCase(c));
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(results)));
