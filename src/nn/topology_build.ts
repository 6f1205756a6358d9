/**
 * Building the model a parsed topology describes: the one place where a
 * `model.json` topology becomes a {@linkcode Model}, for loading (zero
 * weights, replaced at once) and for training a topology afresh.
 *
 * @module
 */

import { connect, Input, type SymbolicTensor } from "./graph.ts";
import { type Initializer, isMergeLayer } from "./layer.ts";
import { Model } from "./model.ts";
import type { ParsedTopology } from "./model_topology.ts";
import { Sequential } from "./sequential.ts";

/** The model a checked topology describes, its kernels drawn from `init`. */
export function buildModel(t: ParsedTopology, init: Initializer): Model {
  if (t.kind === "Sequential") {
    return new Sequential(t.layers, {
      name: t.name,
      inputShape: t.inputShape,
      init,
    });
  }
  const inputs = Input({ shape: t.inputShape, name: t.inputName });
  const symbols: SymbolicTensor[] = [];
  const at = (i: number) => (i < 0 ? inputs : symbols[i]!);
  for (const { layer, inputs: from } of t.nodes) {
    symbols.push(
      connect(layer, isMergeLayer(layer) ? from.map(at) : at(from[0]!)),
    );
  }
  const outputs = symbols[symbols.length - 1]!;
  return new Model({ inputs, outputs, name: t.name, init });
}
