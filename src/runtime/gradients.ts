/**
 * Gradient configs for the tfjs kernels a CNN trainer needs.
 *
 * tfjs-core's npm entry point registers no gradients at all (they live in a
 * side-effect module that the bundled build leaves out), so `tf.grads` and
 * friends fail with "gradient function not found" for almost every op.
 * {@linkcode registerGradients} fills the registry with our own configs.
 *
 * Why not tfjs' own configs (checked with tfjs 4.22, Deno 2.9): no build of
 * tfjs-core contains them except `dist/register_all_gradients.js` and
 * `dist/gradients/*_grad.js`, ES modules whose extensionless imports
 * (`'./gradients/Abs_grad'`) Deno cannot resolve (ERR_MODULE_NOT_FOUND; a
 * test pins this). The one loadable copy is inside tfjs-layers' 1.4 MB
 * bundle, which registers all of them as a side effect of its import (+94 ms
 * on every start, 318 ms on the first) and, run against our tests, gets
 * broadcasting wrong for SquaredDifference, Maximum and Minimum. So every
 * config here is ours; where tfjs' would also be wrong or slower, it says so.
 *
 * Every gradient is written in terms of tfjs ops or kernel names
 * (`Conv2DBackpropInput`, `Conv2DBackpropFilter`, `MaxPoolGrad`,
 * `AvgPoolGrad`, `BatchMatMul`), so whatever fast kernels the active backend
 * registers under those names are used during training too.
 *
 * Element-wise, shape and reduction ops are here; the layer kernels
 * (convolutions, pooling, matmul, softmax, fused ops) are in
 * `gradients_nn.ts`, depthwise convolutions and average pooling in
 * `gradients_conv.ts`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  at,
  defineGradient,
  type GradMap,
  reductionAxes,
  unbroadcast,
} from "./gradient_util.ts";
import { registerActivationGradients } from "./gradients_activations.ts";
import { registerConvGradients } from "./gradients_conv.ts";
import { registerNnGradients } from "./gradients_nn.ts";

/** `shape` with `axes` set to 1, i.e. the keepDims shape of a reduction. */
function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function f32(t: tf.Tensor): tf.Tensor {
  return tf.cast(t, "float32");
}

function binary(
  name: string,
  da: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  db: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
): void {
  defineGradient(name, { inputs: ["a", "b"] }, (dy, saved) => {
    const a = at(saved, 0);
    const b = at(saved, 1);
    return {
      a: () => unbroadcast(da(dy, a, b), a.shape),
      b: () => unbroadcast(db(dy, a, b), b.shape),
    };
  });
}

/** `dx = dy * f(x)` for a unary kernel, with `x` saved. */
function unaryX(name: string, f: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor) {
  defineGradient(name, { inputs: ["x"] }, (dy, saved) => ({
    x: () => f(at(saved, 0), dy),
  }));
}

/** `dx = f(y, dy)` for a unary kernel, with its output `y` saved. */
function unaryY(name: string, f: (y: tf.Tensor, dy: tf.Tensor) => tf.Tensor) {
  defineGradient(name, { output: true }, (dy, saved) => ({
    x: () => f(at(saved, 0), dy),
  }));
}

function registerElementwise(): void {
  binary(tf.Add, (dy) => dy, (dy) => dy);
  binary(tf.Sub, (dy) => dy, (dy) => tf.neg(dy));
  binary(tf.Multiply, (dy, _a, b) => tf.mul(dy, b), (dy, a) => tf.mul(dy, a));
  binary(
    tf.RealDiv,
    (dy, _a, b) => tf.div(dy, b),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b))),
  );
  // tfjs' does not sum a broadcast operand's gradient back to its shape.
  binary(
    tf.SquaredDifference,
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(a, b), 2)),
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(b, a), 2)),
  );
  // Ties go to `a`, like TensorFlow. tfjs' Maximum and Minimum gradients
  // do not undo broadcasting (wrong shape for a [4] operand of a [3, 4]).
  binary(
    tf.Maximum,
    (dy, a, b) => tf.mul(dy, f32(tf.greaterEqual(a, b))),
    (dy, a, b) => tf.mul(dy, f32(tf.less(a, b))),
  );
  binary(
    tf.Minimum,
    (dy, a, b) => tf.mul(dy, f32(tf.lessEqual(a, b))),
    (dy, a, b) => tf.mul(dy, f32(tf.greater(a, b))),
  );
  defineGradient(tf.AddN, { allInputs: true }, (dy, saved) => {
    // Clones give each input its own tensor, which the engine may dispose.
    const grads: GradMap = {};
    saved.forEach((_, i) => (grads[i] = () => tf.clone(dy)));
    return grads;
  });

  unaryX(tf.Neg, (_x, dy) => tf.neg(dy));
  unaryX(tf.Square, (x, dy) => tf.mul(dy, tf.mul(x, 2)));
  unaryX(tf.Log, (x, dy) => tf.div(dy, x));
  unaryX(tf.Abs, (x, dy) => tf.mul(dy, tf.sign(x)));
  unaryX(tf.Relu, (x, dy) => tf.mul(dy, tf.step(x)));
  unaryX(
    tf.Relu6,
    (x, dy) => tf.mul(dy, f32(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)))),
  );
  unaryY(tf.Sqrt, (y, dy) => tf.div(dy, tf.mul(y, 2)));
  unaryY(tf.Rsqrt, (y, dy) => tf.mul(dy, tf.mul(tf.pow(y, 3), -0.5)));
  unaryY(tf.Exp, (y, dy) => tf.mul(dy, y));
  unaryY(tf.Sigmoid, (y, dy) => tf.mul(dy, tf.mul(y, tf.sub(1, y))));
  unaryY(tf.Tanh, (y, dy) => tf.mul(dy, tf.sub(1, tf.square(y))));
  defineGradient(tf.LeakyRelu, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const alpha = attrs.alpha as number;
      return tf.where(tf.greater(at(saved, 0), 0), dy, tf.mul(dy, alpha));
    },
  }));
  defineGradient(tf.ClipByValue, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const x = at(saved, 0);
      const inside = tf.logicalAnd(
        tf.greaterEqual(x, attrs.clipValueMin as number),
        tf.lessEqual(x, attrs.clipValueMax as number),
      );
      return tf.mul(dy, f32(inside));
    },
  }));
  // Piecewise-constant ops: zero gradient, so they can sit on a path.
  for (const name of [tf.Floor, tf.Ceil, tf.Round, tf.Sign, tf.Step]) {
    defineGradient(name, {}, (dy) => ({ x: () => tf.zerosLike(dy) }));
  }
  for (const name of [tf.Identity, tf.Cast]) {
    defineGradient(name, {}, (dy) => ({ x: () => tf.clone(dy) }));
  }
}

function registerShape(): void {
  defineGradient(tf.Reshape, { inputs: ["x"] }, (dy, saved) => ({
    x: () => tf.reshape(dy, at(saved, 0).shape),
  }));
  defineGradient(tf.ExpandDims, { inputs: ["input"] }, (dy, saved) => ({
    input: () => tf.reshape(dy, at(saved, 0).shape),
  }));
  defineGradient(tf.Transpose, {}, (dy, _saved, attrs) => ({
    x: () => {
      const perm = attrs.perm as number[];
      const inverse = new Array<number>(perm.length);
      perm.forEach((p, i) => (inverse[p] = i));
      return tf.transpose(dy, inverse);
    },
  }));
  defineGradient(tf.BroadcastTo, {}, (dy, _saved, attrs) => ({
    x: () => unbroadcast(dy, attrs.inputShape as number[]),
  }));
  defineGradient(tf.Tile, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      // Index t*s + j of a tiled axis is copy t of element j: view each axis
      // as [reps, size] and sum over the reps axes.
      const x = at(saved, 0);
      const reps = attrs.reps as number[];
      const split = x.shape.flatMap((s, i) => [reps[i] ?? 1, s]);
      const repAxes = x.shape.map((_, i) => 2 * i);
      return tf.reshape(tf.sum(tf.reshape(dy, split), repAxes), x.shape);
    },
  }));
  defineGradient(tf.Slice, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const x = at(saved, 0);
      const [begin = []] = tf.slice_util.parseSliceParams(
        x,
        attrs.begin as number[],
        attrs.size as number[],
      );
      const pads = x.shape.map((d, i): [number, number] => {
        const b = begin[i] ?? 0;
        return [b, d - b - (dy.shape[i] ?? 0)];
      });
      return tf.pad(dy, pads);
    },
  }));
  defineGradient(tf.PadV2, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const pads = attrs.paddings as Array<[number, number]>;
      return tf.slice(dy, pads.map((p) => p[0]), at(saved, 0).shape);
    },
  }));
  defineGradient(tf.Concat, { allInputs: true }, (dy, saved, attrs) => {
    const axis = tf.util.parseAxisParam(attrs.axis as number, dy.shape)[0] ??
      0;
    const grads: GradMap = {};
    let offset = 0;
    saved.forEach((t, i) => {
      const begin = dy.shape.map((_, d) => (d === axis ? offset : 0));
      grads[i] = () => tf.slice(dy, begin, t.shape);
      offset += t.shape[axis] ?? 0;
    });
    return grads;
  });
}

function registerReductions(): void {
  // dy spread back over the reduced axes. A product with onesLike(x)
  // rather than broadcastTo: on wasm (2 threads) broadcastTo (a Tile)
  // took 184 ms for a [32, 16, 16, 64] x, the product 3 ms, which is the
  // whole backward pass of a global average pool.
  const spread = (dy: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor =>
    tf.mul(tf.reshape(dy, keptShape(x.shape, axes)), tf.onesLike(x));
  defineGradient(tf.Sum, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const x = at(saved, 0);
      return spread(dy, x, reductionAxes(attrs.axis, x.rank));
    },
  }));
  defineGradient(tf.Mean, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const x = at(saved, 0);
      const axes = reductionAxes(attrs.axis, x.rank);
      const n = axes.reduce((p, a) => p * (x.shape[a] ?? 1), 1);
      return tf.div(spread(dy, x, axes), n);
    },
  }));
  for (const [name, key] of [[tf.Max, "reductionIndices"], [tf.Min, "axis"]]) {
    defineGradient(
      name as string,
      { inputs: ["x"], output: true },
      (dy, saved, attrs) => ({
        x: () => {
          const x = at(saved, 0);
          const axes = reductionAxes(attrs[key as string], x.rank);
          const kept = keptShape(x.shape, axes);
          // y at x's full shape first: wasm's broadcasting Equal took
          // 242 ms for a [32, 16, 16, 64] x against 19 ms without.
          const y = tf.mul(tf.reshape(at(saved, 1), kept), tf.onesLike(x));
          return tf.mul(tf.reshape(dy, kept), f32(tf.equal(x, y)));
        },
      }),
    );
  }
}

let registered = false;

/**
 * Registers gradient configs for the kernels used by simdnet's layers,
 * losses and optimiser, and for common element-wise, shape and reduction
 * kernels. Safe to call more than once.
 */
export function registerGradients(): void {
  if (registered) return;
  registerElementwise();
  registerShape();
  registerReductions();
  registerNnGradients();
  registerActivationGradients();
  registerConvGradients();
  registered = true;
}
