/**
 * The checkpoint format's integrity: truncation, bit flips, trailing bytes,
 * edited headers (re-signed so the validator, not the CRC, must catch them)
 * and old versions are each refused with one line; nothing damaged is ever
 * accepted and nothing else is ever thrown.
 */

import assert from "node:assert/strict";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from "../src/train/checkpoint.ts";
import { crc32 } from "../src/train/crc32.ts";
import { Rng } from "../src/util/random.ts";
import {
  assertRefused,
  frame,
  sampleState,
  unframe,
} from "./_ckpt_fixtures.ts";

const good = encodeCheckpoint(sampleState());
const headerEnd = 16 + new DataView(good.buffer).getUint32(8, true);

Deno.test("checkpoint: a good file round-trips exactly", () => {
  assert.deepEqual(decodeCheckpoint(good, "x"), sampleState());
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  // Re-framing an unedited header gives the same bytes (the helper is sound).
  const { header, payload } = unframe(good);
  assert.deepEqual(frame(JSON.stringify(header), payload), good);
});

Deno.test("checkpoint: truncation by 1-6 bytes and 8 extra bytes are refused", () => {
  for (let cut = 1; cut <= 6; cut++) {
    assertRefused(
      good.subarray(0, good.length - cut),
      `cut ${cut}`,
      /truncated/,
    );
  }
  for (const fill of [0, 0x20, 0xff]) {
    const longer = new Uint8Array(good.length + 8).fill(fill);
    longer.set(good);
    assertRefused(longer, `8 bytes of ${fill}`, /trailing bytes/);
  }
  for (const n of [0, 3, 8, 12, 19, headerEnd, headerEnd + 5]) {
    assertRefused(good.subarray(0, n), `first ${n} bytes`);
  }
});

Deno.test("checkpoint: bit flips anywhere are refused (seeded, 600 offsets)", () => {
  const rng = new Rng(2026);
  const regions: Array<[string, number, number]> = [
    ["prefix", 0, 16],
    ["header", 16, headerEnd],
    ["payload", headerEnd, good.length - 4],
    ["crc", good.length - 4, good.length],
  ];
  for (const [name, from, to] of regions) {
    const count = name === "prefix" || name === "crc" ? 50 : 250;
    for (let k = 0; k < count; k++) {
      const at = from + rng.int(to - from);
      const bit = rng.int(8);
      const bad = good.slice();
      bad[at] = bad[at]! ^ (1 << bit);
      assertRefused(bad, `${name}: bit ${bit} of byte ${at}`);
    }
  }
  // A flipped byte in the payload is a checksum mismatch, not a NaN later.
  const bad = good.slice();
  bad[headerEnd + 3] = bad[headerEnd + 3]! ^ 0x7f;
  assertRefused(bad, "payload byte", /checksum mismatch/);
});

Deno.test("checkpoint: old and unknown versions are refused clearly", () => {
  const v1 = good.slice();
  v1.set(new TextEncoder().encode("SNCKPT01"));
  assertRefused(v1, "version 1", /version-1 checkpoint, from an older simdnet/);
  // Version 2 held one uint32 of the former SplitMix32 generator.
  const v2 = good.slice();
  v2.set(new TextEncoder().encode("SNCKPT02"));
  assertRefused(
    v2,
    "version 2",
    /version-2 checkpoint, from an older simdnet whose random generator/,
  );
  // Version 3 held Adam's moments only.
  const v3 = good.slice();
  v3.set(new TextEncoder().encode("SNCKPT03"));
  assertRefused(
    v3,
    "version 3",
    /version-3 checkpoint, from an older simdnet that saved Adam's moments only/,
  );
  const v9 = good.slice();
  v9.set(new TextEncoder().encode("SNCKPT09"));
  assertRefused(v9, "version 9", /from a newer simdnet/);
  assertRefused(
    new TextEncoder().encode("hello world, not a checkpoint"),
    "text",
    /not a simdnet checkpoint/,
  );
});

// Edits reach into the parsed JSON freely, as a person editing the file would.
// deno-lint-ignore no-explicit-any
type Edit = [string, (h: Record<string, any>) => void, RegExp];

const EDITS: Edit[] = [
  ["epoch as a string", (h) => (h.epoch = "2"), /epoch/],
  ["epoch 0", (h) => (h.epoch = 0), /epoch/],
  ["epoch 1.5", (h) => (h.epoch = 1.5), /epoch/],
  ["epoch 3 for 2 history entries", (h) => (h.epoch = 3), /history\.loss/],
  ["rngState 2^32", (h) => (h.rngState = 2 ** 32), /rngState/],
  ["rngState -1", (h) => (h.rngState = -1), /rngState/],
  ["rngState one uint32", (h) => (h.rngState = 12345), /rngState/],
  ["rngState of 3", (h) => h.rngState.pop(), /rngState/],
  ["rngState 2^32 inside", (h) => (h.rngState[2] = 2 ** 32), /rngState/],
  ["rngState all zero", (h) => (h.rngState = [0, 0, 0, 0]), /rngState/],
  ["stoppedEarly 'no'", (h) => (h.stoppedEarly = "no"), /stoppedEarly/],
  ["iterations -1", (h) => (h.optimizer.iterations = -1), /iterations/],
  ["iterations null", (h) => (h.optimizer.iterations = null), /iterations/],
  ["optimizer kind", (h) => (h.optimizer.kind = "lamb"), /kind "lamb"/],
  [
    "slot of another kind",
    (h) => (h.optimizer.slots = ["momentum", "average_gradient"]),
    /slot names/,
  ],
  ["slots reordered", (h) => h.optimizer.slots.reverse(), /slot names/],
  ["optimizer extra", (h) => (h.optimizer.lr = 1), /unexpected field 'lr'/],
  ["step -1", (h) => (h.step = -1), /step/],
  ["step missing", (h) => delete h.step, /'step' missing/],
  ["callbacks list", (h) => (h.callbacks = []), /callbacks/],
  [
    "callback value",
    (h) => (h.callbacks.ReduceLROnPlateau = { best: "x" }),
    /ReduceLROnPlateau's best/,
  ],
  [
    "one learning rate",
    (h) => h.history.learning_rate.pop(),
    /history\.learning_rate/,
  ],
  ["loss null", (h) => (h.history.loss[0] = null), /history\.loss/],
  ["one val_loss", (h) => h.history.val_loss.pop(), /history\.val_loss/],
  ["history extra", (h) => (h.history.lr = [1, 2]), /unexpected field 'lr'/],
  ["history missing", (h) => delete h.history, /'history' missing/],
  ["best string", (h) => (h.earlyStopping.best = "x"), /earlyStopping\.best/],
  ["wait -1", (h) => (h.earlyStopping.wait = -1), /earlyStopping\.wait/],
  [
    "settings object",
    (h) => (h.settings.batchSize = {}),
    /setting 'batchSize'/,
  ],
  ["settings list", (h) => (h.settings = []), /settings/],
  ["extra field", (h) => (h.comment = "hi"), /unexpected field 'comment'/],
  ["version 3 in a v4 file", (h) => (h.version = 3), /format/],
  ["other format", (h) => (h.format = "keras"), /format/],
  ["tensors missing", (h) => delete h.tensors, /'tensors' missing/],
  ["tensors object", (h) => (h.tensors = {}), /tensors is not a list/],
  ["shape grown", (h) => (h.tensors[0].shape = [3, 3, 3, 9]), /length/],
  ["shape string", (h) => (h.tensors[0].shape = "3x3"), /invalid shape/],
  ["negative dim", (h) => (h.tensors[1].shape = [-8]), /invalid shape/],
  ["length", (h) => (h.tensors[1].length = 7), /length 7/],
  ["offset", (h) => (h.tensors[1].offset += 1), /offset/],
  ["group", (h) => (h.tensors[0].group = "z"), /group/],
  ["empty name", (h) => (h.tensors[0].name = ""), /no name/],
  ["moment renamed", (h) => (h.tensors[3].name = "x"), /moments/],
  ["duplicate", (h) => (h.tensors[1].name = h.tensors[0].name), /duplicate/],
  ["tensor extra", (h) => (h.tensors[0].dtype = "f16"), /unexpected field/],
  ["tensor dropped", (h) => h.tensors.pop(), /tensors hold/],
  [
    "m before weights",
    (h) => {
      const [a, b] = [h.tensors[0], h.tensors[3]];
      h.tensors[0] = { ...b, offset: 0 };
      h.tensors[3] = { ...a, offset: b.offset };
    },
    /weights, then each optimizer slot in order/,
  ],
  [
    "header is a list",
    (h) => Object.keys(h).forEach((k) => delete h[k]),
    /'format' missing/,
  ],
];

Deno.test("checkpoint: edited header fields are refused by the validator", () => {
  const { header, payload } = unframe(good);
  for (const [what, edit, pattern] of EDITS) {
    const h = structuredClone(header);
    edit(h);
    assertRefused(frame(JSON.stringify(h), payload), what, pattern);
  }
  const text = JSON.stringify(header);
  const raw: Array<[string, string, RegExp]> = [
    ["not JSON", text.slice(0, -1), /not valid JSON/],
    ["a JSON list", "[1, 2]", /the header is not an object/],
    [
      "infinite loss",
      text.replace('"loss":[1.25', '"loss":[1e999'),
      /history\.loss/,
    ],
  ];
  for (const [what, t, pattern] of raw) {
    assertRefused(frame(t, payload), what, pattern);
  }
  const odd = text + " ".repeat((5 - (text.length % 4)) % 4);
  assert.equal(odd.length % 4, 1);
  assertRefused(
    frame(odd, payload, { pad: false }),
    "odd header",
    /misaligned/,
  );
  assertRefused(
    frame(text, payload, { floats: 1 }),
    "float count",
    /announces/,
  );
  // Payload values that a valid CRC cannot excuse.
  const nan = payload.slice();
  new DataView(nan.buffer).setFloat32(8, NaN, true);
  assertRefused(
    frame(text, nan),
    "NaN weight",
    /non-finite value at payload index 2/,
  );
  const negative = payload.slice();
  new DataView(negative.buffer).setFloat32(negative.length - 4, -1, true);
  assertRefused(
    frame(text, negative),
    "negative v",
    /negative second moment at index/,
  );
});

Deno.test("checkpoint: loading a missing file or a directory says what to do", async () => {
  await assert.rejects(
    loadCheckpoint("/nonexistent/simdnet.ckpt"),
    /no checkpoint at/,
  );
  const dir = await Deno.makeTempDir({ prefix: "simdnet_ckdir_" });
  try {
    await assert.rejects(loadCheckpoint(dir), /is damaged \(a directory/);
  } finally {
    await Deno.remove(dir);
  }
});
