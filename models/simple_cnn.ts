import { type LayersModel, tfl } from "../core/tf.ts";
import { SeededInit } from "./init.ts";

/** Options for {@linkcode simpleCnn}. */
export interface SimpleCnnOptions {
  /** Shape of one input image, NHWC without N. Default [28, 28, 1]. */
  inputShape?: number[];
  /** Number of classes. Default 10. */
  classes?: number;
  /** Filters of each conv block; each block is conv 3x3, ReLU, max pool 2. Default [32, 64]. */
  filters?: number[];
  /** Width of the dense hidden layer. Default 128. */
  dense?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
}

/**
 * The small convolutional network of the paper's small-scale experiments:
 * conv blocks (3x3 conv, ReLU, 2x2 max pool), then a dense hidden layer and
 * the logits. Piecewise linear in each weight, so Tr(H) = Tr(F) exactly.
 */
export function simpleCnn(options: SimpleCnnOptions = {}): LayersModel {
  const init = new SeededInit(options.seed ?? 0);
  const model = tfl.sequential({ name: "simple_cnn" });
  const filters = options.filters ?? [32, 64];
  filters.forEach((f, i) => {
    model.add(tfl.layers.conv2d({
      ...(i === 0 ? { inputShape: options.inputShape ?? [28, 28, 1] } : {}),
      filters: f,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      kernelInitializer: init.he(),
    }));
    model.add(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  });
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({
    units: options.dense ?? 128,
    activation: "relu",
    kernelInitializer: init.he(),
  }));
  model.add(tfl.layers.dense({
    units: options.classes ?? 10,
    kernelInitializer: init.glorot(),
  }));
  return model;
}
