/**
 * Runs only when env CIFAR10_DIR points at a real `cifar-10-batches-bin`
 * directory, e.g.:
 * CIFAR10_DIR=/path/to/cifar-10-batches-bin deno task test
 */
import assert from "node:assert/strict";
import { loadCifar10 } from "../src/data/cifar10.ts";
import { toFloatBatch } from "../src/data/batch.ts";
import { countPerClass, splitValidation } from "../src/data/dataset.ts";

const dir = Deno.env.get("CIFAR10_DIR");

Deno.test({
  name:
    "real CIFAR-10 from CIFAR10_DIR: 50,000 training images, ~5,000 per class",
  ignore: dir === undefined || dir === "",
  async fn() {
    const data = await loadCifar10({ progress: false, onWarning: () => {} });
    assert.equal(data.source.kind, "env");
    const train = data.train;
    assert.ok(train !== null, "CIFAR10_DIR has no training batches");
    assert.equal(train.count, 50_000);
    const counts = countPerClass(train.labels);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      50_000,
      "labels outside 0..9",
    );
    for (const c of counts) assert.ok(c >= 4_500 && c <= 5_500, `${counts}`);
    // The first record of data_batch_1.bin is a frog.
    const file = await Deno.open(`${data.source.path}/data_batch_1.bin`);
    const first = new Uint8Array(1);
    await file.read(first);
    file.close();
    assert.equal(first[0], 6);
    assert.equal(train.labels[0], 6);
    assert.equal(data.classNames[6], "frog");
    if (data.test !== null) assert.equal(data.test.count, 10_000);
    // The loader's sets carry CIFAR's shape; the train command's split and
    // the converter work on them directly.
    assert.deepEqual(train.shape, [32, 32, 3]);
    const split = splitValidation(train, { validationSplit: 0.1 });
    assert.deepEqual([split.train.count, split.validation.count], [
      45_000,
      5_000,
    ]);
    const x = toFloatBatch(split.validation, [4_999]);
    assert.equal(x.length, 3072);
    assert.equal(x[3071], Math.fround(train.images[50_000 * 3072 - 1]! / 255));
  },
});
