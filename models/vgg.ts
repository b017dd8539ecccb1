import { type LayersModel, tfl } from "../core/tf.ts";
import { SeededInit } from "./init.ts";

/** Options for {@linkcode vgg}. */
export interface VggOptions {
  /** Shape of one input image. Default [32, 32, 3]. */
  inputShape?: number[];
  /** Number of classes. Default 10. */
  classes?: number;
  /**
   * Layer plan: numbers are 3x3 conv widths, "M" a 2x2 max pool. Default
   * VGG-11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"].
   */
  plan?: (number | "M")[];
  /** Multiplies every width (e.g. 0.25 for a laptop-sized VGG). Default 1. */
  widthFactor?: number;
  /** Batch norm after each conv. Default false. */
  batchNorm?: boolean;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
}

/** The VGG-11 plan. */
export const VGG11: (number | "M")[] = [
  64,
  "M",
  128,
  "M",
  256,
  256,
  "M",
  512,
  512,
  "M",
  512,
  512,
  "M",
];

/**
 * A VGG-style network (Simonyan and Zisserman, 2015): 3x3 convs with ReLU,
 * max pools, global average pooling and one dense layer for the logits.
 */
export function vgg(options: VggOptions = {}): LayersModel {
  const init = new SeededInit(options.seed ?? 0);
  const factor = options.widthFactor ?? 1;
  const model = tfl.sequential({ name: "vgg" });
  let first = true;
  for (const item of options.plan ?? VGG11) {
    const input = first
      ? { inputShape: options.inputShape ?? [32, 32, 3] }
      : {};
    if (item === "M") {
      model.add(tfl.layers.maxPooling2d({ ...input, poolSize: 2, strides: 2 }));
    } else {
      model.add(tfl.layers.conv2d({
        ...input,
        filters: Math.max(1, Math.round(item * factor)),
        kernelSize: 3,
        padding: "same",
        useBias: !options.batchNorm,
        activation: options.batchNorm ? "linear" : "relu",
        kernelInitializer: init.he(),
      }));
      if (options.batchNorm) {
        model.add(tfl.layers.batchNormalization());
        model.add(tfl.layers.reLU());
      }
    }
    first = false;
  }
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({
    units: options.classes ?? 10,
    kernelInitializer: init.glorot(),
  }));
  return model;
}
