/**
 * Writes a simdnet {@linkcode Sequential} of Conv2D, MaxPooling2D, Dropout,
 * Flatten and Dense layers as an ONNX model (opset 13), with its current
 * weights, so that ONNX Runtime runs the very model simdnet runs.
 *
 * ONNX convolutions are NCHW while simdnet is NHWC: the graph takes the
 * NHWC batch simdnet takes and starts with one Transpose; kernels go from
 * HWIO to OIHW; and the Dense after Flatten gets its rows permuted from
 * Keras' HWC order to CHW order, so no Transpose is needed before Flatten.
 * Dropout is the identity at inference and is left out.
 *
 * @module
 */

import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import type { Sequential, WeightValues } from "../src/nn/sequential.ts";
import { ProtoWriter } from "./_protobuf.ts";

const FLOAT = 1; // TensorProto.DataType
const ATTR_INT = 2; // AttributeProto.AttributeType
const ATTR_INTS = 7;
const IR_VERSION = 7;
const OPSET = 13;

/** The graph's input and output names. */
export const ONNX_INPUT = "input";
export const ONNX_OUTPUT = "probabilities";

interface Node {
  op: string;
  inputs: string[];
  output: string;
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
}

interface Initializer {
  name: string;
  dims: number[];
  values: Float32Array;
}

/** HWIO `[kh, kw, cin, cout]` to OIHW `[cout, cin, kh, kw]`. */
export function hwioToOihw(
  values: Float32Array,
  shape: readonly number[],
): Float32Array {
  const [kh = 0, kw = 0, cin = 0, cout = 0] = shape;
  const out = new Float32Array(values.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] =
            values[((y * kw + x) * cin + i) * cout + o]!;
        }
      }
    }
  }
  return out;
}

/** Reorders the rows of a `[h*w*c, units]` kernel from HWC to CHW order. */
export function hwcRowsToChw(
  values: Float32Array,
  hwc: readonly number[],
  units: number,
): Float32Array {
  const [h = 0, w = 0, c = 0] = hwc;
  const out = new Float32Array(values.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        const from = ((y * w + x) * c + ch) * units;
        const to = ((ch * h + y) * w + x) * units;
        out.set(values.subarray(from, from + units), to);
      }
    }
  }
  return out;
}

function samePads(kh: number, kw: number): number[] {
  // TensorFlow puts the odd pixel of `same` padding at the end.
  const top = Math.floor((kh - 1) / 2);
  const left = Math.floor((kw - 1) / 2);
  return [top, left, kh - 1 - top, kw - 1 - left];
}

function writeTensor(w: ProtoWriter, t: Initializer): void {
  w.ints(1, t.dims).int(2, FLOAT).string(8, t.name);
  const v = t.values;
  w.bytes(9, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}

function writeValueInfo(
  w: ProtoWriter,
  name: string,
  dims: Array<number | string>,
): void {
  w.string(1, name).message(
    2,
    (type) =>
      type.message(1, (tensor) =>
        tensor.int(1, FLOAT).message(2, (shape) => {
          for (const d of dims) {
            shape.message(
              1,
              (dim) => typeof d === "number" ? dim.int(1, d) : dim.string(2, d),
            );
          }
        })),
  );
}

function writeNode(w: ProtoWriter, node: Node, index: number): void {
  for (const i of node.inputs) w.string(1, i);
  w.string(2, node.output).string(3, `${node.op.toLowerCase()}_${index}`)
    .string(4, node.op);
  for (const [name, values] of Object.entries(node.ints ?? {})) {
    w.message(5, (a) => a.string(1, name).ints(8, values).int(20, ATTR_INTS));
  }
  for (const [name, value] of Object.entries(node.int ?? {})) {
    w.message(5, (a) => a.string(1, name).int(3, value).int(20, ATTR_INT));
  }
}

/** The graph as it is built: nodes, initialisers, the current tensor. */
class OnnxGraph {
  readonly nodes: Node[] = [];
  readonly inits: Initializer[] = [];
  current = "input_nchw";
  readonly #weights: Map<string, WeightValues>;

  constructor(weights: readonly WeightValues[]) {
    this.#weights = new Map(weights.map((w) => [w.name, w]));
    this.nodes.push({
      op: "Transpose",
      inputs: [ONNX_INPUT],
      output: this.current,
      ints: { perm: [0, 3, 1, 2] },
    });
  }

  weight(name: string): WeightValues {
    const w = this.#weights.get(name);
    if (!w) throw new Error(`ONNX export: no value for weight '${name}'`);
    return w;
  }

  /** A node on the current tensor (and `more` inputs); it becomes current. */
  add(op: string, more: string[] = [], extra: Partial<Node> = {}): void {
    const output = `${op.toLowerCase()}_${this.nodes.length}`;
    this.nodes.push({ op, inputs: [this.current, ...more], output, ...extra });
    this.current = output;
  }

  /** The kernel (as given, or `values`) and the bias if used, as inputs. */
  params(
    layer: { name: string; useBias: boolean },
    kernel: WeightValues,
    dims: number[],
    values: Float32Array,
  ): string[] {
    this.inits.push({ name: kernel.name, dims, values });
    if (!layer.useBias) return [kernel.name];
    const bias = this.weight(`${layer.name}/bias`);
    this.inits.push({ name: bias.name, dims: bias.shape, values: bias.values });
    return [kernel.name, bias.name];
  }

  /** Relu, Softmax (if `allowed`) or nothing for linear; else an error. */
  activation(layer: Conv2D | Dense, allowed: readonly string[]): void {
    const a = layer.activation;
    if (a === "relu" && allowed.includes(a)) this.add("Relu");
    else if (a === "softmax" && allowed.includes(a)) {
      this.add("Softmax", [], { int: { axis: -1 } });
    } else if (a !== "linear") {
      throw new Error(
        `ONNX export: ${layer.className} activation '${a}' is not supported`,
      );
    }
  }

  conv(layer: Conv2D): void {
    const kernel = this.weight(`${layer.name}/kernel`);
    const [kh, kw] = layer.kernelSize;
    const oihw = [kernel.shape[3]!, kernel.shape[2]!, kh, kw];
    const pads = layer.padding === "same" ? samePads(kh, kw) : [0, 0, 0, 0];
    this.add(
      "Conv",
      this.params(layer, kernel, oihw, hwioToOihw(kernel.values, kernel.shape)),
      { ints: { kernel_shape: [kh, kw], pads, strides: [1, 1] } },
    );
    this.activation(layer, ["relu"]);
  }

  /** `flattenedFrom`: the HWC shape a Flatten just before turned into rows. */
  dense(layer: Dense, flattenedFrom: number[] | null): void {
    const kernel = this.weight(`${layer.name}/kernel`);
    const values = flattenedFrom
      ? hwcRowsToChw(kernel.values, flattenedFrom, layer.units)
      : kernel.values;
    this.add("Gemm", this.params(layer, kernel, kernel.shape, values));
    // Dense takes any Keras activation; export only these three.
    this.activation(layer, ["relu", "softmax"]);
  }
}

/**
 * The ONNX bytes of `model` with `weights` (from `model.getWeights()`).
 * The input is `[N, ...model.inputShape]` float32 NHWC with a free batch
 * size; the output is `[N, classes]` probabilities (or logits if the last
 * Dense is linear). Throws for layers or settings it cannot express.
 */
export function sequentialToOnnx(
  model: Sequential,
  weights: readonly WeightValues[],
): Uint8Array {
  const g = new OnnxGraph(weights);
  let shape = [...model.inputShape]; // NHWC without batch while 3-D
  let flattenedFrom: number[] | null = null;
  model.layers.forEach((layer, i) => {
    if (layer instanceof Conv2D) {
      g.conv(layer);
    } else if (layer instanceof MaxPooling2D) {
      if (layer.padding !== "valid") {
        throw new Error("ONNX export: only 'valid' max pooling");
      }
      const p = layer.poolSize;
      g.add("MaxPool", [], { ints: { kernel_shape: p, strides: p } });
    } else if (layer instanceof Flatten) {
      if (shape.length === 3) flattenedFrom = shape;
      g.add("Flatten", [], { int: { axis: 1 } });
    } else if (layer instanceof Dense) {
      g.dense(layer, flattenedFrom);
      flattenedFrom = null;
    } else if (!(layer instanceof Dropout)) {
      throw new Error(`ONNX export: layer ${layer.className} is not supported`);
    }
    shape = [...model.outputShapes[i]!];
  });
  const last = g.nodes[g.nodes.length - 1]!;
  last.output = ONNX_OUTPUT;
  const inputDims: Array<number | string> = ["N", ...model.inputShape];
  const outputDims: Array<number | string> = ["N", ...model.outputShape];
  return new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, "simdnet")
    .message(7, (w7) => {
      g.nodes.forEach((n, k) => w7.message(1, (w) => writeNode(w, n, k)));
      w7.string(2, model.name);
      for (const t of g.inits) w7.message(5, (w) => writeTensor(w, t));
      w7.message(11, (w) => writeValueInfo(w, ONNX_INPUT, inputDims));
      w7.message(12, (w) => writeValueInfo(w, ONNX_OUTPUT, outputDims));
    })
    .message(8, (o) => o.string(1, "").int(2, OPSET))
    .finish();
}
