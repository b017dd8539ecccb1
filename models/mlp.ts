import { type LayersModel, tfl } from "../core/tf.ts";
import { SeededInit } from "./init.ts";

/** Options for {@linkcode mlp}. */
export interface MlpOptions {
  /** Shape of one input example, e.g. [28, 28, 1]; flattened first. */
  inputShape: number[];
  /** Number of classes (output logits). Default 10. */
  classes?: number;
  /** Widths of the hidden layers. Default [256, 256]. */
  hidden?: number[];
  /** Hidden activation. Default "relu". */
  activation?: "relu" | "tanh" | "sigmoid" | "elu" | "softplus";
  /** Seed of the initial weights. Default 0. */
  seed?: number;
}

/**
 * A multilayer perceptron that outputs logits.
 *
 * @example
 * ```ts
 * import { mlp } from "./mlp.ts";
 * const model = mlp({ inputShape: [4], hidden: [8], classes: 3, seed: 1 });
 * console.assert(model.outputs[0].shape[1] === 3);
 * ```
 */
export function mlp(options: MlpOptions): LayersModel {
  const init = new SeededInit(options.seed ?? 0);
  const activation = options.activation ?? "relu";
  const model = tfl.sequential({ name: "mlp" });
  const flat = options.inputShape.length === 1;
  if (!flat) model.add(tfl.layers.flatten({ inputShape: options.inputShape }));
  let first = flat;
  for (const units of options.hidden ?? [256, 256]) {
    model.add(tfl.layers.dense({
      ...(first ? { inputShape: options.inputShape } : {}),
      units,
      activation,
      kernelInitializer: activation === "relu" ? init.he() : init.glorot(),
    }));
    first = false;
  }
  model.add(tfl.layers.dense({
    ...(first ? { inputShape: options.inputShape } : {}),
    units: options.classes ?? 10,
    kernelInitializer: init.glorot(),
  }));
  return model;
}
