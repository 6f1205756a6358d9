/**
 * Strict validation of a checkpoint header (see checkpoint_format.ts): every
 * field present with its type, nothing else, and a tensor table that tiles
 * the payload exactly. Each check calls `fail(why)`, which throws.
 *
 * @module
 */

/** The three tensor groups of the payload, in order. */
export type Group = "weight" | "m" | "v";

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

/** Validates the scalar fields, history and settings of a parsed header. */
export function checkFields(
  h: Record<string, unknown>,
  fail: (why: string) => never,
) {
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
  if (!isCount(h.iterations)) fail("iterations is not a whole number");
  const keys = ["loss", "accuracy", "val_loss", "val_accuracy"];
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
}

/** Validates the tensor table against the payload of `floats` values. */
export function checkTensors(
  tensors: unknown,
  floats: number,
  fail: (why: string) => never,
): TensorEntry[] {
  if (!Array.isArray(tensors)) fail("tensors is not a list");
  const keys = ["group", "name", "shape", "offset", "length"];
  let offset = 0;
  const entries = tensors.map((t, i) => {
    const e = exactKeys(t, keys, `tensor ${i}`, fail);
    if (e.group !== "weight" && e.group !== "m" && e.group !== "v") {
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
  const [w, m, v] = [of("weight"), of("m"), of("v")];
  const order = [...w, ...m, ...v];
  if (w.length === 0 || order.some((e, i) => e !== entries[i])) {
    fail("tensors are not weights, then m, then v");
  }
  if (new Set(w.map((e) => e.name)).size !== w.length) {
    fail("duplicate weight names");
  }
  // Moments exist for the trainable weights only: all of them, or, with
  // frozen layers, some of them in weight order.
  const index = new Map(w.map((e, i) => [e.name, i]));
  let last = -1;
  const ofWeights = m.length > 0 && m.every((e) => {
    const i = index.get(e.name);
    if (i === undefined || i <= last) return false;
    last = i;
    return e.shape.join() === w[i]!.shape.join();
  });
  const likeM = v.length === m.length &&
    v.every((e, i) =>
      e.name === m[i]!.name && e.shape.join() === m[i]!.shape.join()
    );
  if (!ofWeights || !likeM) fail("optimizer moments do not match the weights");
  return entries;
}
