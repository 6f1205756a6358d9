/**
 * A training process for the kill -9 tests (tests/checkpoint_kill_test.ts):
 * trains the small toy model on the `cpu` backend with a checkpoint in
 * `dir`, resuming when one (or the previous one) is there, and writes the
 * final weights to `dir/final.bin`. A checkpoint refused is one line on
 * stderr and exit code 2, as in the train CLI.
 *
 * With a third argument `transfer`, the conv layer is frozen for EPOCHS
 * epochs and then everything is fine-tuned for 2 more (a transfer run).
 *
 * usage: deno run --allow-read --allow-write=/tmp _ckpt_child.ts DIR EPOCHS [transfer]
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { registerGradients } from "../src/runtime/gradients.ts";
import { CheckpointError, previousPath } from "../src/train/checkpoint.ts";
import { freezeLayers } from "../src/nn/transfer.ts";
import { fit } from "../src/train/fit.ts";
import { quadrants, smallModel, weightsOf } from "./_train_fixtures.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

const [dir, epochs] = [Deno.args[0]!, Number(Deno.args[1] ?? 4)];
const transfer = Deno.args[2] === "transfer";
await tf.setBackend("cpu");
registerGradients();
const checkpoint = `${dir}/c.ckpt`;
const resume = await exists(checkpoint) ||
  await exists(previousPath(checkpoint));
const model = smallModel(1);
if (transfer) freezeLayers(model, 1);
try {
  await fit(model, quadrants(256, 2), {
    verbose: 0,
    epochs,
    batchSize: 16,
    learningRate: 0.01,
    augment: true,
    seed: 7,
    fineTune: transfer ? { epochs: 2, learningRate: 3e-3 } : undefined,
    checkpoint,
    resume,
    onWarning: (line) => console.error(`warning: ${line}`),
  });
} catch (error) {
  if (!(error instanceof CheckpointError)) throw error;
  console.error(`error: ${error.message}`);
  Deno.exit(2);
}
const weights = await weightsOf(model);
const total = weights.reduce((n, w) => n + w.length, 0);
const out = new Float32Array(total);
let at = 0;
for (const w of weights) {
  out.set(w, at);
  at += w.length;
}
await Deno.writeFile(`${dir}/final.bin`, new Uint8Array(out.buffer));
