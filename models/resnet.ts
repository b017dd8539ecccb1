import { type LayersModel, tfl } from "../core/tf.ts";
import { SeededInit } from "./init.ts";

/** Options for {@linkcode resnet}. */
export interface ResnetOptions {
  /** Shape of one input image. Default [32, 32, 3]. */
  inputShape?: number[];
  /** Number of classes. Default 10. */
  classes?: number;
  /** Residual blocks in each of the three stages. Default 1 (a ResNet-8). */
  blocksPerStage?: number;
  /** Width of the first stage; doubled at each later stage. Default 16. */
  width?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
}

type SymbolicTensor = ReturnType<typeof tfl.input>;

/**
 * A small CIFAR-style ResNet (He et al., 2016) with batch norm: a 3x3 stem,
 * three stages of basic blocks (the later two downsample by 2 with a 1x1
 * projection shortcut), global average pooling and a dense layer. Depth is
 * 6 * blocksPerStage + 2.
 */
export function resnet(options: ResnetOptions = {}): LayersModel {
  const init = new SeededInit(options.seed ?? 0);
  const width = options.width ?? 16;
  const blocks = options.blocksPerStage ?? 1;

  const conv = (x: SymbolicTensor, filters: number, strides: number) =>
    tfl.layers.conv2d({
      filters,
      kernelSize: 3,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: init.he(),
    }).apply(x) as SymbolicTensor;
  const bn = (x: SymbolicTensor) =>
    tfl.layers.batchNormalization().apply(x) as SymbolicTensor;
  const relu = (x: SymbolicTensor) =>
    tfl.layers.reLU().apply(x) as SymbolicTensor;

  const input = tfl.input({ shape: options.inputShape ?? [32, 32, 3] });
  let x = relu(bn(conv(input, width, 1)));
  for (let stage = 0; stage < 3; stage++) {
    const filters = width * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      const strides = stage > 0 && b === 0 ? 2 : 1;
      let shortcut = x;
      if (strides !== 1) {
        shortcut = bn(
          tfl.layers.conv2d({
            filters,
            kernelSize: 1,
            strides,
            useBias: false,
            kernelInitializer: init.he(),
          }).apply(x) as SymbolicTensor,
        );
      }
      const y = bn(conv(relu(bn(conv(x, filters, strides))), filters, 1));
      x = relu(tfl.layers.add().apply([y, shortcut]) as SymbolicTensor);
    }
  }
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(x);
  const logits = tfl.layers.dense({
    units: options.classes ?? 10,
    kernelInitializer: init.glorot(),
  }).apply(pooled) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits, name: "resnet" });
}
