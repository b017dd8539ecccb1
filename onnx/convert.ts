/**
 * Conversion of a tfjs-layers model to ONNX bytes, without writing a file.
 *
 * @module
 */
import type { LayersModel, tfl } from "../core/tf.ts";
import denoJson from "../deno.json" with { type: "json" };
import { GraphBuilder, type Value } from "./_graph.ts";
import { CONVERTERS, type Layer, SUPPORTED_LAYERS } from "./_layers.ts";
import { FLOAT, IR_VERSION, type IValueInfoProto, onnx } from "./_proto.ts";

type SymbolicTensor = tfl.SymbolicTensor;

/** The fisherlab version written into exported models. */
export const FISHERLAB_VERSION: string = denoJson.version;

/** The lowest and highest opsets the exporter writes. */
export const OPSET_RANGE: readonly [number, number] = [13, 17];

/** Options of {@linkcode toOnnx}. */
export interface ToOnnxOptions {
  /**
   * The memory order of rank-4 inputs and outputs: "nhwc" (default) makes
   * the ONNX model a drop-in for the tfjs one; "nchw" takes channels
   * second, as ONNX vision models usually do. Other ranks are unaffected.
   */
  inputLayout?: "nhwc" | "nchw";
  /** The ONNX opset stated in the model, 13 to 17; default 13. */
  opset?: number;
  /** The training configuration, stored as JSON in `training_config`. */
  config?: unknown;
  /** The run's seed, stored in `seed`. */
  seed?: number;
  /** Final metrics, stored as JSON in `metrics`. */
  metrics?: Record<string, number>;
  /** More metadata_props entries, written after the ones above. */
  metadata?: Record<string, string>;
}

/** The names of the graph's inputs and outputs for `count` tensors. */
export function ioNames(kind: "input" | "output", count: number): string[] {
  if (count === 1) return [kind];
  return Array.from({ length: count }, (_, i) => `${kind}_${i}`);
}

function unsupportedLayer(layer: Layer): Error {
  return new TypeError(
    `Cannot export layer "${layer.name}" to ONNX: its class ` +
      `"${layer.getClassName()}" is not supported; supported layers are ` +
      `${SUPPORTED_LAYERS.join(", ")}`,
  );
}

function valueInfo(
  name: string,
  shape: (number | null)[],
  layout: Value["layout"],
): IValueInfoProto {
  const order = shape.length === 4 && layout === "nchw" ? [0, 3, 1, 2] : null;
  const dims = (order ? order.map((i) => shape[i]) : shape).map((d, i) =>
    i === 0
      ? { dimParam: "batch" }
      : d === null
      ? { dimParam: `${name}_dim${i}` }
      : { dimValue: d }
  );
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims } } },
  };
}

/** Walks the layer graph from the outputs back, converting each call once. */
function convertGraph(
  g: GraphBuilder,
  model: LayersModel,
  layout: Value["layout"],
): { inputs: IValueInfoProto[]; outputs: IValueInfoProto[] } {
  const values = new Map<number, Value>();
  const inputNames = ioNames("input", model.inputs.length);
  const inputs = model.inputs.map((t, i) => {
    const name = g.unique(inputNames[i]);
    const v: Value = {
      name,
      shape: t.shape,
      layout: t.shape.length === 4 ? layout : "nhwc",
    };
    values.set(t.id, v);
    return valueInfo(name, t.shape, v.layout);
  });

  const visit = (t: SymbolicTensor): Value => {
    const known = values.get(t.id);
    if (known) return known;
    const layer = t.sourceLayer;
    const convert = CONVERTERS[layer.getClassName()];
    if (!convert) throw unsupportedLayer(layer);
    const call = layer.inboundNodes[t.nodeIndex];
    if (call.outputTensors.length !== 1) throw unsupportedLayer(layer);
    const ins = call.inputTensors.map(visit);
    const out = convert(g, layer, ins, t.shape);
    values.set(t.id, out);
    return out;
  };

  const outputNames = ioNames("output", model.outputs.length);
  const outputs = model.outputs.map((t, i) => {
    let v = visit(t);
    if (t.shape.length === 4) {
      v = layout === "nchw" ? g.toNchw(v) : g.toNhwc(v);
    }
    const name = g.unique(outputNames[i]);
    g.nodes.push({
      opType: "Identity",
      name,
      input: [v.name],
      output: [name],
      domain: "",
    });
    return valueInfo(name, t.shape, v.layout);
  });
  return { inputs, outputs };
}

function metadataProps(options: ToOnnxOptions) {
  const props: Record<string, string> = {
    fisherlab_version: FISHERLAB_VERSION,
  };
  if (options.config !== undefined) {
    props.training_config = JSON.stringify(options.config);
  }
  if (options.seed !== undefined) props.seed = String(options.seed);
  if (options.metrics !== undefined) {
    props.metrics = JSON.stringify(options.metrics);
  }
  Object.assign(props, options.metadata);
  return Object.entries(props).map(([key, value]) => ({ key, value }));
}

/**
 * Converts a tfjs-layers model (Sequential or functional) to an ONNX model,
 * returned as protobuf bytes. The batch dimension is the symbolic "batch".
 *
 * @example Convert a small MLP
 * ```ts
 * import { tfl } from "../core/tf.ts";
 * import { toOnnx } from "./convert.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
 * });
 * const bytes = toOnnx(model, { seed: 7 });
 * console.assert(bytes.length > 0);
 * ```
 */
export function toOnnx(
  model: LayersModel,
  options: ToOnnxOptions = {},
): Uint8Array {
  const opset = options.opset ?? OPSET_RANGE[0];
  if (
    !Number.isInteger(opset) || opset < OPSET_RANGE[0] ||
    opset > OPSET_RANGE[1]
  ) {
    throw new RangeError(
      `Cannot export to ONNX: opset "${opset}" is not supported; choose ` +
        `an integer from ${OPSET_RANGE[0]} to ${OPSET_RANGE[1]}`,
    );
  }
  const layout = options.inputLayout ?? "nhwc";
  if (layout !== "nhwc" && layout !== "nchw") {
    throw new RangeError(
      `Cannot export to ONNX: inputLayout "${layout}" is unknown; choose ` +
        `"nhwc" or "nchw"`,
    );
  }

  const g = new GraphBuilder();
  const { inputs, outputs } = convertGraph(g, model, layout);
  const message = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: opset }],
    producerName: "fisherlab",
    producerVersion: FISHERLAB_VERSION,
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: inputs,
      output: outputs,
    },
    metadataProps: metadataProps(options),
  });
  // protobufjs may hand back a Node Buffer; callers get a plain Uint8Array.
  const bytes = onnx.ModelProto.encode(message).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
