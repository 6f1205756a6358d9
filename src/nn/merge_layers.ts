/**
 * Keras' merge layers for functional models: `Add`, `Multiply` (element-wise,
 * with Keras' broadcasting of size-1 axes) and `Concatenate` (along `axis`,
 * default -1). They have no weights; `plan` checks that the input shapes fit
 * together, so a model file whose branches do not connect fails before
 * anything is allocated.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  describe,
  type LayerConfig,
  ModelFormatError,
} from "./config_values.ts";
import type {
  ApplyContext,
  LayerPlan,
  MergeLayer,
  NamedWeight,
} from "./layer.ts";

type Shapes = readonly (readonly number[])[];

function shapeList(shapes: Shapes): string {
  return shapes.map((s) => `[${s.join(",")}]`).join(" and ");
}

function atLeastTwo(name: string, kind: string, shapes: Shapes): void {
  if (shapes.length < 2) {
    throw new Error(
      `${name}: ${kind} needs at least 2 inputs, got ${shapes.length}`,
    );
  }
}

/** Options of the merge layers. */
export interface MergeOptions {
  /** Keras layer name; assigned by the model when empty. */
  name?: string;
}

/**
 * The element-wise merges: every input has the same rank and each axis is
 * either the same size everywhere or 1 (broadcast), as in Keras'
 * `_compute_elemwise_op_output_shape`.
 */
abstract class ElementwiseMerge implements MergeLayer {
  abstract readonly className: string;
  readonly merge = true as const;
  name: string;
  trainable = true;
  readonly weights: readonly NamedWeight[] = [];

  /** Describes the layer. */
  constructor(options: MergeOptions = {}) {
    this.name = options.name ?? "";
  }

  /** The broadcast shape of the inputs; throws when they differ. */
  plan(inputShapes: Shapes): LayerPlan {
    atLeastTwo(this.name, this.className, inputShapes);
    const rank = inputShapes[0]!.length;
    const out = [...inputShapes[0]!];
    for (const shape of inputShapes) {
      const fits = shape.length === rank &&
        shape.every((d, i) => d === out[i] || d === 1 || out[i] === 1);
      if (!fits) {
        throw new Error(
          `${this.name}: inputs of shapes ${shapeList(inputShapes)} cannot ` +
            `be combined element-wise; the branches must output the same shape`,
        );
      }
      shape.forEach((d, i) => (out[i] = Math.max(out[i]!, d)));
    }
    return { output: out, weights: [] };
  }

  /** Checks the shapes; no weights. */
  build(inputShapes: Shapes): number[] {
    return this.plan(inputShapes).output;
  }

  /** Combines the inputs, left to right. */
  apply(xs: readonly tf.Tensor[], _ctx: ApplyContext): tf.Tensor {
    return tf.tidy(() => xs.slice(1).reduce((a, b) => this.op(a, b), xs[0]!));
  }

  protected abstract op(a: tf.Tensor, b: tf.Tensor): tf.Tensor;

  /** Keras config. */
  config(): Record<string, unknown> {
    return { name: this.name, trainable: this.trainable, dtype: "float32" };
  }
}

/** Keras `Add`: the element-wise sum of its inputs. */
export class Add extends ElementwiseMerge {
  readonly className = "Add";

  /** `a + b`. */
  protected op(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.add(a, b);
  }
}

/** Keras `Multiply`: the element-wise product of its inputs. */
export class Multiply extends ElementwiseMerge {
  readonly className = "Multiply";

  /** `a * b`. */
  protected op(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.mul(a, b);
  }
}

/** Options of {@linkcode Concatenate}. */
export interface ConcatenateOptions extends MergeOptions {
  /** Axis counted with the batch axis, as in Keras; default -1 (channels). */
  axis?: number;
}

/** Keras `Concatenate`: joins its inputs along `axis`. */
export class Concatenate implements MergeLayer {
  readonly className = "Concatenate";
  readonly merge = true as const;
  name: string;
  trainable = true;
  readonly weights: readonly NamedWeight[] = [];
  /** Keras' axis, counting the batch axis (so -1 is the last one). */
  readonly axis: number;

  /** Describes the layer. */
  constructor(options: ConcatenateOptions = {}) {
    this.name = options.name ?? "";
    this.axis = options.axis ?? -1;
    if (!Number.isInteger(this.axis)) {
      throw new RangeError(`axis must be a whole number, got ${this.axis}`);
    }
  }

  // The axis within a shape without the batch axis; the batch axis itself
  // cannot be joined, since a model's inputs and outputs share it.
  #axisIn(rank: number): number {
    const full = this.axis < 0 ? rank + 1 + this.axis : this.axis;
    if (full < 1 || full > rank) {
      throw new Error(
        `${this.name}: axis ${this.axis} does not name a non-batch axis of ` +
          `inputs of rank ${rank + 1}; use 1 to ${rank} or -1 to -${rank}`,
      );
    }
    return full - 1;
  }

  /** The joined shape; throws when the other axes differ. */
  plan(inputShapes: Shapes): LayerPlan {
    atLeastTwo(this.name, "Concatenate", inputShapes);
    const first = inputShapes[0]!;
    const axis = this.#axisIn(first.length);
    const out = [...first];
    out[axis] = 0;
    for (const shape of inputShapes) {
      const fits = shape.length === first.length &&
        shape.every((d, i) => i === axis || d === first[i]);
      if (!fits) {
        throw new Error(
          `${this.name}: inputs of shapes ${shapeList(inputShapes)} cannot ` +
            `be concatenated on axis ${this.axis}; every other axis must match`,
        );
      }
      out[axis]! += shape[axis]!;
    }
    return { output: out, weights: [] };
  }

  /** Checks the shapes; no weights. */
  build(inputShapes: Shapes): number[] {
    return this.plan(inputShapes).output;
  }

  /** Concatenates the inputs in order. */
  apply(xs: readonly tf.Tensor[], _ctx: ApplyContext): tf.Tensor {
    return tf.concat([...xs], this.#axisIn(xs[0]!.rank - 1) + 1);
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      axis: this.axis,
    };
  }
}

/** Reads an `Add` entry of `model.json`. */
export function addFromConfig({ name }: LayerConfig): Add {
  return new Add({ name });
}

/** Reads a `Multiply` entry of `model.json`. */
export function multiplyFromConfig({ name }: LayerConfig): Multiply {
  return new Multiply({ name });
}

/** Reads a `Concatenate` entry of `model.json` (`axis`, default -1). */
export function concatenateFromConfig(
  { name, config: c, where }: LayerConfig,
): Concatenate {
  const axis = c.axis ?? -1;
  if (!Number.isInteger(axis)) {
    throw new ModelFormatError(
      `${where} axis must be a whole number, got ${describe(axis)}`,
    );
  }
  return new Concatenate({ name, axis: axis as number });
}
