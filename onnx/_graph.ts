/**
 * A growing ONNX graph: nodes in the order they are added (so a converter that
 * adds a node only after its inputs keeps the graph topologically sorted),
 * initializers, and unique names.
 *
 * Values of rank 4 carry a layout: tfjs thinks in NHWC, ONNX Conv and pooling
 * work in NCHW. {@linkcode GraphBuilder.toNchw} and
 * {@linkcode GraphBuilder.toNhwc} insert a Transpose only where a consumer
 * needs the other layout, and each conversion is made at most once.
 *
 * @module
 */
import {
  FLOAT,
  type IAttributeProto,
  type INodeProto,
  INT64,
  type ITensorProto,
} from "./_proto.ts";

/** The memory order of a rank-4 value; other ranks are always "nhwc". */
export type Layout = "nhwc" | "nchw";

/** A value in the graph, with its shape as tfjs sees it (NHWC). */
export interface Value {
  /** The ONNX name of the value. */
  name: string;
  /** The tfjs shape, batch first and null where unknown. */
  shape: (number | null)[];
  /** Where the channel axis lies in memory, for rank 4. */
  layout: Layout;
}

/** Moves tfjs (NHWC) axis `i` of a rank-4 value to its NCHW position. */
export const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

/** An INT attribute. */
export function intAttr(name: string, i: number): IAttributeProto {
  return { name, type: 2, i };
}

/** An INTS attribute. */
export function intsAttr(name: string, ints: number[]): IAttributeProto {
  return { name, type: 7, ints };
}

/** A FLOAT attribute. */
export function floatAttr(name: string, f: number): IAttributeProto {
  return { name, type: 1, f };
}

/** A STRING attribute. */
export function stringAttr(name: string, s: string): IAttributeProto {
  return { name, type: 3, s: new TextEncoder().encode(s) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Builds the nodes and initializers of one graph. */
export class GraphBuilder {
  /** The nodes, topologically sorted. */
  readonly nodes: INodeProto[] = [];
  /** The constant tensors. */
  readonly initializers: ITensorProto[] = [];
  #names = new Set<string>();
  #converted = new Map<string, Value>();
  #floats = new Map<string, { name: string; bytes: Uint8Array }>();

  /** Reserves `base`, or `base_1`, `base_2`... if it is taken. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.#names.has(name); i++) name = `${base}_${i}`;
    this.#names.add(name);
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  node(
    opType: string,
    inputs: string[],
    base: string,
    attribute: IAttributeProto[] = [],
  ): string {
    const output = this.unique(`${base}/${opType}`);
    this.nodes.push({
      opType,
      name: output,
      input: inputs,
      output: [output],
      attribute,
      domain: "",
    });
    return output;
  }

  /**
   * Adds a float32 initializer and returns its name; a layer called twice
   * (shared weights) gets its earlier initializer back.
   */
  floats(base: string, data: Float32Array, dims: number[]): string {
    const bytes = new Uint8Array(data.length * 4);
    const view = new DataView(bytes.buffer);
    data.forEach((x, i) => view.setFloat32(i * 4, x, true));
    const key = `${base}\u0000${dims.join()}`;
    const earlier = this.#floats.get(key);
    if (earlier && sameBytes(earlier.bytes, bytes)) return earlier.name;
    const name = this.#initializer(base, FLOAT, dims, bytes);
    this.#floats.set(key, { name, bytes });
    return name;
  }

  /** Adds an int64 initializer of rank 1 and returns its name. */
  int64s(base: string, data: number[]): string {
    const bytes = new Uint8Array(data.length * 8);
    const view = new DataView(bytes.buffer);
    data.forEach((x, i) => view.setBigInt64(i * 8, BigInt(x), true));
    return this.#initializer(base, INT64, [data.length], bytes);
  }

  #initializer(
    base: string,
    dataType: number,
    dims: number[],
    rawData: Uint8Array,
  ): string {
    const name = this.unique(base);
    this.initializers.push({ name, dataType, dims, rawData });
    return name;
  }

  /** `v` with its channels second (NCHW); rank-4 values only. */
  toNchw(v: Value): Value {
    return v.layout === "nchw" ? v : this.#transpose(v, "nchw", [0, 3, 1, 2]);
  }

  /** `v` in tfjs order (NHWC); values of other ranks pass unchanged. */
  toNhwc(v: Value): Value {
    return v.layout === "nhwc" ? v : this.#transpose(v, "nhwc", [0, 2, 3, 1]);
  }

  #transpose(v: Value, layout: Layout, perm: number[]): Value {
    const key = `${v.name}\u0000${layout}`;
    const done = this.#converted.get(key);
    if (done) return done;
    const name = this.node("Transpose", [v.name], `${v.name}/to_${layout}`, [
      intsAttr("perm", perm),
    ]);
    const out = { name, shape: v.shape, layout };
    this.#converted.set(key, out);
    return out;
  }
}
