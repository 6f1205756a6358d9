/**
 * kill -9 during a transfer run (tests/_ckpt_child.ts in `transfer` mode:
 * the conv layer frozen for 3 epochs, then 2 epochs of fine-tuning), then
 * resume: the final weights equal an uninterrupted run's bit for bit,
 * whether the kill lands in phase 1, right after the phase-1 checkpoint or
 * in phase 2.
 */

import assert from "node:assert/strict";
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

/** Runs the training child in `dir`, killed when `killWhen` resolves. */
function runChild(
  dir: string,
  killWhen?: (running: () => boolean) => Promise<void>,
): Promise<ChildOutcome> {
  return runTrainingChild(dir, ["3", "transfer"], killWhen);
}

Deno.test({
  name: "kill -9 in a transfer run: resumed at any moment, bit-identical",
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "simdnet_tkill_" });
    try {
      await Deno.mkdir(`${root}/ref`);
      const started = performance.now();
      const ref = await runChild(`${root}/ref`);
      const span = performance.now() - started;
      assert.equal(ref.code, 0, ref.stderr);
      const expected = await Deno.readFile(`${root}/ref/final.bin`);
      const rng = new Rng(31);
      const plans: KillPlan[] = [
        // Right after the last phase-1 checkpoint: phase 2 must start fresh.
        ["at the phase boundary", (dir) => (r) => reaches(dir, 3, r)],
        ["in phase 2", (dir) => async (r) => {
          await reaches(dir, 4, r);
          await sleep(rng.int(100));
        }],
        [
          "at a random moment",
          () => () => sleep(killMoment(rng, span)),
        ],
      ];
      await killAndResume(root, runChild, plans, expected);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
