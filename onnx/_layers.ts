/**
 * One converter per tfjs-layers class: each adds the ONNX nodes that compute
 * the layer in inference mode and returns the value it produced.
 *
 * Layout: rank-4 values are converted to NCHW only where an ONNX operator
 * needs it (Conv, pooling, BatchNormalization, Pad) and back to NHWC only
 * where tfjs's element order matters (Flatten, Reshape, Dense on rank 4).
 * Flatten after convolutions therefore transposes to NHWC first, so the
 * following Dense keeps its tfjs weights unchanged.
 *
 * @module
 */
import type { tfl } from "../core/tf.ts";
import {
  floatAttr,
  type GraphBuilder,
  intAttr,
  intsAttr,
  NHWC_TO_NCHW_AXIS,
  stringAttr,
  type Value,
} from "./_graph.ts";
import type { IAttributeProto } from "./_proto.ts";

/** A tfjs-layers layer. */
export type Layer = tfl.layers.Layer;

/** Adds the nodes of one layer call; `shape` is the call's output shape. */
export type Converter = (
  g: GraphBuilder,
  layer: Layer,
  inputs: Value[],
  shape: (number | null)[],
) => Value;

type Config = Record<string, unknown>;

function configOf(layer: Layer): Config {
  return layer.getConfig() as Config;
}

function unsupportedConfig(layer: Layer, what: string): Error {
  return new RangeError(
    `Cannot export layer "${layer.name}" (${layer.getClassName()}) to ONNX: ` +
      `${what} is not supported; change the layer or leave it out`,
  );
}

/** The weight of `layer` whose name ends in `/suffix`, as data and shape. */
function weight(
  layer: Layer,
  suffix: string,
): { data: Float32Array; shape: number[] } | undefined {
  const i = layer.weights.findIndex((w) =>
    w.originalName.endsWith(`/${suffix}`)
  );
  if (i < 0) return undefined;
  const w = layer.weights[i];
  const data = w.read().dataSync() as Float32Array;
  return { data, shape: w.shape as number[] };
}

function requireWeight(layer: Layer, suffix: string) {
  const w = weight(layer, suffix);
  if (!w) throw unsupportedConfig(layer, `a layer without weight "${suffix}"`);
  return w;
}

function pair(x: unknown): [number, number] {
  if (typeof x === "number") return [x, x];
  const a = x as number[];
  return [a[0], a.length > 1 ? a[1] : a[0]];
}

function softmax(g: GraphBuilder, v: Value, base: string, axis = -1): Value {
  const rank = v.shape.length;
  let a = axis < 0 ? axis + rank : axis;
  if (rank === 4 && v.layout === "nchw") a = NHWC_TO_NCHW_AXIS[a];
  const name = g.node("Softmax", [v.name], base, [intAttr("axis", a)]);
  return { ...v, name };
}

function unary(
  g: GraphBuilder,
  op: string,
  v: Value,
  base: string,
  attrs: IAttributeProto[] = [],
): Value {
  return { ...v, name: g.node(op, [v.name], base, attrs) };
}

function clip(g: GraphBuilder, v: Value, base: string, max: number): Value {
  const lo = g.floats(`${base}/clip_min`, new Float32Array([0]), []);
  const hi = g.floats(`${base}/clip_max`, new Float32Array([max]), []);
  return { ...v, name: g.node("Clip", [v.name, lo, hi], base) };
}

/** Activation names that tfjs serializes, and how each is written in ONNX. */
const ACTIVATIONS: Record<
  string,
  (g: GraphBuilder, v: Value, base: string) => Value
> = {
  linear: (_g, v) => v,
  relu: (g, v, base) => unary(g, "Relu", v, base),
  relu6: (g, v, base) => clip(g, v, base, 6),
  elu: (g, v, base) => unary(g, "Elu", v, base, [floatAttr("alpha", 1)]),
  selu: (g, v, base) => unary(g, "Selu", v, base),
  sigmoid: (g, v, base) => unary(g, "Sigmoid", v, base),
  hardSigmoid: (g, v, base) =>
    unary(g, "HardSigmoid", v, base, [
      floatAttr("alpha", 0.2),
      floatAttr("beta", 0.5),
    ]),
  tanh: (g, v, base) => unary(g, "Tanh", v, base),
  softplus: (g, v, base) => unary(g, "Softplus", v, base),
  softsign: (g, v, base) => unary(g, "Softsign", v, base),
  softmax: (g, v, base) => softmax(g, v, base),
};

/** Activation functions that export, by their tfjs names. */
export const SUPPORTED_ACTIVATIONS: readonly string[] = Object.keys(
  ACTIVATIONS,
);

function activate(g: GraphBuilder, layer: Layer, v: Value): Value {
  const name = String(configOf(layer).activation ?? "linear");
  const apply = ACTIVATIONS[name];
  if (!apply) {
    throw unsupportedConfig(
      layer,
      `activation "${name}" (supported: ${SUPPORTED_ACTIVATIONS.join(", ")})`,
    );
  }
  return apply(g, v, `${layer.name}/${name}`);
}

function requireChannelsLast(layer: Layer): void {
  const format = configOf(layer).dataFormat;
  if (format !== undefined && format !== "channelsLast") {
    throw unsupportedConfig(layer, `dataFormat "${format}"`);
  }
}

/**
 * Explicit ONNX pads [top, left, bottom, right] for tfjs padding, matching
 * TensorFlow's "same" rule (the odd pixel goes to the end).
 */
function spatialPads(
  padding: unknown,
  input: (number | null)[],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): number[] | undefined {
  if (padding === "valid") return [0, 0, 0, 0];
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < 2; i++) {
    const size = input[i + 1];
    if (size === null) return undefined;
    const out = Math.ceil(size / strides[i]);
    const span = (kernel[i] - 1) * dilations[i] + 1;
    const total = Math.max((out - 1) * strides[i] + span - size, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  }
  return [...begin, ...end];
}

function padAttrs(
  layer: Layer,
  pads: number[] | undefined,
): IAttributeProto[] {
  const padding = configOf(layer).padding;
  if (padding !== "same" && padding !== "valid") {
    throw unsupportedConfig(layer, `padding "${padding}"`);
  }
  if (pads) return [intsAttr("pads", pads)];
  // Spatial size unknown at export: ONNX's SAME_UPPER is TensorFlow's rule.
  return [stringAttr("auto_pad", "SAME_UPPER")];
}

/**
 * An ONNX Conv with weights `w` already in [out, in / group, kh, kw] order,
 * the layer's bias, padding and fused activation.
 */
function convolve(
  g: GraphBuilder,
  layer: Layer,
  x: Value,
  shape: (number | null)[],
  w: { data: Float32Array; dims: number[]; group: number },
): Value {
  requireChannelsLast(layer);
  const c = configOf(layer);
  const kernel = pair(c.kernelSize);
  const strides = pair(c.strides ?? 1);
  const dilations = pair(c.dilationRate ?? 1);
  const inputs = [
    g.toNchw(x).name,
    g.floats(`${layer.name}/kernel`, w.data, w.dims),
  ];
  const b = c.useBias === false ? undefined : weight(layer, "bias");
  if (b) inputs.push(g.floats(`${layer.name}/bias`, b.data, [w.dims[0]]));

  const pads = spatialPads(c.padding, x.shape, kernel, strides, dilations);
  if (!pads && dilations.some((d) => d !== 1)) {
    // ORT rejects auto_pad together with dilation.
    throw unsupportedConfig(
      layer,
      '"same" padding with dilation on an input of unknown height or width',
    );
  }
  const name = g.node("Conv", inputs, layer.name, [
    intsAttr("kernel_shape", kernel),
    intsAttr("strides", strides),
    intsAttr("dilations", dilations),
    intAttr("group", w.group),
    ...padAttrs(layer, pads),
  ]);
  return activate(g, layer, { name, shape, layout: "nchw" });
}

const conv2d: Converter = (g, layer, [x], shape) => {
  const k = requireWeight(layer, "kernel");
  const [kh, kw, cin, cout] = k.shape;

  // tfjs kernels are [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
  const data = new Float32Array(k.data.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < kh; y++) {
        for (let z = 0; z < kw; z++) {
          data[((o * cin + i) * kh + y) * kw + z] =
            k.data[((y * kw + z) * cin + i) * cout + o];
        }
      }
    }
  }
  const dims = [cout, cin, kh, kw];
  return convolve(g, layer, x, shape, { data, dims, group: 1 });
};

const depthwiseConv2d: Converter = (g, layer, [x], shape) => {
  const dilation = pair(configOf(layer).dilationRate ?? 1);
  if (dilation.some((d) => d !== 1)) {
    // tfjs 4.22 builds the layer's shape with the dilation but computes it
    // without, so no export can match the tfjs model.
    throw unsupportedConfig(
      layer,
      `dilationRate ${dilation} (tfjs ignores it)`,
    );
  }
  const k = requireWeight(layer, "depthwise_kernel");
  const [kh, kw, cin, mult] = k.shape;

  // tfjs: [kh, kw, in, multiplier], output channel c * multiplier + m;
  // ONNX grouped Conv (group = in): [in * multiplier, 1, kh, kw].
  const data = new Float32Array(k.data.length);
  for (let ch = 0; ch < cin; ch++) {
    for (let m = 0; m < mult; m++) {
      for (let y = 0; y < kh; y++) {
        for (let z = 0; z < kw; z++) {
          data[((ch * mult + m) * kh + y) * kw + z] =
            k.data[((y * kw + z) * cin + ch) * mult + m];
        }
      }
    }
  }
  const dims = [cin * mult, 1, kh, kw];
  return convolve(g, layer, x, shape, { data, dims, group: cin });
};

const dense: Converter = (g, layer, [x], shape) => {
  const k = requireWeight(layer, "kernel");
  const input = g.toNhwc(x);
  const w = g.floats(`${layer.name}/kernel`, k.data, k.shape);
  let name = g.node("MatMul", [input.name, w], layer.name);
  const b = configOf(layer).useBias === false
    ? undefined
    : weight(layer, "bias");
  if (b) {
    const bias = g.floats(`${layer.name}/bias`, b.data, b.shape);
    name = g.node("Add", [name, bias], layer.name);
  }
  return activate(g, layer, { name, shape, layout: "nhwc" });
};

function pool(op: "MaxPool" | "AveragePool"): Converter {
  return (g, layer, [x], shape) => {
    requireChannelsLast(layer);
    const c = configOf(layer);
    const kernel = pair(c.poolSize);
    const strides = pair(c.strides ?? c.poolSize);
    const pads = spatialPads(c.padding, x.shape, kernel, strides, [1, 1]);
    // AveragePool's default count_include_pad=0 matches tfjs, which leaves
    // padding out of the mean for "same".
    const name = g.node(op, [g.toNchw(x).name], layer.name, [
      intsAttr("kernel_shape", kernel),
      intsAttr("strides", strides),
      ...padAttrs(layer, pads),
    ]);
    return { name, shape, layout: "nchw" };
  };
}

function globalPool(op: "GlobalAveragePool" | "GlobalMaxPool"): Converter {
  return (g, layer, [x], shape) => {
    requireChannelsLast(layer);
    const pooled = g.node(op, [g.toNchw(x).name], layer.name);
    const name = g.node("Flatten", [pooled], layer.name, [intAttr("axis", 1)]);
    return { name, shape, layout: "nhwc" };
  };
}

const batchNormalization: Converter = (g, layer, [x], shape) => {
  const c = configOf(layer);
  const rank = x.shape.length;
  const axis = Number(c.axis ?? -1);
  if (axis !== -1 && axis !== rank - 1) {
    throw unsupportedConfig(layer, `axis ${axis} (only the last axis)`);
  }
  if (rank !== 2 && rank !== 4) {
    throw unsupportedConfig(layer, `an input of rank ${rank}`);
  }
  const mean = requireWeight(layer, "moving_mean");
  const variance = requireWeight(layer, "moving_variance");
  const n = mean.data.length;
  const gamma = weight(layer, "gamma")?.data ?? new Float32Array(n).fill(1);
  const beta = weight(layer, "beta")?.data ?? new Float32Array(n);
  const input = rank === 4 ? g.toNchw(x) : x;
  const name = g.node(
    "BatchNormalization",
    [
      input.name,
      g.floats(`${layer.name}/gamma`, gamma, [n]),
      g.floats(`${layer.name}/beta`, beta, [n]),
      g.floats(`${layer.name}/moving_mean`, mean.data, [n]),
      g.floats(`${layer.name}/moving_variance`, variance.data, [n]),
    ],
    layer.name,
    [floatAttr("epsilon", Number(c.epsilon ?? 1e-3))],
  );
  return { name, shape, layout: input.layout };
};

const flatten: Converter = (g, layer, [x], shape) => {
  if (x.shape.length === 2) return x;
  // Transposing to NHWC first keeps tfjs's element order, so a following
  // Dense uses its weights as they are.
  const input = g.toNhwc(x);
  const name = g.node("Flatten", [input.name], layer.name, [
    intAttr("axis", 1),
  ]);
  return { name, shape, layout: "nhwc" };
};

const reshape: Converter = (g, layer, [x], shape) => {
  const target = (configOf(layer).targetShape as (number | null)[])
    .map((d) => d ?? -1);
  const dims = g.int64s(`${layer.name}/shape`, [0, ...target]);
  const name = g.node("Reshape", [g.toNhwc(x).name, dims], layer.name);
  return { name, shape, layout: "nhwc" };
};

const zeroPadding2d: Converter = (g, layer, [x], shape) => {
  requireChannelsLast(layer);
  const [[top, bottom], [left, right]] = configOf(layer).padding as number[][];
  const pads = g.int64s(`${layer.name}/pads`, [
    0,
    0,
    top,
    left,
    0,
    0,
    bottom,
    right,
  ]);
  const name = g.node("Pad", [g.toNchw(x).name, pads], layer.name);
  return { name, shape, layout: "nchw" };
};

/** Inputs of one rank in one layout: NCHW if any is already there. */
function aligned(g: GraphBuilder, layer: Layer, inputs: Value[]): Value[] {
  const ranks = new Set(inputs.map((v) => v.shape.length));
  if (ranks.size > 1) {
    throw unsupportedConfig(layer, `merging inputs of ranks ${[...ranks]}`);
  }
  const nchw = inputs.some((v) => v.layout === "nchw");
  return inputs.map((v) => nchw ? g.toNchw(v) : v);
}

/** An element-wise merge; binary ONNX ops are chained left to right. */
function merge(op: string, binary: boolean): Converter {
  return (g, layer, inputs, shape) => {
    const vs = aligned(g, layer, inputs);
    let name: string;
    if (binary) {
      name = vs[0].name;
      for (const v of vs.slice(1)) {
        name = g.node(op, [name, v.name], layer.name);
      }
    } else {
      name = g.node(op, vs.map((v) => v.name), layer.name);
    }
    return { name, shape, layout: vs[0].layout };
  };
}

const concatenate: Converter = (g, layer, inputs, shape) => {
  const vs = aligned(g, layer, inputs);
  const rank = shape.length;
  const given = Number(configOf(layer).axis ?? -1);
  let axis = given < 0 ? given + rank : given;
  if (rank === 4 && vs[0].layout === "nchw") axis = NHWC_TO_NCHW_AXIS[axis];
  const name = g.node("Concat", vs.map((v) => v.name), layer.name, [
    intAttr("axis", axis),
  ]);
  return { name, shape, layout: vs[0].layout };
};

const identity: Converter = (_g, _layer, [x]) => x;

/** The converters, by tfjs-layers class name. */
export const CONVERTERS: Record<string, Converter> = {
  Dense: dense,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  BatchNormalization: batchNormalization,
  Activation: (g, layer, [x]) => activate(g, layer, x),
  ReLU: (g, layer, [x]) => {
    const max = configOf(layer).maxValue;
    if (typeof max === "number") return clip(g, x, layer.name, max);
    return unary(g, "Relu", x, layer.name);
  },
  Softmax: (g, layer, [x]) =>
    softmax(g, x, layer.name, Number(configOf(layer).axis ?? -1)),
  ELU: (g, layer, [x]) =>
    unary(g, "Elu", x, layer.name, [
      floatAttr("alpha", Number(configOf(layer).alpha ?? 1)),
    ]),
  LeakyReLU: (g, layer, [x]) =>
    unary(g, "LeakyRelu", x, layer.name, [
      floatAttr("alpha", Number(configOf(layer).alpha ?? 0.3)),
    ]),
  MaxPooling2D: pool("MaxPool"),
  AveragePooling2D: pool("AveragePool"),
  GlobalAveragePooling2D: globalPool("GlobalAveragePool"),
  GlobalMaxPooling2D: globalPool("GlobalMaxPool"),
  Flatten: flatten,
  Reshape: reshape,
  ZeroPadding2D: zeroPadding2d,
  Add: merge("Add", true),
  Multiply: merge("Mul", true),
  Average: merge("Mean", false),
  Maximum: merge("Max", false),
  Minimum: merge("Min", false),
  Concatenate: concatenate,
  Dropout: identity,
  AlphaDropout: identity,
  GaussianDropout: identity,
  GaussianNoise: identity,
};

/** The tfjs-layers classes that export, plus InputLayer. */
export const SUPPORTED_LAYERS: readonly string[] = [
  "InputLayer",
  ...Object.keys(CONVERTERS),
];
