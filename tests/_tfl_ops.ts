/**
 * Op gradients by tfjs' own configs, from the tfjs-layers child
 * (`_tfl_child.ts`, whose tfjs-layers bundle registered them): the
 * reference for simdnet's gradient configs op by op, without ever putting
 * tfjs' configs into the test process.
 *
 * @module
 */

import type { OpItem, TflReference } from "./_tfl_reference.ts";

/**
 * tfjs' gradients of `sum(op(x) * r)` for `items` (see `OpItem`): `module`
 * exports each `table`, a record of functions of one tensor, and must do
 * nothing else at its top level (the child imports it). In `items`' order.
 */
export async function tfjsOpGradients(
  child: TflReference,
  module: string,
  items: Omit<OpItem, "file">[],
): Promise<Float32Array[]> {
  const root = await Deno.makeTempDir({ prefix: "simdnet_tfl_ops_" });
  try {
    const ops = items.map((o, i) => ({ ...o, file: `${root}/${i}.bin` }));
    await child.run({ module, specs: [], items: [], ops });
    const out: Float32Array[] = [];
    for (const o of ops) {
      const failed = await Deno.readTextFile(`${o.file}.error.txt`)
        .catch(() => null);
      if (failed !== null) throw new Error(`tfjs' ${o.op} gradient: ${failed}`);
      out.push(new Float32Array((await Deno.readFile(o.file)).buffer));
    }
    return out;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
