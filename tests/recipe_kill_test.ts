/**
 * kill -9 during a `--recipe fast` style run (tests/_ckpt_child.ts in
 * `fast` mode: the fast recipe's network, SGD with the BatchNorm-offset
 * group, the triangular schedule, the flip/translate batch source and the
 * lookahead, 2.5 epochs), then resume: the final weights equal an
 * uninterrupted run's bit for bit, because the checkpoint holds the
 * lookahead's slow weights beside the optimizer's slots, the schedule step
 * and the generator.
 */

import assert from "node:assert/strict";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { Rng } from "../src/util/random.ts";
import {
  type ChildOutcome,
  killMoment,
  runTrainingChild,
  sleep,
} from "./_ckpt_fixtures.ts";

function runChild(
  dir: string,
  killWhen?: (running: () => boolean) => Promise<void>,
): Promise<ChildOutcome> {
  return runTrainingChild(dir, ["2.5", "fast"], killWhen);
}

/** Resolves once the checkpoint in `dir` holds `epoch` epochs (or the child ended). */
async function reaches(dir: string, epoch: number, running: () => boolean) {
  while (running()) {
    const state = await loadCheckpoint(`${dir}/c.ckpt`).catch(() => null);
    if (state && state.epoch >= epoch) return;
    await sleep(5);
  }
}

Deno.test({
  name:
    "kill -9 in a fast-recipe run (lookahead, triangular schedule, flip/translate): resumed runs are bit-identical",
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "simdnet_rkill_" });
    try {
      await Deno.mkdir(`${root}/ref`);
      const started = performance.now();
      const ref = await runChild(`${root}/ref`);
      const span = performance.now() - started;
      assert.equal(ref.code, 0, ref.stderr);
      const expected = await Deno.readFile(`${root}/ref/final.bin`);
      const state = await loadCheckpoint(`${root}/ref/c.ckpt`);
      // 64 images in batches of 16: 4 steps an epoch, 10 in 2.5 epochs,
      // the lookahead updated at steps 5 and 10.
      assert.equal(state.step, 10);
      assert.equal(state.epoch, 3);
      assert.equal(state.lookahead?.every, 5);
      const rng = new Rng(2027);
      const plans: Array<
        [string, (dir: string) => (r: () => boolean) => Promise<void>]
      > = [
        // After epoch 2 the slow weights (updated at step 5) differ from
        // both the model's and the initial ones.
        ["after epoch 2", (dir) => (r) => reaches(dir, 2, r)],
        [
          "at a random moment",
          () => () => sleep(killMoment(rng, span)),
        ],
      ];
      let kills = 0;
      for (const [what, when] of plans) {
        const dir = `${root}/${what.replaceAll(" ", "_")}`;
        await Deno.mkdir(dir);
        if ((await runChild(dir, when(dir))).killed) kills++;
        const end = await runChild(dir);
        assert.equal(end.code, 0, `${what}: ${end.stderr}`);
        assert.deepEqual(
          await Deno.readFile(`${dir}/final.bin`),
          expected,
          `${what}: the resumed run differs`,
        );
      }
      assert.ok(kills >= 1, "every run ended before its kill");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
