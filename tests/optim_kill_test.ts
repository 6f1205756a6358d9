/**
 * kill -9 during a run of a model with BatchNormalization, trained with SGD
 * (Nesterov momentum, weight decay, a parameter group for biases and
 * BatchNorm betas), a cosine schedule with warm-up, label smoothing,
 * ReduceLROnPlateau and ModelCheckpoint(save_best_only)
 * (tests/_ckpt_child.ts in `sgd` mode), then resume: the final weights
 * equal an uninterrupted run's bit for bit wherever the kill lands, because
 * the checkpoint holds the optimizer's slots, the schedule step and the
 * callbacks' state. Resuming it with another optimizer is refused with one
 * line and exit code 2.
 */

import assert from "node:assert/strict";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { Rng } from "../src/util/random.ts";
import {
  type ChildOutcome,
  killAndResume,
  killMoment,
  type KillPlan,
  reaches,
  runTrainingChild,
  sleep,
} from "./_ckpt_fixtures.ts";

const EPOCHS = 6;

function runChild(
  dir: string,
  killWhen?: (running: () => boolean) => Promise<void>,
  mode = "sgd",
): Promise<ChildOutcome> {
  return runTrainingChild(dir, [`${EPOCHS}`, mode], killWhen);
}

Deno.test({
  name:
    "kill -9 with BatchNormalization, SGD-Nesterov, a cosine schedule and ReduceLROnPlateau: resumed runs are bit-identical",
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "simdnet_okill_" });
    try {
      await Deno.mkdir(`${root}/ref`);
      const started = performance.now();
      const ref = await runChild(`${root}/ref`);
      const span = performance.now() - started;
      assert.equal(ref.code, 0, ref.stderr);
      const expected = await Deno.readFile(`${root}/ref/final.bin`);
      const state = await loadCheckpoint(`${root}/ref/c.ckpt`);
      assert.equal(state.optimizer.kind, "sgd");
      // The moving statistics are in the weights, not among the slots.
      assert.ok(state.weights.some((w) => w.name.endsWith("/moving_mean")));
      assert.ok(
        state.optimizer.slots.momentum!.every((w) =>
          !w.name.includes("moving")
        ),
      );
      assert.equal(state.step, EPOCHS * 16);
      const plateau = state.callbacks.ReduceLROnPlateau!;
      // The run must exercise what the checkpoint carries: a reduction
      // by the plateau and a best model saved.
      assert.ok(
        plateau.scale! < 1,
        `the plateau never fired: ${JSON.stringify(plateau)}`,
      );
      assert.ok(state.callbacks.ModelCheckpoint!.savedEpoch! >= 1);
      assert.ok((await Deno.stat(`${root}/ref/best/model.json`)).isFile);
      const lrs = state.history.learning_rate!;
      assert.equal(lrs.length, EPOCHS);
      assert.ok(new Set(lrs).size === EPOCHS, `rates: ${lrs}`);

      const rng = new Rng(2026);
      const plans: KillPlan[] = [
        ["after epoch 1", (dir) => (r) => reaches(dir, 1, r)],
        ["within epoch 4", (dir) => async (r) => {
          await reaches(dir, 3, r);
          await sleep(rng.int(60));
        }],
        [
          "at a random moment",
          () => () => sleep(killMoment(rng, span)),
        ],
      ];
      await killAndResume(
        root,
        runChild,
        plans,
        expected,
        async (dir, what) => {
          const resumed = await loadCheckpoint(`${dir}/c.ckpt`);
          assert.deepEqual(resumed.history, state.history, what);
          assert.deepEqual(resumed.callbacks, state.callbacks, what);
        },
      );

      // The same checkpoint resumed with Adam: one line naming the fix.
      const other = await runChild(`${root}/ref`, undefined, "sgd-as-adam");
      assert.equal(other.code, 2, other.stderr);
      const errors = other.stderr.split("\n").filter((l) =>
        l.startsWith("error: ")
      );
      assert.equal(errors.length, 1, other.stderr);
      assert.match(
        errors[0]!,
        /it was trained with the sgd optimizer, not adam; rerun with --optimizer sgd/,
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
