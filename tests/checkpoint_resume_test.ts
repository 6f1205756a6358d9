/**
 * Resuming with damaged checkpoints on the `cpu` backend: the fallback to
 * the previous checkpoint ends bit-identical to an uninterrupted run, other
 * data of the same size is refused, temporary files are cleaned, and the
 * train CLI answers a damaged checkpoint with one line and exit code 2.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { registerGradients } from "../src/runtime/gradients.ts";
import { removeStaleTemps, writeFileAtomic } from "../src/util/atomic_write.ts";
import {
  CheckpointError,
  loadCheckpoint,
  previousPath,
} from "../src/train/checkpoint.ts";
import { fit, type FitOptions } from "../src/train/fit.ts";
import { dataFingerprint } from "../src/train/fingerprint.ts";
import { frame, unframe } from "./_ckpt_fixtures.ts";
import {
  dispose,
  quadrants,
  quiet,
  smallModel,
  weightsOf,
} from "./_train_fixtures.ts";

await tf.setBackend("cpu");
registerGradients();

const data = quadrants(96, 21);
const common = {
  ...quiet,
  batchSize: 16,
  learningRate: 0.01,
  augment: true,
  validationSplit: 0.25,
  seed: 4,
} satisfies FitOptions;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_ckres_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function flipByte(path: string, at: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[at] = bytes[at]! ^ 0x10;
  await Deno.writeFile(path, bytes);
}

/** Trains a fresh model for `epochs`; returns its weights. */
async function train(epochs: number, options: FitOptions = {}) {
  const model = smallModel(3);
  const history = await fit(model, data, { ...common, ...options, epochs });
  const weights = await weightsOf(model);
  dispose(model);
  return { weights, history };
}

Deno.test("resume: a damaged latest checkpoint falls back to the previous one, bit-exact", async () => {
  await withDir(async (dir) => {
    const straight = await train(4);
    const ckpt = `${dir}/run.ckpt`;
    await train(3, { checkpoint: ckpt });
    assert.equal((await loadCheckpoint(ckpt)).epoch, 3);
    assert.equal((await loadCheckpoint(previousPath(ckpt))).epoch, 2);
    await flipByte(ckpt, 5000);

    const warnings: string[] = [];
    const model = smallModel(99);
    const history = await fit(model, data, {
      ...common,
      epochs: 4,
      checkpoint: ckpt,
      resume: true,
      onWarning: (line) => warnings.push(line),
      onEpochEnd: async (epoch) => {
        // The damaged latest is overwritten, never rotated into the
        // previous checkpoint: the good one stays until a good one replaces it.
        const prev = await loadCheckpoint(previousPath(ckpt));
        assert.equal(prev.epoch, epoch === 2 ? 2 : 3);
      },
    });
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /run\.ckpt is unusable \(checksum mismatch\); resuming from the previous checkpoint .*run\.prev\.ckpt \(epoch 2\)$/,
    );
    assert.deepEqual(await weightsOf(model), straight.weights);
    assert.deepEqual(history, straight.history);
    // The damaged file was replaced, the good previous one rotated in order.
    assert.equal((await loadCheckpoint(ckpt)).epoch, 4);
    assert.equal((await loadCheckpoint(previousPath(ckpt))).epoch, 3);
    dispose(model);
  });
});

Deno.test("resume: a missing latest falls back; both damaged is refused in one line", async () => {
  await withDir(async (dir) => {
    const straight = await train(3);
    const ckpt = `${dir}/c.ckpt`;
    await train(2, { checkpoint: ckpt });
    // A kill between the two renames of a save leaves only the previous one.
    await Deno.remove(ckpt);
    const warnings: string[] = [];
    const resumed = await train(3, {
      checkpoint: ckpt,
      resume: true,
      onWarning: (line) => warnings.push(line),
    });
    assert.match(warnings.join(), /c\.ckpt is unusable \(missing\)/);
    assert.deepEqual(resumed.weights, straight.weights);

    await flipByte(ckpt, 100);
    await Deno.writeFile(previousPath(ckpt), new Uint8Array(10));
    const error = await train(3, { checkpoint: ckpt, resume: true }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof CheckpointError, String(error));
    assert.ok(!error.message.includes("\n"));
    assert.match(
      error.message,
      /c\.ckpt is unusable \(.+\) and so is the previous checkpoint .*c\.prev\.ckpt \(.+\); start a new run without --resume/,
    );
    // No previous checkpoint at all: the latest's own error.
    await Deno.remove(previousPath(ckpt));
    await assert.rejects(
      train(3, { checkpoint: ckpt, resume: true }),
      /c\.ckpt is damaged \(.+\) and cannot be resumed/,
    );
  });
});

Deno.test("resume: other data of the same size is refused, naming what differs", async () => {
  await withDir(async (dir) => {
    const ckpt = `${dir}/d.ckpt`;
    await train(1, { checkpoint: ckpt });
    const pixels = quadrants(96, 21);
    pixels.images[7] = pixels.images[7]! ^ 1; // one bit of one training pixel
    const labels = quadrants(96, 21);
    labels.labels[90] = (labels.labels[90]! + 1) % 4; // one validation label
    for (
      const [other, what] of [
        [pixels, "training data"],
        [labels, "validation data"],
      ] as const
    ) {
      const model = smallModel(3);
      const error = await fit(model, other, {
        ...common,
        epochs: 2,
        checkpoint: ckpt,
        resume: true,
      }).then(() => null, (e) => e);
      dispose(model);
      assert.ok(error instanceof CheckpointError, String(error));
      assert.equal(error.problem, "mismatch");
      assert.match(
        error.message,
        new RegExp(
          `cannot resume from .*d\\.ckpt: it was written with other data ` +
            `\\(${what} sha256:[0-9a-f]{12}… -> sha256:[0-9a-f]{12}… \\(same ` +
            `size, other images or labels\\)\\); rerun with the settings and ` +
            `data it was trained with \\(same --data, --limit, --val-split\\)`,
        ),
      );
    }
    assert.notEqual(await dataFingerprint(pixels), await dataFingerprint(data));
  });
});

Deno.test("resume: a valid checkpoint of another model is refused in one line", async () => {
  await withDir(async (dir) => {
    const ckpt = `${dir}/m.ckpt`;
    await train(1, { checkpoint: ckpt });
    // Rename one weight everywhere and re-sign: every check of the format
    // passes, only the model can tell.
    const { header, payload } = unframe(await Deno.readFile(ckpt));
    const text = JSON.stringify(header).replaceAll(
      '"dense/kernel"',
      '"dense_9/kernel"',
    );
    await Deno.writeFile(ckpt, frame(text, payload));
    const error = await train(2, { checkpoint: ckpt, resume: true }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof CheckpointError, String(error));
    assert.ok(!error.message.includes("\n"));
    assert.match(
      error.message,
      /cannot resume from .*m\.ckpt: it does not fit this model \(.*dense\/kernel.*\); resume with the model it was trained with/,
    );
  });
});

Deno.test("atomic writes: stale temporary files are cleaned, failed writes leave none", async () => {
  await withDir(async (dir) => {
    // A new run also drops an earlier run's previous checkpoint, so that a
    // later fallback cannot land in another run.
    const stale = [
      ".e.ckpt.tmp-4242-0123abcd",
      ".e.prev.ckpt.tmp-17-deadbeef",
      "e.prev.ckpt",
    ];
    const kept = [".model.json.tmp-1-00000000", "notes.txt", ".e.ckpt.tmp"];
    for (const name of [...stale, ...kept]) {
      await Deno.writeTextFile(`${dir}/${name}`, "x");
    }
    await train(1, { checkpoint: `${dir}/e.ckpt` });
    const names = async () => {
      const list: string[] = [];
      for await (const e of Deno.readDir(dir)) list.push(e.name);
      return list.sort();
    };
    assert.deepEqual(await names(), [...kept, "e.ckpt"].sort());
    // The CLI's cleaning takes every atomic write's temporary file.
    assert.deepEqual(await removeStaleTemps(dir), [kept[0]!]);

    // A write whose final rename fails removes its temporary file.
    await Deno.mkdir(`${dir}/busy/inner`, { recursive: true });
    await assert.rejects(writeFileAtomic(`${dir}/busy`, new Uint8Array(8)));
    assert.deepEqual(await names(), [
      ".e.ckpt.tmp",
      "busy",
      "e.ckpt",
      "notes.txt",
    ]);
  });
});

/** Writes `n` random CIFAR-10 records into each training batch and the test batch. */
async function fakeCifar(dir: string, n: number): Promise<void> {
  const records = new Uint8Array(n * 3073).map((_, i) => (i * 37) % 251);
  for (let r = 0; r < n; r++) records[r * 3073] = r % 10;
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(`${dir}/data_batch_${b}.bin`, records);
  }
  await Deno.writeFile(`${dir}/test_batch.bin`, records);
}

Deno.test("train cli: a damaged checkpoint is one line on stderr and exit code 2", async () => {
  await withDir(async (dir) => {
    await fakeCifar(dir, 2);
    const out = `${dir}/run`;
    await Deno.mkdir(out);
    const file = encodeOld();
    await Deno.writeFile(`${out}/checkpoint.ckpt`, file);
    await Deno.writeTextFile(`${out}/.checkpoint.ckpt.tmp-9-0badc0de`, "x");
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        new URL("../src/cli/train.ts", import.meta.url).pathname,
        ...["--backend", "cpu", "--data", dir, "--out", out, "--resume"],
      ],
      stdout: "null",
    }).output();
    const lines = new TextDecoder().decode(stderr).trim().split("\n");
    assert.equal(code, 2, lines.join("\n"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /^error: .*run\/checkpoint\.ckpt is a version-1 checkpoint, from an older simdnet without a checksum; .*start a new run without --resume/,
    );
    await assert.rejects(Deno.stat(`${out}/.checkpoint.ckpt.tmp-9-0badc0de`));
  });
});

/** The start of a version-1 checkpoint, as simdnet wrote them before. */
function encodeOld(): Uint8Array {
  const json = new TextEncoder().encode('{"format":"simdnet-checkpoint"} ');
  const out = new Uint8Array(12 + json.length + 16);
  out.set(new TextEncoder().encode("SNCKPT01"));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  return out;
}
