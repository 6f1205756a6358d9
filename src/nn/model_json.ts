/**
 * The shape of a TF.js Layers `model.json` as simdnet writes it, in a file
 * of its own so that the writer (`model_io.ts`) and the parser
 * (`model_manifest.ts`) both import it without importing each other.
 *
 * @module
 */

/** One entry of a weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32";
}

/** The `model.json` of the TF.js Layers format. */
export interface ModelJson {
  format: "layers-model";
  generatedBy: string;
  convertedBy: string | null;
  /** A Keras `Sequential` or functional `Model` topology. */
  modelTopology: {
    class_name: "Sequential" | "Model";
    config: {
      name: string;
      layers: {
        class_name: string;
        config: Record<string, unknown>;
        name?: string;
        inbound_nodes?: unknown[];
      }[];
      input_layers?: [string, number, number][];
      output_layers?: [string, number, number][];
    };
    keras_version: string;
    backend: string;
  };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  /** simdnet's labels and input description; see `model_metadata.ts`. */
  userDefinedMetadata?: { simdnet: Record<string, unknown> };
}
