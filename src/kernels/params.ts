/**
 * Parameter blocks: the words a kernel entry point (an export of
 * `wasm/assembly/kernels.ts`) reads at its `params` pointer, declared once by
 * name and type. The host writes a block from named values, checking that
 * it gets exactly the declared fields; `deno task build:wasm` generates the
 * AssemblyScript side (`wasm/assembly/blocks.ts`: one `const enum` of word
 * offsets per block, an `@unmanaged` class per struct) from the same
 * declarations, so the two cannot drift apart.
 *
 * @module
 */

/**
 * A word's type: `i32` a signed integer, `ptr` a heap byte offset (read as
 * `usize`), `f32` a float, written as its f32 bit pattern.
 */
export type FieldType = "i32" | "ptr" | "f32";

/** Field names and types, in block order. */
export type Fields = Readonly<Record<string, FieldType>>;

/** The values of a block's fields, by name. */
export type ParamValues<F extends Fields> = { readonly [K in keyof F]: number };

/** Words of the parameter area of each heap (HeapKernels); every block fits. */
export const PARAM_WORDS = 64;

const KINDS: Record<FieldType, number> = { i32: 0, ptr: 1, f32: 2 };

/** One declared parameter block. */
export class ParamBlock<F extends Fields = Fields> {
  /** Its name in `wasm/assembly/blocks.ts`. */
  readonly name: string;
  /** Field names and types, in word order. */
  readonly fields: F;
  /** Whether the AssemblyScript side is a class over the words (`changetype<Name>(p)`) rather than an enum of offsets. */
  readonly struct: boolean;
  readonly #names: string[];
  readonly #kinds: number[];

  constructor(name: string, fields: F, struct = false) {
    this.name = name;
    this.fields = fields;
    this.struct = struct;
    this.#names = Object.keys(fields);
    this.#kinds = Object.values(fields).map((t) => KINDS[t]);
    if (this.#names.length > PARAM_WORDS) {
      throw new Error(
        `simdnet ${name}: ${this.#names.length} words, more than ${PARAM_WORDS}`,
      );
    }
  }

  /** Number of words. */
  get length(): number {
    return this.#names.length;
  }

  /** Word offset of `field`. */
  offset(field: keyof F & string): number {
    const i = this.#names.indexOf(field);
    if (i < 0) throw new Error(`simdnet ${this.name}: no field ${field}`);
    return i;
  }

  /**
   * Writes `values` as words `0 .. length` of `i32` and `f32` (two views of
   * the same memory). Throws, writing nothing, unless `values` holds exactly
   * the declared fields, each a number (an integer for `i32` and `ptr`).
   */
  write(i32: Int32Array, f32: Float32Array, values: ParamValues<F>): void {
    const names = this.#names, kinds = this.#kinds;
    const vals = values as Readonly<Record<string, unknown>>;
    // Object.keys is cheaper than counting with for-in here (V8).
    const n = Object.keys(vals).length;
    if (n !== names.length) this.#mismatch(vals, n);
    for (let i = 0; i < names.length; i++) {
      const v = vals[names[i]!];
      if (
        typeof v !== "number" ||
        (kinds[i] !== 2 && !(Number.isInteger(v) && v >= -(2 ** 31) &&
          v < 2 ** 32))
      ) {
        throw new Error(
          `simdnet ${this.name}: field ${names[i]} must be ${
            kinds[i] === 2 ? "a number" : "a 32-bit integer"
          }, got ${String(v)}`,
        );
      }
    }
    for (let i = 0; i < names.length; i++) {
      const v = vals[names[i]!] as number;
      if (kinds[i] === 2) f32[i] = v;
      else i32[i] = v;
    }
  }

  /** The block's words for `values`, checked as {@linkcode ParamBlock.write} does. */
  encode(values: ParamValues<F>): Int32Array {
    const i32 = new Int32Array(this.length);
    this.write(i32, new Float32Array(i32.buffer), values);
    return i32;
  }

  #mismatch(vals: Readonly<Record<string, unknown>>, n: number): never {
    const missing = this.#names.filter((f) => !(f in vals));
    const extra = Object.keys(vals).filter((f) => !(f in this.fields));
    throw new Error(
      `simdnet ${this.name}: a parameter block of ${n} words, the kernel reads ${this.length}` +
        (missing.length ? `; missing ${missing.join(", ")}` : "") +
        (extra.length ? `; undeclared ${extra.join(", ")}` : ""),
    );
  }
}

/** Declares a parameter block; field order is word order. */
export function paramBlock<const F extends Fields>(
  name: string,
  fields: F,
): ParamBlock<F> {
  return new ParamBlock(name, fields);
}

/**
 * Declares a struct: a run of fields that blocks embed (spread its `fields`
 * first) and AssemblyScript reads as a class (`changetype<Name>(p)`).
 */
export function paramStruct<const F extends Fields>(
  name: string,
  fields: F,
): ParamBlock<F> {
  return new ParamBlock(name, fields, true);
}

/** A kernel entry point: an export of the kernel module and the block it reads. */
export interface Entry<F extends Fields = Fields> {
  /** The export's name in `wasm/assembly/kernels.ts`. */
  readonly name: string;
  readonly params: ParamBlock<F>;
}

/** Declares an entry point. */
export function entry<F extends Fields>(
  name: string,
  params: ParamBlock<F>,
): Entry<F> {
  return { name, params };
}
