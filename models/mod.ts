/**
 * The model zoo. Every model outputs logits and takes a seed for its
 * initial weights; any tfjs-layers model a user builds works the same way.
 *
 * @module
 */
export { mlp, type MlpOptions } from "./mlp.ts";
export { simpleCnn, type SimpleCnnOptions } from "./simple_cnn.ts";
export { vgg, VGG11, type VggOptions } from "./vgg.ts";
export { resnet, type ResnetOptions } from "./resnet.ts";
export { SeededInit } from "./init.ts";
