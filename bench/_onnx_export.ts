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
  const byName = new Map(weights.map((w) => [w.name, w]));
  const weight = (name: string): WeightValues => {
    const w = byName.get(name);
    if (!w) throw new Error(`ONNX export: no value for weight '${name}'`);
    return w;
  };
  const nodes: Node[] = [];
  const inits: Initializer[] = [];
  let shape = [...model.inputShape]; // NHWC without batch while 3-D
  let current = "input_nchw";
  nodes.push({
    op: "Transpose",
    inputs: [ONNX_INPUT],
    output: current,
    ints: { perm: [0, 3, 1, 2] },
  });
  let flattenedFrom: number[] | null = null;
  const add = (
    op: string,
    inputs: string[],
    extra: Partial<Node> = {},
  ): void => {
    const output = `${op.toLowerCase()}_${nodes.length}`;
    nodes.push({ op, inputs, output, ...extra });
    current = output;
  };
  for (const layer of model.layers) {
    if (layer instanceof Conv2D) {
      const kernel = weight(`${layer.name}/kernel`);
      const [kh, kw] = layer.kernelSize;
      const oihw = [kernel.shape[3]!, kernel.shape[2]!, kh, kw];
      inits.push({
        name: kernel.name,
        dims: oihw,
        values: hwioToOihw(kernel.values, kernel.shape),
      });
      const inputs = [current, kernel.name];
      if (layer.useBias) {
        const bias = weight(`${layer.name}/bias`);
        inits.push({ name: bias.name, dims: bias.shape, values: bias.values });
        inputs.push(bias.name);
      }
      const pads = layer.padding === "same" ? samePads(kh, kw) : [0, 0, 0, 0];
      add("Conv", inputs, {
        ints: { kernel_shape: [kh, kw], pads, strides: [1, 1] },
      });
      if (layer.activation === "relu") add("Relu", [current]);
      else if (layer.activation !== "linear") {
        throw new Error(
          `ONNX export: Conv2D activation '${layer.activation}' is not supported`,
        );
      }
      shape = [...model.outputShapes[model.layers.indexOf(layer)]!];
    } else if (layer instanceof MaxPooling2D) {
      if (layer.padding !== "valid") {
        throw new Error("ONNX export: only 'valid' max pooling");
      }
      const p = layer.poolSize;
      add("MaxPool", [current], { ints: { kernel_shape: p, strides: p } });
      shape = [...model.outputShapes[model.layers.indexOf(layer)]!];
    } else if (layer instanceof Dropout) {
      continue;
    } else if (layer instanceof Flatten) {
      if (shape.length === 3) flattenedFrom = shape;
      add("Flatten", [current], { int: { axis: 1 } });
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else if (layer instanceof Dense) {
      const kernel = weight(`${layer.name}/kernel`);
      const values = flattenedFrom
        ? hwcRowsToChw(kernel.values, flattenedFrom, layer.units)
        : kernel.values;
      flattenedFrom = null;
      inits.push({ name: kernel.name, dims: kernel.shape, values });
      const inputs = [current, kernel.name];
      if (layer.useBias) {
        const bias = weight(`${layer.name}/bias`);
        inits.push({ name: bias.name, dims: bias.shape, values: bias.values });
        inputs.push(bias.name);
      }
      add("Gemm", inputs);
      if (layer.activation === "relu") add("Relu", [current]);
      else if (layer.activation === "softmax") {
        add("Softmax", [current], { int: { axis: -1 } });
      } else if (layer.activation !== "linear") {
        // Dense takes any Keras activation now; export only these three.
        throw new Error(
          `ONNX export: Dense activation '${layer.activation}' is not supported`,
        );
      }
      shape = [layer.units];
    } else {
      throw new Error(`ONNX export: layer ${layer.className} is not supported`);
    }
  }
  const last = nodes[nodes.length - 1]!;
  last.output = ONNX_OUTPUT;
  const inputDims: Array<number | string> = ["N", ...model.inputShape];
  const outputDims: Array<number | string> = ["N", ...model.outputShape];
  return new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, "simdnet")
    .message(7, (g) => {
      nodes.forEach((n, i) => g.message(1, (w) => writeNode(w, n, i)));
      g.string(2, model.name);
      for (const t of inits) g.message(5, (w) => writeTensor(w, t));
      g.message(11, (w) => writeValueInfo(w, ONNX_INPUT, inputDims));
      g.message(12, (w) => writeValueInfo(w, ONNX_OUTPUT, outputDims));
    })
    .message(8, (o) => o.string(1, "").int(2, OPSET))
    .finish();
}
