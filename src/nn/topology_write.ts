/**
 * Writing a model's Keras topology for `model.json` the way tfjs-layers
 * 4.22 writes it: a `Sequential` as its layer list, any other model as
 * tfjs-layers' functional `Model` (an InputLayer, `inbound_nodes` of
 * `[name, 0, 0, {}]`, `input_layers` and `output_layers`), layers in the
 * model's order, so `tf.loadLayersModel` rebuilds the same graph and
 * weight order.
 *
 * @module
 */

import type { Model } from "./model.ts";
import { Sequential } from "./sequential.ts";

/** A layer entry of a topology as simdnet writes it. */
export interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
  /** Functional models only: the layer's name. */
  name?: string;
  /** Functional models only: `[[["input_1", 0, 0, {}], ...]]`. */
  inbound_nodes?: [string, number, number, Record<string, never>][][];
}

/** The `modelTopology` of `model.json`. */
export interface TopologyJson {
  class_name: "Sequential" | "Model";
  config: {
    name: string;
    layers: LayerJson[];
    input_layers?: [string, number, number][];
    output_layers?: [string, number, number][];
  };
  keras_version: string;
  backend: string;
}

/** The Keras topology of `model`, as tfjs-layers 4.22 saves it. */
export function topologyJson(model: Model): TopologyJson {
  const common = {
    keras_version: "tfjs-layers 4.22.0",
    backend: "tensor_flow.js",
  };
  if (model instanceof Sequential) {
    const layers = model.layers.map((layer, i) => {
      const config = layer.config();
      if (i === 0) config.batch_input_shape = [null, ...model.inputShape];
      return { class_name: layer.className, config };
    });
    return {
      class_name: "Sequential",
      config: { name: model.name, layers },
      ...common,
    };
  }
  const input = model.inputName;
  const nameOf = (i: number) => (i < 0 ? input : model.layers[i]!.name);
  const layers: LayerJson[] = [{
    name: input,
    class_name: "InputLayer",
    config: {
      batch_input_shape: [null, ...model.inputShape],
      dtype: "float32",
      sparse: false,
      name: input,
    },
    inbound_nodes: [],
  }];
  for (const { layer, inputs } of model.nodes) {
    layers.push({
      name: layer.name,
      class_name: layer.className,
      config: layer.config(),
      inbound_nodes: [inputs.map((i) => [nameOf(i), 0, 0, {}])],
    });
  }
  const output = model.layers[model.layers.length - 1]!.name;
  return {
    class_name: "Model",
    config: {
      name: model.name,
      layers,
      input_layers: [[input, 0, 0]],
      output_layers: [[output, 0, 0]],
    },
    ...common,
  };
}
