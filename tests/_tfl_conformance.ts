/**
 * The conformance run of `layers_reference_test.ts`, reusable by any test
 * with its own table: each spec goes through tfjs-layers in the child
 * (`_tfl_child.ts`) and through simdnet; {@linkcode runConformance} makes
 * one test step per spec and backend (wasm at 1 and 2 threads, webgpu when
 * an adapter exists, tfjs' cpu on request) and per round trip (simdnet
 * saves, tfjs-layers loads).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { setKernelThreads } from "../src/runtime/init.ts";
import { probeWebGpu, startWebGpu, stopWebGpu } from "../src/runtime/webgpu.ts";
import { modelFromArtifacts } from "../src/nn/model_io.ts";
import {
  type ChildItem,
  closeness,
  configDiff,
  readReference,
  type Reference,
  type ReferenceSpec,
  runSimdnet,
  saveWithSimdnet,
  TFJS_ONLY_GRADIENTS,
  TflReference,
} from "./_tfl_reference.ts";

/** A tolerance: relative error allowed, and the floor (see the header). */
export type Tolerance = readonly [rtol: number, floor: number];

/** A group of specs, exported by name from the spec module. */
export interface SpecGroup {
  /** The export holding the specs, for the child to import. */
  name: string;
  specs: readonly ReferenceSpec[];
  /**
   * True when simdnet must load every spec (a load error fails the step);
   * false to skip a spec simdnet cannot load yet, with its error as reason.
   */
  mustLoad: boolean;
}

/** What {@linkcode runConformance} checks, and how closely. */
export interface ConformanceOptions {
  /** URL of the module exporting the groups (the child imports it). */
  module: string;
  groups: readonly SpecGroup[];
  /** Rows in each input batch. */
  batch: number;
  output: Tolerance;
  grad: Tolerance;
  /** Also run simdnet on tfjs' cpu backend (its non-wasm layer paths). */
  cpu?: boolean;
  /**
   * A child the caller started and will close, to share it with other
   * work of the test file (one child per file); else one of its own.
   */
  child?: TflReference;
}

interface Case {
  spec: ReferenceSpec;
  dir: string;
}

function checkClose(
  got: Float32Array,
  want: Float32Array,
  [rtol, floor]: Tolerance,
  what: string,
): number {
  const c = closeness(got, want, floor);
  assert.ok(
    c.worst <= rtol,
    `${what}: error ${
      c.worst.toExponential(2)
    } > ${rtol} at [${c.at}]: ${c.got} vs ${c.want}`,
  );
  return c.worst;
}

const EXACT: Tolerance = [0, 0];

/** The worst errors a run saw, to document the tolerances. */
export interface Seen {
  output: number;
  grad: number;
}

/**
 * Loads `ref`'s model in simdnet on the active backend and checks its
 * weights, outputs, loss and gradients against the reference.
 */
export async function compare(
  ref: Reference,
  where: string,
  tol: Pick<ConformanceOptions, "output" | "grad">,
  seen: Seen = { output: 0, grad: 0 },
): Promise<void> {
  const got = await runSimdnet(ref);
  const wantNames = ref.info.trainable.map((w) => w.name);
  assert.deepEqual(got.weightNames, ref.info.weightNames, `${where}: weights`);
  assert.equal(got.countParams, ref.info.countParams, `${where}: parameters`);
  assert.deepEqual(
    got.trainableNames,
    wantNames,
    `${where}: trainable weights`,
  );
  const o = checkClose(got.out, ref.out, tol.output, `${where}: output`);
  seen.output = Math.max(seen.output, o);
  checkClose(
    Float32Array.of(got.penalty),
    Float32Array.of(ref.info.penalty ?? 0),
    tol.output,
    `${where}: regularization penalty`,
  );
  checkSteps(got.after, ref, where, tol.output);
  if (!ref.info.gradients) return;
  checkClose(
    Float32Array.of(got.loss),
    Float32Array.of(ref.info.loss),
    tol.output,
    `${where}: loss`,
  );
  for (const [name, want] of ref.grads) {
    // An all-zero reference gradient would make agreement meaningless.
    assert.ok(
      want.some((v) => v !== 0),
      `${where}: tfjs' gradient of ${name} is all zero`,
    );
    const g = checkClose(
      got.grads.get(name)!,
      want,
      tol.grad,
      `${where}: d loss / d ${name}`,
    );
    seen.grad = Math.max(seen.grad, g);
  }
}

/**
 * The weights after the reference's training steps agree, and the steps
 * moved some of them (else the comparison could not tell).
 */
function checkSteps(
  got: Float32Array[],
  ref: Reference,
  where: string,
  tol: Tolerance,
): void {
  if (!ref.info.steps) return;
  const before = new Float32Array(ref.weights.slice().buffer);
  let at = 0, moved = false;
  ref.after.forEach((want, i) => {
    const name = ref.info.weightNames[i];
    checkClose(got[i]!, want, tol, `${where}: ${name} after the steps`);
    const was = before.subarray(at, at + want.length);
    moved ||= want.some((v, j) => v !== was[j]);
    at += want.length;
  });
  assert.ok(moved, `${where}: ${ref.info.steps} training steps moved nothing`);
}

/** Why simdnet cannot load the reference's model today, or undefined. */
function loadFailure(ref: Reference): string | undefined {
  try {
    modelFromArtifacts(ref.json, ref.weights).dispose();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function stepName(name: string, skip: string | undefined): string {
  return skip === undefined ? name : `${name} (ignored: ${skip})`;
}

/** The spec's name, saying when its gradients cannot be compared. */
function shown(s: ReferenceSpec): string {
  return s.outputsOnly === undefined
    ? s.name
    : `${s.name} (outputs only: ${s.outputsOnly})`;
}

/** The specs with their folders, references and reasons to skip. */
interface Table {
  cases: Case[];
  /**
   * The reference of a case; throws when tfjs-layers could not make it or
   * simdnet cannot load it.
   */
  refOf(c: Case): Reference;
  /** Why simdnet cannot load a case (its own error), or undefined. */
  skip(c: Case): string | undefined;
  /** Whether tfjs-layers made the reference and simdnet loads it. */
  runnable(c: Case): boolean;
  options: ConformanceOptions;
  seen: Seen;
}

/** Builds every spec in the child and reads the references back. */
async function prepare(
  child: TflReference,
  root: string,
  options: ConformanceOptions,
): Promise<Table> {
  const all = options.groups.flatMap((g) => g.specs);
  const names = all.map((s) => s.name);
  assert.equal(new Set(names).size, names.length, "spec names must be unique");
  const cases = all.map((spec, i) => ({ spec, dir: `${root}/${i}` }));
  for (const c of cases) await Deno.mkdir(c.dir);
  await child.run({
    module: options.module,
    specs: options.groups.map((g) => g.name),
    items: cases.map((c): ChildItem => ({
      dir: c.dir,
      build: c.spec.name,
      seed: c.spec.seed,
      batch: options.batch,
      gradients: c.spec.outputsOnly === undefined,
      steps: c.spec.steps,
      inferenceGradients: c.spec.inferenceGradients,
      inputRange: c.spec.inputRange,
      onesGammaForUnscaledBatchNorm: c.spec.onesGammaForUnscaledBatchNorm,
    })),
  });
  const mustLoad = new Set(
    options.groups.filter((g) => g.mustLoad).flatMap((g) => g.specs),
  );
  // A spec tfjs-layers cannot run, or a must-load spec simdnet cannot
  // load, fails its own steps, not the whole table.
  const refs = new Map<Case, Reference | Error>();
  const failures = new Map<Case, string | undefined>();
  for (const c of cases) {
    const ref = await readReference(c.dir).catch((e: Error) => e);
    refs.set(c, ref);
    if (!(ref instanceof Error)) failures.set(c, loadFailure(ref));
  }
  return {
    cases,
    refOf: (c) => {
      const ref = refs.get(c)!;
      if (ref instanceof Error) throw ref;
      const failure = failures.get(c);
      if (failure !== undefined) {
        throw new Error(`${c.spec.name}: simdnet cannot load it: ${failure}`);
      }
      return ref;
    },
    skip: (c) => mustLoad.has(c.spec) ? undefined : failures.get(c),
    runnable: (c) =>
      !(refs.get(c) instanceof Error) && failures.get(c) === undefined,
    options,
    seen: { output: 0, grad: 0 },
  };
}

async function cpuSteps(t: Deno.TestContext, table: Table): Promise<void> {
  for (const c of table.cases) {
    await t.step({
      name: stepName(`${shown(c.spec)}: cpu`, table.skip(c)),
      ignore: table.skip(c) !== undefined,
      fn: async () => {
        await tf.setBackend("cpu");
        try {
          await compare(
            table.refOf(c),
            `${c.spec.name} (cpu)`,
            table.options,
            table.seen,
          );
        } finally {
          await tf.setBackend("wasm");
        }
      },
    });
  }
}

async function wasmSteps(t: Deno.TestContext, table: Table): Promise<void> {
  for (const threads of [1, 2]) {
    for (const c of table.cases) {
      await t.step({
        name: stepName(
          `${shown(c.spec)}: wasm, ${threads} thread(s)`,
          table.skip(c),
        ),
        ignore: table.skip(c) !== undefined,
        fn: async () => {
          await tf.setBackend("wasm");
          assert.equal(setKernelThreads(threads), threads);
          await compare(
            table.refOf(c),
            `${c.spec.name} (wasm ${threads})`,
            table.options,
            table.seen,
          );
        },
      });
    }
  }
}

async function webgpuSteps(t: Deno.TestContext, table: Table): Promise<void> {
  const gpu = await probeWebGpu();
  const noGpu = gpu.available ? undefined : `no WebGPU adapter: ${gpu.reason}`;
  await t.step({
    name: stepName("webgpu", noGpu),
    ignore: noGpu !== undefined,
    fn: async (g) => {
      await startWebGpu({ allowSoftware: true });
      const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
      // Small tensors would otherwise run on tfjs' cpu fallback.
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      try {
        for (const c of table.cases) {
          await g.step({
            name: stepName(shown(c.spec), table.skip(c)),
            ignore: table.skip(c) !== undefined,
            fn: () =>
              compare(
                table.refOf(c),
                `${c.spec.name} (webgpu)`,
                table.options,
                table.seen,
              ),
          });
        }
      } finally {
        tf.env().set("WEBGPU_CPU_FORWARD", forward);
        stopWebGpu();
        await tf.setBackend("wasm");
      }
    },
  });
}

/** tfjs-layers read simdnet's file (`back`) as it read its own (`want`). */
function checkRoundTrip(back: Reference, want: Reference): void {
  assert.deepEqual(back.info.classNames, want.info.classNames);
  assert.deepEqual(back.info.layerNames, want.info.layerNames);
  assert.deepEqual(back.info.weightNames, want.info.weightNames);
  assert.deepEqual(back.info.trainable, want.info.trainable);
  assert.equal(back.info.sequential, want.info.sequential);
  if (!want.info.sequential) {
    assert.deepEqual(back.info.inbound, want.info.inbound);
  }
  want.info.configs.forEach((config, i) => {
    const moved = want.info.sequential && i === 0;
    const diff = configDiff(back.info.configs[i]!, config, moved);
    assert.deepEqual(diff, [], `${want.info.layerNames[i]}'s config`);
  });
  assert.equal(back.info.countParams, want.info.countParams);
  checkClose(
    back.out,
    want.out,
    EXACT,
    "tfjs-layers' output of simdnet's file",
  );
}

/** The other way: simdnet saves, tfjs-layers loads, on the same batch. */
async function roundTripSteps(
  t: Deno.TestContext,
  child: TflReference,
  table: Table,
): Promise<void> {
  const loadable = table.cases.filter(table.runnable);
  for (const c of loadable) {
    await saveWithSimdnet(table.refOf(c), `${c.dir}/simdnet`);
  }
  await child.run({
    module: table.options.module,
    specs: [],
    items: loadable.map((c) => ({
      dir: `${c.dir}/simdnet`,
      seed: c.spec.seed,
      batch: table.options.batch,
      inputFrom: c.dir,
      // Same weights, same configs, same math: the outputs and the
      // trainable list are proof enough, and the gradients cost seconds.
      gradients: false,
    })),
  });
  for (const c of table.cases) {
    await t.step({
      name: stepName(
        `${c.spec.name}: saved by simdnet, loaded by tfjs-layers`,
        table.skip(c),
      ),
      ignore: table.skip(c) !== undefined,
      fn: async () => {
        const want = table.refOf(c);
        checkRoundTrip(await readReference(`${c.dir}/simdnet`), want);
      },
    });
  }
}

/** The comparison fails on an error 3x its tolerance in one value. */
async function selfCheck(table: Table): Promise<void> {
  // The first case with a weight's gradient (a table may open with
  // weightless layers); the input's gradient when none has.
  const withGrads = table.cases.filter((c) =>
    table.runnable(c) && table.refOf(c).info.gradients
  );
  const first =
    withGrads.find((c) => table.refOf(c).info.trainable.length > 0) ??
      withGrads[0] ?? table.cases[0]!;
  const ref = table.refOf(first);
  const tol = table.options;
  await tf.setBackend("wasm");
  await compare(ref, "unchanged", tol);
  const off = (v: Float32Array, by: number) => {
    const c = v.slice();
    const i = c.reduce((m, x, j) => Math.abs(x) > Math.abs(c[m]!) ? j : m, 0);
    c[i]! *= 1 + by;
    return c;
  };
  await assert.rejects(
    compare(
      { ...ref, out: off(ref.out, 3 * tol.output[0]) },
      "bad output",
      tol,
    ),
    /bad output: output: error/,
  );
  const kernel = ref.info.trainable[0]?.name ?? "input";
  const grads = new Map(ref.grads);
  grads.set(kernel, off(ref.grads.get(kernel)!, 3 * tol.grad[0]));
  await assert.rejects(
    compare({ ...ref, grads }, "bad gradient", tol),
    // The first trainable weight: a kernel, or a gamma in a BN-only table.
    /bad gradient: d loss \/ d .+: error/,
  );
  await assert.rejects(
    compare(
      { ...ref, info: { ...ref.info, penalty: (ref.info.penalty ?? 0) + 1 } },
      "bad penalty",
      tol,
    ),
    /bad penalty: regularization penalty: error/,
  );
  await selfCheckSteps(table, off);
}

/** With a case of training steps: a moved weight just off fails too. */
async function selfCheckSteps(
  table: Table,
  off: (v: Float32Array, by: number) => Float32Array,
): Promise<void> {
  const c = table.cases.find((c) => table.runnable(c) && c.spec.steps);
  if (!c) return;
  const ref = table.refOf(c);
  const tol = table.options;
  const after = ref.after.map((w, i) =>
    i === ref.after.length - 1 ? off(w, 3 * tol.output[0]) : w
  );
  await assert.rejects(
    compare({ ...ref, after }, "bad steps", tol),
    /bad steps: .+ after the steps: error/,
  );
}

/**
 * Runs every spec of `options.groups` through tfjs-layers in one child and
 * through simdnet, as steps of `t`: cpu when `options.cpu`, wasm at 1 and 2
 * threads, webgpu when an adapter exists, the round trip simdnet -> tfjs-layers, and a check that
 * the comparison can fail. Needs simdnet's wasm runtime started with 2
 * threads. Returns the worst errors seen.
 */
export async function runConformance(
  t: Deno.TestContext,
  options: ConformanceOptions,
): Promise<Seen> {
  // simdnet's gradient configs must be the ones computing simdnet's side.
  for (const kernel of TFJS_ONLY_GRADIENTS) {
    assert.equal(tf.getGradient(kernel), undefined, `tfjs' ${kernel} gradient`);
  }
  const root = await Deno.makeTempDir({ prefix: "simdnet_tfl_" });
  const child = options.child ?? TflReference.start();
  try {
    const table = await prepare(child, root, options);
    if (options.cpu) await cpuSteps(t, table);
    await wasmSteps(t, table);
    await webgpuSteps(t, table);
    await roundTripSteps(t, child, table);
    await t.step(
      "the comparison notices an error just over a tolerance",
      () => selfCheck(table),
    );
    return table.seen;
  } finally {
    if (!options.child) await child.close();
    await Deno.remove(root, { recursive: true });
  }
}
