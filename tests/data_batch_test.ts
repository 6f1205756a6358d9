import assert from "node:assert/strict";
import {
  iterateBatches,
  oneHot,
  oneHotBatch,
  toFloatBatch,
} from "../src/data/batch.ts";
import {
  countPerClass,
  gather,
  limit,
  splitValidation,
} from "../src/data/dataset.ts";
import { DataError } from "../src/data/errors.ts";
import { createRng } from "../src/util/random.ts";
import {
  createProgress,
  type ProgressSink,
  renderProgress,
} from "../src/util/progress.ts";
import { assertSameBytes, IMAGE, makeFixture } from "./_data_fixtures.ts";

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof DataError && e.code === code && e.hint !== "",
  );
}

Deno.test("splitValidation follows Keras: the last fraction, as views", () => {
  const data = makeFixture(10, 1);
  const { train, validation } = splitValidation(data, { validationSplit: 0.2 });
  assert.equal(train.count, 8);
  assert.equal(validation.count, 2);
  assertSameBytes(
    validation.labels,
    data.labels.subarray(8),
    "validation labels",
  );
  assertSameBytes(
    validation.images,
    data.images.subarray(8 * IMAGE),
    "validation images",
  );
  assert.equal(
    train.images.buffer,
    data.images.buffer,
    "no copy without shuffle",
  );
  // floor(7 * 0.7) = 4 training images, as Keras computes it.
  assert.equal(
    splitValidation(makeFixture(7, 1), { validationSplit: 0.3 }).train.count,
    4,
  );
  assert.equal(
    splitValidation(data, { validationSplit: 0 }).validation.count,
    0,
  );
  throwsCode(() => splitValidation(data, { validationSplit: 1 }), "usage");
  throwsCode(() => splitValidation(data, { validationSplit: -0.1 }), "usage");
  throwsCode(
    () => splitValidation(makeFixture(1, 1), { validationSplit: 0.5 }),
    "usage",
  );
});

Deno.test("a shuffled split is seeded, disjoint and complete", () => {
  const data = makeFixture(50, 2);
  // Tag each image by its index so we can tell which went where.
  for (let i = 0; i < data.count; i++) data.images[i * IMAGE] = i;
  const a = splitValidation(data, {
    validationSplit: 0.2,
    shuffle: true,
    seed: 7,
  });
  const b = splitValidation(data, {
    validationSplit: 0.2,
    shuffle: true,
    seed: 7,
  });
  const c = splitValidation(data, {
    validationSplit: 0.2,
    shuffle: true,
    seed: 8,
  });
  const ids = (s: typeof a.train): number[] =>
    Array.from({ length: s.count }, (_, i) => s.images[i * IMAGE]!);
  assert.deepEqual(ids(a.validation), ids(b.validation));
  assert.notDeepEqual(ids(a.validation), ids(c.validation));
  const all = [...ids(a.train), ...ids(a.validation)].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => i));
  assert.equal(a.validation.count, 10);
  // Labels travel with their images.
  for (let i = 0; i < a.train.count; i++) {
    assert.equal(a.train.labels[i], data.labels[ids(a.train)[i]!]);
  }
});

Deno.test("limit and gather", () => {
  const data = makeFixture(6, 3);
  assert.equal(limit(data, 4).count, 4);
  assert.equal(limit(data, 100).count, 6);
  throwsCode(() => limit(data, -1), "usage");
  const picked = gather(data, [5, 0]);
  assert.deepEqual(
    picked.images.subarray(0, IMAGE),
    data.images.subarray(5 * IMAGE),
  );
  assert.deepEqual([...picked.labels], [data.labels[5], data.labels[0]]);
  throwsCode(() => gather(data, [6]), "usage");
  assert.deepEqual(countPerClass(new Uint8Array([0, 9, 9, 3])), [
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    2,
  ]);
});

Deno.test("toFloatBatch gives value/255 as float32, in index order, reusing a buffer", () => {
  const data = makeFixture(4, 4);
  const out = new Float32Array(3 * IMAGE);
  const batch = toFloatBatch(data, [3, 1], out);
  assert.equal(batch.length, 2 * IMAGE);
  assert.equal(batch.buffer, out.buffer);
  for (const k of [0, 1, 2, 1000, IMAGE - 1]) {
    assert.equal(batch[k], Math.fround(data.images[3 * IMAGE + k]! / 255));
    assert.equal(batch[IMAGE + k], Math.fround(data.images[IMAGE + k]! / 255));
  }
  const one = (images: Uint8Array) => ({
    images,
    labels: new Uint8Array(1),
    count: 1,
    shape: [32, 32, 3] as const,
  });
  const extremes = toFloatBatch(one(new Uint8Array(IMAGE).fill(255)), [0]);
  assert.equal(extremes[0], 1);
  assert.equal(toFloatBatch(one(new Uint8Array(IMAGE)), [0])[5], 0);
  throwsCode(() => toFloatBatch(data, [4]), "usage");
  throwsCode(
    () => toFloatBatch(data, [0, 1], new Float32Array(IMAGE)),
    "usage",
  );
});

Deno.test("oneHot and oneHotBatch", () => {
  assert.deepEqual([...oneHot([2, 0], 3)], [0, 0, 1, 1, 0, 0]);
  const out = new Float32Array(20).fill(7);
  const y = oneHotBatch(new Uint8Array([4, 9, 1]), [1, 2], 10, out);
  assert.deepEqual([...y], [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  throwsCode(() => oneHot([10]), "label");
  throwsCode(() => oneHotBatch(new Uint8Array([1]), [1]), "usage");
});

Deno.test("iterateBatches visits every image once, last batch smaller", () => {
  const data = makeFixture(10, 5);
  const seen: number[] = [];
  const sizes: number[] = [];
  for (
    const batch of iterateBatches(data, {
      batchSize: 4,
      shuffle: true,
      seed: 1,
    })
  ) {
    sizes.push(batch.size);
    assert.equal(batch.x.length, batch.size * IMAGE);
    assert.equal(batch.y.length, batch.size * 10);
    for (let i = 0; i < batch.size; i++) {
      const index = batch.indices[i]!;
      seen.push(index);
      assert.equal(batch.y[i * 10 + data.labels[index]!], 1);
      assert.equal(
        batch.x[i * IMAGE + 7],
        Math.fround(data.images[index * IMAGE + 7]! / 255),
      );
    }
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  throwsCode(() => iterateBatches(data, { batchSize: 0 }).next(), "usage");
  // A caller's generator (e.g. the trainer's) replaces the seed.
  const order = (options: Parameters<typeof iterateBatches>[1]): number[] =>
    [...iterateBatches(data, options)].flatMap((b) => [...b.indices]);
  assert.deepEqual(
    order({ batchSize: 3, shuffle: true, rng: createRng(5) }),
    order({ batchSize: 3, shuffle: true, seed: 5 }),
  );
  assert.notDeepEqual(
    order({ batchSize: 3, shuffle: true, seed: 5 }),
    order({ batchSize: 3, shuffle: true, seed: 6 }),
  );
});

Deno.test("createRng is deterministic per seed and stays in range", () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const seqA = Array.from({ length: 8 }, () => a.nextUint32());
  assert.deepEqual(seqA, Array.from({ length: 8 }, () => b.nextUint32()));
  assert.notDeepEqual(seqA, Array.from({ length: 8 }, () => c.nextUint32()));
  const rng = createRng(1);
  const hits = new Array<number>(5).fill(0);
  for (let i = 0; i < 5000; i++) {
    const v = rng.int(5);
    assert.ok(v >= 0 && v < 5 && Number.isInteger(v));
    hits[v]! += 1;
    const f = rng.next();
    assert.ok(f >= 0 && f < 1);
  }
  // Each of 5 values should get roughly 1000 of 5000 draws.
  for (const h of hits) assert.ok(h > 800 && h < 1200, `uneven: ${hits}`);
  const perm = createRng(3).permutation(100);
  assert.deepEqual(
    [...perm].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.throws(() => createRng(Number.NaN), RangeError);
  assert.throws(() => rng.int(0), RangeError);
});

class MemorySink implements ProgressSink {
  text = "";
  constructor(readonly terminal: boolean) {}
  writeSync(bytes: Uint8Array): number {
    this.text += new TextDecoder().decode(bytes);
    return bytes.length;
  }
  isTerminal(): boolean {
    return this.terminal;
  }
}

Deno.test("progress bar: drawn on a terminal, silent otherwise", () => {
  const tty = new MemorySink(true);
  const bar = createProgress({
    label: "load",
    total: 200,
    unit: "items",
    sink: tty,
  });
  bar.add(50);
  bar.finish();
  bar.finish();
  assert.ok(tty.text.startsWith("\rload ["), JSON.stringify(tty.text));
  assert.ok(tty.text.endsWith("\n"));
  assert.equal(tty.text.split("\n").length, 2, "finish ends the line once");
  assert.match(tty.text, /25% 50\/200/);

  const pipe = new MemorySink(false);
  const silent = createProgress({ label: "load", total: 10, sink: pipe });
  silent.add(5);
  silent.finish();
  assert.equal(pipe.text, "");
  assert.equal(silent.enabled, false);

  assert.match(
    renderProgress("download", 1048576, undefined, "bytes", 1000),
    /1\.0 MB 1\.0 MB\/s/,
  );
  assert.match(renderProgress("x", 10, 10, "items", 0), /\[#+\] 100%/);
});
