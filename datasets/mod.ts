/**
 * Data sets for fisherlab: loaders (MNIST, Fashion-MNIST, CIFAR, synthetic),
 * label noise, augmentation, subsets and mini-batches.
 *
 * @module
 */
export * from "./types.ts";
export * from "./create_dataset.ts";
export * from "./idx.ts";
export * from "./mnist.ts";
export * from "./augmentation.ts";
export * from "./batches.ts";
export * from "./fashion_mnist.ts";
export * from "./cifar.ts";
export * from "./label_noise.ts";
export * from "./random_crop.ts";
export * from "./horizontal_flip.ts";
export * from "./normalize.ts";
export * from "./subsets.ts";
export * from "./gaussian_mixture.ts";
export * from "./teacher_student.ts";
