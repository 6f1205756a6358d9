/**
 * `deno run --allow-read --allow-env bench/profile_airbench.ts [--threads N]
 * [--steps N] [--batch N] [--backend B]`
 *
 * Where a training step of an airbench-like network (issue #14) spends its
 * time, kernel by kernel, as `bench:profile` does for the seed CNN: a 3x3
 * stem (valid padding, so the groups run at the odd sizes 15 and 7 after
 * the first pool), three groups of conv 3x3 -> max-pool 2 -> BatchNorm ->
 * GELU -> conv 3x3 -> BatchNorm -> GELU at widths 32/128/128 (airbench's
 * 64/256/256 scaled by 0.5), a final 3x3 max-pool and a linear head, batch
 * 512. BatchNorm (training mode: batch moments) and the erf GELU are
 * written with plain tf ops, as a layer would, so the same tfjs kernels run;
 * GELU's gradient is written out with tf ops because simdnet registers no
 * `Erf` gradient yet. The "by" column tells simdnet's threaded kernels from
 * tfjs' own (single-threaded under Deno); issue #13 asks that no tfjs row
 * take more than 5% of the step.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { initRuntime } from "../src/runtime/init.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../src/runtime/types.ts";
import { Adam } from "../src/train/adam.ts";
import { softmaxCrossEntropy } from "../src/train/loss.ts";
import { createRng, type Rng } from "../src/util/random.ts";
import { EXIT_OK } from "../src/cli/exit_codes.ts";
import { backendFlag, parseFlags, wholeFlag } from "../src/cli/flags.ts";
import { reportFailure, runCli } from "../src/cli/run_cli.ts";
import { instrumentKernels, printKernelTable } from "./profile_step.ts";

const BACKENDS = BACKEND_CHOICES.filter((b) => b !== "auto");

const USAGE =
  `usage: bench/profile_airbench.ts [--threads N] [--steps N] [--batch N] [--backend ${
    BACKENDS.join("|")
  }]`;

/** What the airbench profile measures. */
export interface AirbenchProfileOptions {
  backend: BackendChoice;
  threads: number | undefined;
  /** Timed training steps (after two untimed ones). */
  steps: number;
  batch: number;
}

/** Parses the command line; "help" for --help. */
export function parseAirbenchArgs(
  args: string[],
): AirbenchProfileOptions | "help" {
  const { values } = parseFlags(args, {
    threads: { type: "string" },
    steps: { type: "string", default: "5" },
    batch: { type: "string", default: "512" },
    backend: { type: "string", default: "wasm" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  return {
    backend: backendFlag(values.backend, BACKENDS),
    threads: wholeFlag(values.threads, "threads", 1),
    steps: wholeFlag(values.steps, "steps", 1)!,
    batch: wholeFlag(values.batch, "batch", 1)!,
  };
}

/** Stem width and the three group widths (airbench's, scaled by 0.5). */
const STEM = 24;
const WIDTHS = [32, 128, 128] as const;
const CLASSES = 10;
const BN_EPSILON = 1e-3;

function randomVariable(rng: Rng, shape: number[], scale: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n).map(() => (2 * rng.next() - 1) * scale);
  return tf.variable(tf.tensor(v, shape));
}

interface Params {
  convs: tf.Variable[];
  gammas: tf.Variable[];
  betas: tf.Variable[];
  head: tf.Variable;
}

function makeParams(rng: Rng): Params {
  const convs: tf.Variable[] = [];
  const gammas: tf.Variable[] = [], betas: tf.Variable[] = [];
  let cin = 3;
  for (const cout of [STEM, ...WIDTHS.flatMap((w) => [w, w])]) {
    convs.push(
      randomVariable(rng, [3, 3, cin, cout], Math.sqrt(3 / (9 * cin))),
    );
    cin = cout;
  }
  for (const w of WIDTHS.flatMap((w) => [w, w])) {
    gammas.push(tf.variable(tf.ones([w])));
    betas.push(tf.variable(tf.zeros([w])));
  }
  const head = randomVariable(rng, [cin, CLASSES], Math.sqrt(3 / cin));
  return { convs, gammas, betas, head };
}

/** GELU, 0.5 x (1 + erf(x / √2)), with its derivative written out. */
const gelu = tf.customGrad((...args) => {
  const xt = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(xt, Math.SQRT1_2))));
  save([xt, cdf]);
  return {
    value: tf.mul(xt, cdf),
    gradFunc: (dy, saved) => {
      const [xs, c] = saved as [tf.Tensor, tf.Tensor];
      // d/dx x Φ(x) = Φ(x) + x φ(x), φ the standard normal density.
      const pdf = tf.mul(
        1 / Math.sqrt(2 * Math.PI),
        tf.exp(tf.mul(-0.5, tf.square(xs))),
      );
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
});

/** BatchNormalization in training mode over N, H, W, as Keras computes it. */
function batchNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor) {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const inv = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)));
  return tf.add(tf.mul(tf.sub(x, mean), inv), beta);
}

function forward(p: Params, x: tf.Tensor4D): tf.Tensor2D {
  let h = tf.conv2d(x, p.convs[0] as tf.Tensor4D, 1, "valid");
  for (let g = 0; g < WIDTHS.length; g++) {
    h = tf.conv2d(h, p.convs[1 + 2 * g] as tf.Tensor4D, 1, "same");
    h = tf.maxPool(h, 2, 2, "valid");
    h = gelu(batchNorm(h, p.gammas[2 * g]!, p.betas[2 * g]!)) as tf.Tensor4D;
    h = tf.conv2d(h, p.convs[2 + 2 * g] as tf.Tensor4D, 1, "same");
    h = gelu(
      batchNorm(h, p.gammas[2 * g + 1]!, p.betas[2 * g + 1]!),
    ) as tf.Tensor4D;
  }
  h = tf.maxPool(h, 3, 3, "valid");
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  // airbench's fixed output scale.
  return tf.mul(tf.matMul(flat, p.head), 1 / 9);
}

/** Profiles training steps as `o` says and prints the table. */
export async function runAirbenchProfile(
  o: AirbenchProfileOptions,
): Promise<number> {
  const info = await initRuntime({
    backend: o.backend,
    threads: o.threads,
    allowSoftwareGpu: o.backend === "webgpu",
  });
  const rng = createRng(14);
  const p = makeParams(rng);
  const vars = [...p.convs, ...p.gammas, ...p.betas, p.head];
  const adam = new Adam(vars.map((v, i) => ({ name: `w${i}`, variable: v })));
  const x = tf.tensor4d(
    new Float32Array(o.batch * 32 * 32 * 3).map(() => rng.next()),
    [o.batch, 32, 32, 3],
  );
  const onehot = tf.cast(
    tf.oneHot(
      tf.tensor1d(
        Int32Array.from({ length: o.batch }, (_, i) => i % CLASSES),
        "int32",
      ),
      CLASSES,
    ),
    "float32",
  );
  const kernels = instrumentKernels(info.backend);
  let start = 0;
  // Two untimed steps first: compilation and heap growth.
  for (let step = 0; step < o.steps + 2; step++) {
    if (step === 2) {
      kernels.recording = true;
      start = performance.now();
    }
    const { grads, value } = tf.variableGrads(
      () => softmaxCrossEntropy(forward(p, x), onehot),
      vars,
    );
    adam.applyGradients(vars.map((v) => grads[v.name]!));
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  }
  const perStep = (performance.now() - start) / o.steps;
  console.log(
    `airbench-like training step, batch ${o.batch}, widths ${WIDTHS}: ` +
      `${info.backend}, ${info.threads} thread(s), mean of ${o.steps} steps\n`,
  );
  printKernelTable(kernels, o.steps, perStep);
  return EXIT_OK;
}

/** Runs the profile with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseAirbenchArgs,
    run: runAirbenchProfile,
    failure: (error) => reportFailure(error, "profile_airbench"),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
