/**
 * model.json in both directions for the convolution, pooling and
 * regularizer tests: the topology tfjs-layers writes back for a simdnet
 * model loads in simdnet, and simdnet then writes the same layer configs
 * (every key tfjs-layers writes, with its value).
 */

import assert from "node:assert/strict";
import { modelFromArtifacts } from "../src/nn/model_io.ts";
import type { Case, ChildResult } from "./_convpool_reference.ts";

type Dict = Record<string, unknown>;

function layers(topology: unknown): Dict[] {
  return ((topology as Dict).config as Dict).layers as Dict[];
}

function layerConfigs(topology: unknown): Dict[] {
  return layers(topology).map((l) => l.config as Dict);
}

/**
 * Keys whose value tfjs-layers 4.22 writes differently: it writes Keras'
 * `GlorotUniform` back as the equivalent `VarianceScaling` (fan_avg,
 * uniform, scale 1); simdnet writes `GlorotUniform`, which both read.
 */
const WRITTEN_DIFFERENTLY = /_initializer$/;

/** Loads tfjs-layers' rewrite of `c` in simdnet and compares the configs. */
export function assertRoundTrip(c: Case, ref: ChildResult): void {
  const topology = structuredClone(ref.topology);
  const original = layerConfigs(c.json.modelTopology);
  layerConfigs(topology).forEach((config, i) => {
    // tfjs-layers 4.22's SeparableConv2D reads depth_multiplier but does
    // not write it (so it cannot reload its own file when it is not 1).
    const m = original[i]!.depth_multiplier;
    if (m !== undefined && config.depth_multiplier === undefined) {
      assert.equal(
        (layers(topology)[i]!).class_name,
        "SeparableConv2D",
        c.label,
      );
      config.depth_multiplier = m;
    }
  });
  const json = { ...c.json, modelTopology: topology };
  const model = modelFromArtifacts(json, c.weights);
  try {
    const theirs = layerConfigs(topology);
    const ours = model.layers.map((l) => l.config());
    assert.equal(ours.length, theirs.length);
    ours.forEach((mine, i) => {
      const at = `${c.label}, layer ${i}`;
      const { batch_input_shape: _, ...first } = original[i]!;
      assert.deepEqual(mine, first, `${at}: simdnet reads back its own config`);
      for (const [key, value] of Object.entries(theirs[i]!)) {
        if (key === "batch_input_shape" || WRITTEN_DIFFERENTLY.test(key)) {
          continue;
        }
        // tfjs-layers 4.22's DepthwiseConv2D writes its depthwise
        // regularizer as depthwise_constraint too (a slip in its
        // getConfig); simdnet writes null, and reads no constraint.
        const depthwise = model.layers[i]!.className === "DepthwiseConv2D";
        if (depthwise && key === "depthwise_constraint") {
          assert.deepEqual(value, theirs[i]!.depthwise_regularizer ?? null);
          continue;
        }
        assert.deepEqual(
          mine[key],
          value,
          `${at}: '${key}' differs from tfjs-layers'`,
        );
      }
    });
  } finally {
    model.dispose();
  }
}
