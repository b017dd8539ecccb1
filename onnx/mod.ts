/**
 * ONNX export of trained tfjs-layers models, verified with ONNX Runtime.
 *
 * Supported layers: InputLayer, Dense, Conv2D, DepthwiseConv2D,
 * BatchNormalization, Activation, ReLU, Softmax, ELU, LeakyReLU,
 * MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
 * GlobalMaxPooling2D, Flatten, Reshape, ZeroPadding2D, Add, Multiply,
 * Average, Maximum, Minimum, Concatenate, and the dropout and noise layers
 * (identity at inference). Exported models take NHWC by default (a drop-in
 * for the tfjs model) or NCHW; Flatten transposes back to NHWC first, so
 * Dense weights are kept as trained.
 *
 * @module
 */
export { checkOnnx } from "./check.ts";
export {
  FISHERLAB_VERSION,
  OPSET_RANGE,
  toOnnx,
  type ToOnnxOptions,
} from "./convert.ts";
export {
  exportOnnx,
  type ExportOnnxOptions,
  type OnnxExportReport,
} from "./export.ts";
export { SUPPORTED_ACTIVATIONS, SUPPORTED_LAYERS } from "./_layers.ts";
export { readOnnxMetadata } from "./metadata.ts";
export {
  onnxExport,
  type OnnxExportContext,
  type OnnxExportOptions,
  type OnnxExportPlugin,
} from "./plugin.ts";
export {
  type OnnxVerification,
  verifyOnnx,
  type VerifyOnnxOptions,
} from "./verify.ts";
