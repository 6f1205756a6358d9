/**
 * The checkpoint's lookahead state (format version 5): the slow weights
 * round-trip by name, a run without lookahead stores null, and every
 * damaged lookahead entry, like a version-4 file, is refused with one line.
 */

import assert from "node:assert/strict";
import { decodeCheckpoint, encodeCheckpoint } from "../src/train/checkpoint.ts";
import {
  assertRefused,
  frame,
  sampleState,
  unframe,
} from "./_ckpt_fixtures.ts";

Deno.test("checkpoint: a checkpoint's lookahead round-trips, and damaged lookahead entries are refused with one line", () => {
  const state = sampleState(3);
  const slow = state.weights.map((w) => ({
    ...w,
    values: w.values.map((v) => v / 2),
  }));
  const good = encodeCheckpoint({ ...state, lookahead: { every: 5, slow } });
  const back = decodeCheckpoint(good, "run/c.ckpt");
  assert.equal(back.lookahead?.every, 5);
  back.lookahead!.slow.forEach((w, i) => {
    assert.equal(w.name, slow[i]!.name);
    assert.deepEqual(Array.from(w.values), Array.from(slow[i]!.values));
  });
  assert.equal(
    decodeCheckpoint(encodeCheckpoint(state), "run/c.ckpt").lookahead,
    null,
  );
  const { header, payload } = unframe(good);
  // deno-lint-ignore no-explicit-any
  const edits: Array<[string, (h: any) => void, RegExp]> = [
    ["every 0", (h) => (h.lookahead.every = 0), /lookahead\.every/],
    ["every text", (h) => (h.lookahead.every = "5"), /lookahead\.every/],
    ["extra key", (h) => (h.lookahead.decay = 1), /unexpected field 'decay'/],
    ["missing", (h) => delete h.lookahead, /'lookahead' missing/],
    // The slow weights' tensors without a lookahead entry.
    ["no entry", (h) => (h.lookahead = null), /group "lookahead"/],
    [
      "renamed",
      (h) => {
        const t = h.tensors.find((e: { group: string }) =>
          e.group === "lookahead"
        );
        t.name = "other/kernel";
      },
      /lookahead's slow weights do not match/,
    ],
    [
      "before the slots",
      (h) => {
        const i = h.tensors.findIndex((e: { group: string }) =>
          e.group === "lookahead"
        );
        const first = h.tensors.findIndex((e: { group: string }) =>
          e.group === "momentum"
        );
        [h.tensors[first].group, h.tensors[i].group] = [
          h.tensors[i].group,
          h.tensors[first].group,
        ];
      },
      /in order, then the lookahead|do not match/,
    ],
  ];
  for (const [what, edit, pattern] of edits) {
    const h = structuredClone(header);
    edit(h);
    assertRefused(frame(JSON.stringify(h), payload), what, pattern);
  }
  // A version-4 file (no lookahead state) is refused with why.
  const v4 = good.slice();
  v4.set(new TextEncoder().encode("SNCKPT04"));
  assertRefused(v4, "version 4", /version-4 checkpoint.*lookahead/);
});
