/**
 * Strict validation of a checkpoint header (see checkpoint_format.ts): every
 * field present with its type, nothing else, and a tensor table that tiles
 * the payload exactly. Each check calls `fail(why)`, which throws.
 *
 * @module
 */

/**
 * A tensor group of the payload: `weight`, or an optimizer slot name
 * (groups are stored in that order: weights first, then the slots in the
 * order the header's `optimizer.slots` lists).
 */
export type Group = string;

/** The group of the lookahead's slow weights, stored after the slots. */
export const LOOKAHEAD: Group = "lookahead";

/** The optimizer kinds a checkpoint may name. */
const KINDS = ["sgd", "adam", "adamw", "rmsprop"];
/** The slot names each kind may have, in their order. */
const SLOTS: Record<string, string[]> = {
  sgd: ["momentum"],
  adam: ["momentum", "velocity"],
  adamw: ["momentum", "velocity"],
  rmsprop: ["velocity", "momentum", "average_gradient"],
};

/** One tensor of the payload, as the header lists it. */
export interface TensorEntry {
  group: Group;
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
const isFiniteNumber = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v);

/** Throws `fail(why)` unless `v` is an object with exactly `keys`. */
export function exactKeys(
  v: unknown,
  keys: readonly string[],
  what: string,
  fail: (why: string) => never,
): Record<string, unknown> {
  if (!isRecord(v)) fail(`${what} is not an object`);
  const extra = Object.keys(v).find((k) => !keys.includes(k));
  if (extra !== undefined) fail(`unexpected field '${extra}' in ${what}`);
  const missing = keys.find((k) => !(k in v));
  if (missing !== undefined) fail(`field '${missing}' missing from ${what}`);
  return v;
}

/** Validates the optimizer's entry of the header; returns its slot names. */
function checkOptimizer(
  v: unknown,
  fail: (why: string) => never,
): string[] {
  const o = exactKeys(v, ["kind", "iterations", "slots"], "optimizer", fail);
  if (typeof o.kind !== "string" || !KINDS.includes(o.kind)) {
    fail(`optimizer kind ${JSON.stringify(o.kind)} is unknown`);
  }
  if (!isCount(o.iterations)) {
    fail("optimizer.iterations is not a whole number");
  }
  const allowed = SLOTS[o.kind]!;
  const slots = o.slots;
  let last = -1;
  const ok = Array.isArray(slots) && slots.every((name) => {
    const i = allowed.indexOf(name as string);
    if (i <= last) return false;
    last = i;
    return true;
  });
  if (!ok) fail(`optimizer.slots are not ${o.kind}'s slot names in order`);
  if (o.kind === "adam" || o.kind === "adamw") {
    if (slots.length !== 2) fail(`optimizer.slots miss ${o.kind}'s moments`);
  }
  return slots as string[];
}

/** Validates the callbacks' states: objects of finite numbers or null. */
function checkCallbacks(v: unknown, fail: (why: string) => never): void {
  if (!isRecord(v)) fail("callbacks is not an object");
  for (const [name, state] of Object.entries(v)) {
    if (!isRecord(state)) fail(`callback ${name}'s state is not an object`);
    for (const [k, x] of Object.entries(state)) {
      if (x !== null && !isFiniteNumber(x)) {
        fail(`callback ${name}'s ${k} is not a finite number or null`);
      }
    }
  }
}

/**
 * Validates the scalar fields, history, optimizer entry, callbacks and
 * settings of a parsed header; returns the optimizer's slot names.
 */
export function checkFields(
  h: Record<string, unknown>,
  fail: (why: string) => never,
): string[] {
  if (!isCount(h.epoch) || h.epoch < 1) {
    fail("epoch is not a whole number >= 1");
  }
  if (typeof h.stoppedEarly !== "boolean") {
    fail("stoppedEarly is not a boolean");
  }
  const rng = h.rngState;
  if (
    !Array.isArray(rng) || rng.length !== 4 ||
    !rng.every((v) => isCount(v, 0xffffffff)) || rng.every((v) => v === 0)
  ) {
    fail("rngState is not four uint32s (not all zero)");
  }
  const slots = checkOptimizer(h.optimizer, fail);
  if (!isCount(h.step)) fail("step is not a whole number");
  checkCallbacks(h.callbacks, fail);
  const keys = [
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
  ];
  const history = exactKeys(h.history, keys, "history", fail);
  for (const k of keys) {
    const list = history[k];
    if (!Array.isArray(list) || !list.every(isFiniteNumber)) {
      fail(`history.${k} is not a list of finite numbers`);
    }
    const ok = list.length === h.epoch ||
      (k.startsWith("val_") && list.length === 0);
    if (!ok) {
      fail(`history.${k} has ${list.length} values for ${h.epoch} epochs`);
    }
  }
  if (h.earlyStopping !== null) {
    const es = exactKeys(
      h.earlyStopping,
      ["best", "wait"],
      "earlyStopping",
      fail,
    );
    if (es.best !== null && !isFiniteNumber(es.best)) {
      fail("earlyStopping.best is not finite");
    }
    if (!isCount(es.wait)) fail("earlyStopping.wait is not a whole number");
  }
  if (!isRecord(h.settings)) fail("settings is not an object");
  for (const [k, v] of Object.entries(h.settings)) {
    const ok = v === null || typeof v === "string" || typeof v === "boolean" ||
      isFiniteNumber(v);
    if (!ok) {
      fail(`setting '${k}' is not a string, finite number, boolean or null`);
    }
  }
  return slots;
}

/**
 * Validates the header's lookahead entry: null, or `{ every }` with a
 * whole number of steps >= 1.
 */
export function checkLookahead(
  v: unknown,
  fail: (why: string) => never,
): { every: number } | null {
  if (v === null) return null;
  const o = exactKeys(v, ["every"], "lookahead", fail);
  if (!isCount(o.every) || o.every < 1) {
    fail("lookahead.every is not a whole number >= 1");
  }
  return { every: o.every };
}

/**
 * Validates the tensor table against the payload of `floats` values; with
 * `lookahead`, the slow weights follow the slots, one per weight.
 */
export function checkTensors(
  tensors: unknown,
  floats: number,
  slots: readonly string[],
  fail: (why: string) => never,
  lookahead = false,
): TensorEntry[] {
  if (!Array.isArray(tensors)) fail("tensors is not a list");
  const keys = ["group", "name", "shape", "offset", "length"];
  let offset = 0;
  const entries = tensors.map((t, i) => {
    const e = exactKeys(t, keys, `tensor ${i}`, fail);
    const known = e.group === "weight" || slots.includes(e.group as string) ||
      (lookahead && e.group === LOOKAHEAD);
    if (!known) {
      fail(`tensor ${i} has group ${JSON.stringify(e.group)}`);
    }
    if (typeof e.name !== "string" || e.name === "") {
      fail(`tensor ${i} has no name`);
    }
    const shape = e.shape;
    if (
      !Array.isArray(shape) || shape.length > 8 ||
      !shape.every((d) => isCount(d, 2 ** 31))
    ) {
      fail(`tensor '${e.name}' has an invalid shape`);
    }
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    if (e.length !== size) {
      fail(`tensor '${e.name}' length ${e.length} is not its shape's ${size}`);
    }
    if (e.offset !== offset) {
      fail(`tensor '${e.name}' offset ${e.offset} is not ${offset}`);
    }
    offset += size;
    return e as unknown as TensorEntry;
  });
  if (offset !== floats) {
    fail(`tensors hold ${offset} values, the payload ${floats}`);
  }
  const of = (g: Group) => entries.filter((e) => e.group === g);
  const w = of("weight");
  const bySlot = slots.map(of);
  const slow = of(LOOKAHEAD);
  const order = [...w, ...bySlot.flat(), ...slow];
  if (w.length === 0 || order.some((e, i) => e !== entries[i])) {
    fail(
      "tensors are not weights, then each optimizer slot in order, then " +
        "the lookahead",
    );
  }
  if (new Set(w.map((e) => e.name)).size !== w.length) {
    fail("duplicate weight names");
  }
  const sameAsWeights = slow.length === w.length &&
    slow.every((e, i) =>
      e.name === w[i]!.name && e.shape.join() === w[i]!.shape.join()
    );
  if (lookahead && !sameAsWeights) {
    fail("the lookahead's slow weights do not match the weights");
  }
  // Slots exist for the trainable weights only: all of them, or, with
  // frozen layers, some of them in weight order; every slot alike.
  const index = new Map(w.map((e, i) => [e.name, i]));
  const [first, ...rest] = bySlot;
  if (first === undefined) return entries;
  let last = -1;
  const ofWeights = first.length > 0 && first.every((e) => {
    const i = index.get(e.name);
    if (i === undefined || i <= last) return false;
    last = i;
    return e.shape.join() === w[i]!.shape.join();
  });
  const alike = rest.every((list) =>
    list.length === first.length &&
    list.every((e, i) =>
      e.name === first[i]!.name && e.shape.join() === first[i]!.shape.join()
    )
  );
  if (!ofWeights || !alike) fail("optimizer moments do not match the weights");
  return entries;
}
